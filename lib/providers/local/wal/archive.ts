import { readdir, readFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { isSegmentName, parseLsn, parseSegmentName } from './lsn.ts';
import { segmentSizeOf } from './reader.ts';

/** One place a WAL file can be read from: the archive, or a base backup's own pg_wal. */
export interface WalFile {
  name: string;
  path: string;
  gzip: boolean;
}

export interface ArchiveListing {
  dir: string;
  segments: Map<string, WalFile>;
  histories: Map<number, WalFile>;
  backupHistories: WalFile[];
}

const GZ = '.gz';

/** Lists a WAL archive folder: segments (plain or .gz), timeline histories and backup history files. */
export async function listWalFolder(dir: string): Promise<ArchiveListing> {
  const listing: ArchiveListing = { dir, segments: new Map(), histories: new Map(), backupHistories: [] };
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const gzip = entry.name.endsWith(GZ);
    const name = gzip ? entry.name.slice(0, -GZ.length) : entry.name;
    const file: WalFile = { name, path: join(dir, entry.name), gzip };
    if (isSegmentName(name)) {
      if (!listing.segments.has(name) || !gzip) listing.segments.set(name, file);
    } else if (/^[0-9A-F]{8}\.history$/.test(name)) {
      listing.histories.set(parseInt(name.slice(0, 8), 16), file);
    } else if (/^[0-9A-F]{24}\.[0-9A-F]{8}\.backup$/.test(name)) {
      listing.backupHistories.push(file);
    }
  }
  return listing;
}

export async function readWalFile(file: WalFile): Promise<Buffer> {
  const raw = await readFile(file.path);
  return file.gzip ? gunzipSync(raw) : raw;
}

/** The WAL segment size, read from the first page of any segment (plain files need only 40 bytes). */
export async function readSegmentSize(file: WalFile): Promise<number> {
  if (file.gzip) return segmentSizeOf(await readWalFile(file));
  const handle = await open(file.path, 'r');
  try {
    const head = Buffer.alloc(40);
    await handle.read(head, 0, 40, 0);
    return segmentSizeOf(head);
  } finally {
    await handle.close();
  }
}

/** `KEY: value` lines, as in backup_label and backup history files. */
export function parseLabelFile(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return fields;
}

/** `START WAL LOCATION: 0/2000028 (file 000000010000000000000002)` to the LSN. */
export function labelLsn(value: string | undefined): number | undefined {
  const lsn = value?.split(' ')[0];
  return lsn ? parseLsn(lsn) : undefined;
}

export interface TimelineSwitch {
  timeline: number;
  /** The LSN at which this timeline ended and its child began. */
  switchLsn: number;
}

/** A timeline history file: each ancestor timeline and where it ended. */
export function parseTimelineHistory(text: string): TimelineSwitch[] {
  const switches: TimelineSwitch[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const [timeline, lsn] = trimmed.split(/\s+/);
    if (timeline && lsn) switches.push({ timeline: Number(timeline), switchLsn: parseLsn(lsn) });
  }
  return switches;
}

export function segmentIdOf(file: WalFile, segmentSize: number) {
  return parseSegmentName(file.name, segmentSize);
}
