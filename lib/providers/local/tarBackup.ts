import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseLabelTime } from './labelTime.ts';
import { lastSetting, parseConf } from './postgresConf.ts';
import { readMembers } from './tarEntries.ts';
import { describeTarFormat, findTarLayout, type TarLayout } from './tarFiles.ts';

/** What a BaseBackup carries of a tar-format backup. */
export interface TarBackup {
  layout: TarLayout;
  /** "tar format, gzip-compressed: base.tar.gz and pg_wal.tar", for reports. */
  format: string;
  /** About what the data folder weighs once unpacked (the manifest's files, else the tars' own size). */
  unpackedBytes: number;
}

export interface TarBackupHead {
  label: string;
  pgMajor: number;
  /** Tablespaces: <oid>.tar files beside base.tar, and the lines of its tablespace_map. */
  tablespaces: string[];
  tar: TarBackup;
  /** The label's START TIME and the history's STOP TIME as instants (reading the log time zone from the tar only when the label's zone needs it). */
  times(start: string | undefined, stop: string | undefined): Promise<{ start: Date | undefined; stop: Date | undefined }>;
}

const LABEL = 'backup_label';
const MAP = 'tablespace_map';
const VERSION = 'PG_VERSION';

/**
 * Reads what planning needs from the start of base.tar, where pg_basebackup puts backup_label and
 * tablespace_map (its first two entries); PG_VERSION follows soon after. Nothing is unpacked.
 */
export async function readTarBackupHead(backup: string, layout: TarLayout): Promise<TarBackupHead> {
  // tablespace_map, when there is one, comes right after backup_label: looked for in the first entries only.
  const head = await readMembers(layout.base, [LABEL, MAP, VERSION], {
    backup,
    enough: (found, seen) => found.has(LABEL) && found.has(VERSION) && (found.has(MAP) || seen > 2),
  });
  const label = head.get(LABEL);
  if (!label) throw new Error(`${layout.base.name} holds no backup_label (pg_basebackup writes it first): it is not a base backup made by pg_basebackup -Ft`);
  const version = head.get(VERSION)?.toString('utf8').trim();
  if (!version || !/^\d+$/.test(version)) throw new Error(`${layout.base.name} holds no PG_VERSION: it is not the data folder of a Postgres cluster`);
  const mapped = (head.get(MAP)?.toString('utf8') ?? '')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [oid, ...location] = line.split(' ');
      return `${oid} (was ${location.join(' ')})`;
    });
  const tablespaces = [...layout.tablespaces.map((file) => file.name), ...mapped];
  return {
    label: label.toString('utf8'),
    pgMajor: Number(version),
    tablespaces,
    tar: { layout, format: describeTarFormat(layout), unpackedBytes: layout.base.bytes + (layout.wal?.bytes ?? 0) },
    times: async (start, stop) => {
      const parse = (zone: string | undefined) => ({ start: start ? parseLabelTime(start, zone) : undefined, stop: stop ? parseLabelTime(stop, zone) : undefined });
      try {
        return parse(undefined);
      } catch {
        // A zone abbreviation that names no single offset: the source's log_timezone tells, from its config in the tar.
        return parse(await logTimezoneIn(backup, layout));
      }
    },
  };
}

/** A backup folder's backup_label: the file (plain format), or read off the start of its base.tar (tar format). */
export async function backupLabelOf(folder: string): Promise<string | undefined> {
  const plain = await readFile(join(folder, LABEL), 'utf8').catch(() => undefined);
  if (plain !== undefined) return plain;
  const layout = await findTarLayout(folder);
  if (!layout) return undefined;
  const head = await readMembers(layout.base, [LABEL], { backup: basename(folder), enough: (found, seen) => found.has(LABEL) || seen > 2 }).catch(() => undefined);
  return head?.get(LABEL)?.toString('utf8');
}

async function logTimezoneIn(backup: string, layout: TarLayout): Promise<string | undefined> {
  const confs = await readMembers(layout.base, ['postgresql.conf', 'postgresql.auto.conf'], { backup });
  let zone: string | undefined;
  for (const file of ['postgresql.conf', 'postgresql.auto.conf']) {
    const text = confs.get(file)?.toString('utf8');
    if (text) zone = lastSetting(parseConf(text).settings, 'log_timezone') ?? zone;
  }
  return zone;
}
