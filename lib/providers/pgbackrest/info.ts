import { NoBaseBackupError, RestoreDrillError } from '../../errors.ts';
import { parseLsn } from '../local/wal/lsn.ts';
import { runPgbackrest, saidBy, type PgbackrestSource } from './command.ts';

/** One backup set of the repository, as `pgbackrest info --output=json` describes it. */
export interface RepoBackup {
  label: string;
  type: 'full' | 'diff' | 'incr';
  /** The backup a diff or incr is taken against. */
  prior: string | null;
  startTime: Date;
  /** Whole seconds: pgBackRest records the time pg_backup_stop() returned. */
  stopTime: Date;
  startLsn: number;
  stopLsn: number;
  /** The WAL segments the backup needs to be consistent. */
  archiveStart: string;
  archiveStop: string;
  timeline: number;
  pgMajor: number;
  /** The archive this backup's WAL lives in (15-1: the Postgres version and the stanza's database history id). */
  archiveId: string;
  /** Set when pgBackRest found page checksum errors while it took the backup. */
  error: boolean;
  sizeBytes: number;
}

export interface RepoArchive {
  id: string;
  databaseId: number;
  min: string | null;
  max: string | null;
}

export interface StanzaInfo {
  stanza: string;
  repo: number;
  cipher: string;
  backups: RepoBackup[];
  archives: RepoArchive[];
}

interface RawStanza {
  name: string;
  status: { code: number; message: string };
  cipher?: string;
  db?: { id: number; 'repo-key': number; version: string }[];
  archive?: { id: string; min: string | null; max: string | null; database: { id: number; 'repo-key': number } }[];
  backup?: {
    label: string;
    type: 'full' | 'diff' | 'incr';
    prior: string | null;
    error?: boolean;
    timestamp: { start: number; stop: number };
    lsn?: { start: string; stop: string };
    archive: { start: string | null; stop: string | null };
    database: { id: number; 'repo-key': number };
    info?: { size?: number };
  }[];
  repo?: { key: number; cipher: string; status: { code: number; message: string } }[];
}

/** Status codes of `pgbackrest info` that still describe a readable stanza (6: a backup or expire is running). */
const READABLE = new Set([0, 2, 6]);

/** Reads `pgbackrest info --output=json` for the stanza and repository. */
export async function readStanzaInfo(source: PgbackrestSource, workDir: string): Promise<StanzaInfo> {
  const result = await runPgbackrest(source, 'info', { workDir, options: ['--output=json'] });
  if (result.code !== 0) {
    throw new RestoreDrillError('backup', `pgbackrest info for stanza ${source.stanza} (repo${source.repo}) failed: ${saidBy(result)}`);
  }
  return parseStanzaInfo(result.stdout, source);
}

export function parseStanzaInfo(json: string, source: Pick<PgbackrestSource, 'stanza' | 'repo' | 'config'>): StanzaInfo {
  let stanzas: RawStanza[];
  try {
    // A file pgBackRest could not decrypt is quoted raw in its status message: control bytes that JSON refuses.
    stanzas = JSON.parse(json.replace(/[\u0000-\u001f]/g, ' ')) as RawStanza[];
  } catch (error) {
    throw new RestoreDrillError('tool', `pgbackrest info printed something that is not JSON: ${(error as Error).message}`);
  }
  const where = `stanza ${source.stanza} (repo${source.repo}${source.config ? `, config ${source.config}` : ''})`;
  const stanza = stanzas.find((entry) => entry.name === source.stanza);
  if (!stanza) throw new NoBaseBackupError(`pgbackrest info does not know ${where}: check provider.stanza and provider.config`);
  const repoStatus = stanza.repo?.find((repo) => repo.key === source.repo)?.status ?? stanza.status;
  if (!READABLE.has(repoStatus.code)) {
    const cipher = stanza.repo?.find((repo) => repo.key === source.repo)?.cipher ?? stanza.cipher ?? 'none';
    // Its first line: what follows quotes the undecryptable bytes.
    const message = repoStatus.message.split(/[\n:]\s*FormatError:/)[0]!.trim();
    const hint =
      cipher !== 'none' && /FormatError|unable to load info file/.test(repoStatus.message)
        ? `the repository is encrypted (${cipher}) and its info files do not decrypt: the cipher passphrase is most likely wrong (provider.repoCipherPass, or PGBACKREST_REPO${source.repo}_CIPHER_PASS)`
        : 'run pgbackrest check and pgbackrest info on the backup host';
    throw new NoBaseBackupError(`pgBackRest says ${where}: ${message} (status ${repoStatus.code}); ${hint}`);
  }
  const versionOf = (id: number, repoKey: number) => stanza.db?.find((db) => db.id === id && db['repo-key'] === repoKey)?.version;
  const backups: RepoBackup[] = [];
  for (const raw of stanza.backup ?? []) {
    if (raw.database['repo-key'] !== source.repo) continue;
    // A backup still running, or from before pgBackRest recorded WAL ranges, cannot be restored to a point in time.
    if (!raw.lsn || !raw.archive.start || !raw.archive.stop) continue;
    const version = versionOf(raw.database.id, raw.database['repo-key']) ?? '0';
    backups.push({
      label: raw.label,
      type: raw.type,
      prior: raw.prior,
      startTime: new Date(raw.timestamp.start * 1000),
      stopTime: new Date(raw.timestamp.stop * 1000),
      startLsn: parseLsn(raw.lsn.start),
      stopLsn: parseLsn(raw.lsn.stop),
      archiveStart: raw.archive.start,
      archiveStop: raw.archive.stop,
      timeline: parseInt(raw.archive.start.slice(0, 8), 16),
      pgMajor: Number(version.split('.')[0]),
      archiveId: `${version}-${raw.database.id}`,
      error: raw.error === true,
      sizeBytes: raw.info?.size ?? 0,
    });
  }
  backups.sort((a, b) => a.stopLsn - b.stopLsn);
  const archives = (stanza.archive ?? [])
    .filter((archive) => archive.database['repo-key'] === source.repo)
    .map((archive) => ({ id: archive.id, databaseId: archive.database.id, min: archive.min, max: archive.max }));
  return { stanza: source.stanza, repo: source.repo, cipher: stanza.repo?.find((repo) => repo.key === source.repo)?.cipher ?? stanza.cipher ?? 'none', backups, archives };
}

/** How a report names a backup set: its label, type, what it is taken against, and when it stopped. */
export function describeBackup(backup: RepoBackup, repo: number): string {
  const against = backup.prior ? ` against ${backup.prior}` : '';
  return `${backup.label} (${backup.type}${against}, stopped ${backup.stopTime.toISOString()}, repo${repo})`;
}
