import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { NoBaseBackupError } from '../../errors.ts';
import { parseLabelTime } from './labelTime.ts';
import { lastSetting, parseConf } from './postgresConf.ts';
import { labelLsn, listWalFolder, parseLabelFile, readWalFile, type ArchiveListing } from './wal/archive.ts';

/** A base backup made by pg_basebackup (plain format) or the low-level backup API. */
export interface BaseBackup {
  name: string;
  path: string;
  pgMajor: number;
  timeline: number;
  startLsn: number;
  /** Where the backup's WAL range ends; recovery must replay at least this far. */
  stopLsn: number | undefined;
  startTime: Date | undefined;
  /** From the archive's backup history file; whole seconds in the source's log time zone. */
  stopTime: Date | undefined;
  /** WAL segments the backup carries itself in pg_wal (pg_basebackup -X fetch/stream). */
  ownWal: ArchiveListing | undefined;
  /** Entries of pg_tblspc: tablespaces outside the data folder. */
  tablespaces: string[];
  pgWalIsLink: boolean;
}

/** The base backups in `dir`: its subfolders that hold a backup_label, or `dir` itself when it does. */
export async function listBaseBackups(dir: string, archive: ArchiveListing): Promise<BaseBackup[]> {
  const candidates = (await isBackup(dir))
    ? [dir]
    : (await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
        throw new NoBaseBackupError(`cannot read the base backups folder ${dir}: ${error.code ?? error.message}`);
      }))
        .filter((entry) => entry.isDirectory())
        .map((entry) => join(dir, entry.name));
  const backups: BaseBackup[] = [];
  for (const path of candidates) {
    if (await isBackup(path)) backups.push(await readBackup(path, archive));
  }
  if (backups.length === 0) {
    throw new NoBaseBackupError(
      `no base backup in ${dir}: expected folders made by "pg_basebackup -Fp" (or the low-level backup API), each holding a backup_label`,
    );
  }
  return backups.sort((a, b) => a.startLsn - b.startLsn);
}

async function isBackup(path: string): Promise<boolean> {
  return stat(join(path, 'backup_label')).then(
    (info) => info.isFile(),
    () => false,
  );
}

async function readBackup(path: string, archive: ArchiveListing): Promise<BaseBackup> {
  const label = parseLabelFile(await readFile(join(path, 'backup_label'), 'utf8'));
  const startLsn = labelLsn(label.get('START WAL LOCATION'));
  if (startLsn === undefined) throw new NoBaseBackupError(`${path}/backup_label has no START WAL LOCATION`);
  const pgMajor = Number((await readFile(join(path, 'PG_VERSION'), 'utf8')).trim());
  const zone = await logTimezone(path);

  const history = await findBackupHistory(archive, label.get('START WAL LOCATION')!);
  const stopLsn = labelLsn(history?.get('STOP WAL LOCATION')) ?? (await manifestEndLsn(path));
  const timeOf = (value: string | undefined) => (value ? parseLabelTime(value, zone) : undefined);

  const pgWal = join(path, 'pg_wal');
  const pgWalInfo = await lstat(pgWal).catch(() => undefined);
  const ownWal = pgWalInfo?.isDirectory() ? await listWalFolder(pgWal) : undefined;
  const tablespaces = await readdir(join(path, 'pg_tblspc')).catch(() => []);

  return {
    name: path.split('/').at(-1)!,
    path,
    pgMajor,
    timeline: Number(label.get('START TIMELINE') ?? 1),
    startLsn,
    stopLsn,
    startTime: timeOf(label.get('START TIME')),
    stopTime: timeOf(history?.get('STOP TIME')),
    ownWal: ownWal && ownWal.segments.size > 0 ? ownWal : undefined,
    tablespaces,
    pgWalIsLink: pgWalInfo?.isSymbolicLink() ?? false,
  };
}

async function findBackupHistory(archive: ArchiveListing, startLocation: string) {
  const startLsnText = startLocation.split(' ')[0];
  for (const file of archive.backupHistories) {
    const fields = parseLabelFile((await readWalFile(file)).toString('utf8'));
    if (fields.get('START WAL LOCATION')?.split(' ')[0] === startLsnText) return fields;
  }
  return undefined;
}

async function manifestEndLsn(path: string): Promise<number | undefined> {
  const text = await readFile(join(path, 'backup_manifest'), 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const ranges = (JSON.parse(text) as { 'WAL-Ranges'?: { 'End-LSN': string }[] })['WAL-Ranges'] ?? [];
  return labelLsn(ranges.at(-1)?.['End-LSN']);
}

async function logTimezone(path: string): Promise<string | undefined> {
  let zone: string | undefined;
  for (const file of ['postgresql.conf', 'postgresql.auto.conf']) {
    const text = await readFile(join(path, file), 'utf8').catch(() => undefined);
    if (text) zone = lastSetting(parseConf(text).settings, 'log_timezone') ?? zone;
  }
  return zone;
}
