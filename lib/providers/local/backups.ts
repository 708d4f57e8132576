import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { EnvironmentError, NoBaseBackupError } from '../../errors.ts';
import { parseLabelTime } from './labelTime.ts';
import { readTarBackupHead, type TarBackup } from './tarBackup.ts';
import { findTarLayout } from './tarFiles.ts';
import { ownWalOf } from './tarWal.ts';
import { lastSetting, parseConf } from './postgresConf.ts';
import { labelLsn, listWalFolder, parseLabelFile, readWalFile, type ArchiveListing } from './wal/archive.ts';

/** A base backup made by pg_basebackup (plain or tar format) or the low-level backup API. */
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
  /** Set for a tar-format backup (pg_basebackup -Ft): its tar files, unpacked only into a copy's folder. */
  tar?: TarBackup | undefined;
}

/** A folder that looks like a base backup (it holds PG_VERSION) but cannot be restored from. */
export interface UnusableBackup {
  name: string;
  path: string;
  reason: string;
  /** Where it starts, from its backup_manifest or pg_control; undefined when neither tells. */
  startLsn: number | undefined;
}

export interface BackupListing {
  backups: BaseBackup[];
  unusable: UnusableBackup[];
}

/**
 * The base backups in `dir`: its subfolders that hold a backup_label (plain format) or a base.tar
 * (tar format, of any compression), or `dir` itself when it does.
 * A subfolder with a PG_VERSION but no backup_label is a backup that cannot be used (a copy of a data
 * folder without its label restores as a crash, not as a backup): it is listed as unusable, never
 * skipped in silence.
 */
export async function listBaseBackups(dir: string, archive: ArchiveListing): Promise<BackupListing> {
  const candidates = (await isBackup(dir))
    ? [dir]
    : (await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
        throw new NoBaseBackupError(`cannot read the base backups folder ${dir}: ${error.code ?? error.message}`);
      }))
        .filter((entry) => entry.isDirectory())
        .map((entry) => join(dir, entry.name));
  const backups: BaseBackup[] = [];
  const unusable: UnusableBackup[] = [];
  for (const path of candidates) {
    const tar = await findTarLayout(path);
    if (tar) {
      const read = await readTarBackup(path, archive, tar);
      if ('reason' in read) unusable.push(read);
      else backups.push(read);
    } else if (await isBackup(path)) backups.push(await readBackup(path, archive));
    else if (await isFile(join(path, 'PG_VERSION'))) {
      unusable.push({ name: basename(path), path, reason: 'it has no backup_label', startLsn: (await manifestStartLsn(path)) ?? (await controlCheckpointLsn(path)) });
    }
  }
  if (backups.length === 0 && unusable.length === 0 && (await isFile(join(dir, 'PG_VERSION')))) {
    unusable.push({ name: basename(dir), path: dir, reason: 'it has no backup_label', startLsn: undefined });
  }
  if (backups.length === 0) {
    const broken = unusable.map((backup) => `; ${backup.name}: ${backup.reason}`).join('');
    throw new NoBaseBackupError(
      `no base backup in ${dir}: expected folders made by "pg_basebackup -Fp" (each holding a backup_label; or by the low-level backup API) ` +
        `or by "pg_basebackup -Ft" (each holding a base.tar, base.tar.gz, .lz4 or .zst)${broken}`,
    );
  }
  return { backups: backups.sort((a, b) => a.startLsn - b.startLsn), unusable };
}

async function isBackup(path: string): Promise<boolean> {
  return (await isFile(join(path, 'backup_label'))) || (await findTarLayout(path)) !== undefined;
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (info) => info.isFile(),
    () => false,
  );
}

async function manifestStartLsn(path: string): Promise<number | undefined> {
  const text = await readFile(join(path, 'backup_manifest'), 'utf8').catch(() => undefined);
  try {
    const ranges = text ? ((JSON.parse(text) as { 'WAL-Ranges'?: { 'Start-LSN': string }[] })['WAL-Ranges'] ?? []) : [];
    return labelLsn(ranges[0]?.['Start-LSN']);
  } catch {
    return undefined;
  }
}

/** pg_control's checkpoint location (offset 32 since PostgreSQL 9.6: system id, versions, state, time, then checkPoint). */
async function controlCheckpointLsn(path: string): Promise<number | undefined> {
  const control = await readFile(join(path, 'global', 'pg_control')).catch(() => undefined);
  if (!control || control.length < 40) return undefined;
  return Number(control.readBigUInt64LE(32));
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

/**
 * A tar-format backup, read without unpacking it: backup_label, tablespace_map and PG_VERSION from the
 * start of base.tar (pg_basebackup writes the label first), where it ends from the archive's backup
 * history file or the backup_manifest beside the tars. A tar that cannot be read is listed as unusable.
 */
async function readTarBackup(path: string, archive: ArchiveListing, layout: Parameters<typeof readTarBackupHead>[1]): Promise<BaseBackup | UnusableBackup> {
  const name = basename(path);
  const head = await readTarBackupHead(name, layout).catch((error: unknown) => {
    if (error instanceof EnvironmentError) throw error;
    return { reason: (error as Error).message };
  });
  if ('reason' in head) return { name, path, reason: head.reason, startLsn: await manifestStartLsn(path) };
  const label = parseLabelFile(head.label);
  const startLsn = labelLsn(label.get('START WAL LOCATION'));
  if (startLsn === undefined) return { name, path, reason: `the backup_label in ${layout.base.name} has no START WAL LOCATION`, startLsn: await manifestStartLsn(path) };
  const history = await findBackupHistory(archive, label.get('START WAL LOCATION')!);
  const stopLsn = labelLsn(history?.get('STOP WAL LOCATION')) ?? (await manifestEndLsn(path));
  const times = await head.times(label.get('START TIME'), history?.get('STOP TIME'));
  return {
    name,
    path,
    pgMajor: head.pgMajor,
    timeline: Number(label.get('START TIMELINE') ?? 1),
    startLsn,
    stopLsn,
    startTime: times.start,
    stopTime: times.stop,
    // pg_wal.tar (-X stream) serves planning where the archive lacks a segment; WAL inside base.tar (-X fetch) only the copy.
    ownWal: layout.wal ? await ownWalOf(name, layout.wal) : undefined,
    tablespaces: head.tablespaces,
    pgWalIsLink: false,
    tar: { ...head.tar, unpackedBytes: Math.max(head.tar.unpackedBytes, (await manifestBytes(path)) + (layout.wal?.bytes ?? 0)) },
  };
}

/** The bytes of the files a backup_manifest lists: what the data folder weighs once unpacked. */
async function manifestBytes(path: string): Promise<number> {
  const text = await readFile(join(path, 'backup_manifest'), 'utf8').catch(() => undefined);
  try {
    const files = text ? ((JSON.parse(text) as { Files?: { Size?: number }[] }).Files ?? []) : [];
    return files.reduce((sum, file) => sum + (typeof file.Size === 'number' ? file.Size : 0), 0);
  } catch {
    return 0;
  }
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
