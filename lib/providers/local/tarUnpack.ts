import { createWriteStream } from 'node:fs';
import { lstat, mkdir, stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { RestoreDrillError } from '../../errors.ts';
import { BrokenBackupError } from './errors.ts';
import { verifyBackupFiles, type FilesVerification } from './manifest.ts';
import type { TarBackup } from './tarBackup.ts';
import { readEntries, walEntryProblem, type TarEntry } from './tarEntries.ts';
import type { TarFile, TarLayout } from './tarFiles.ts';

/**
 * The unpacked data folder against the backup_manifest beside the tars, by pg_verifybackup (-m) when
 * given, else by our reader; the summary names the format the files came in.
 */
export async function verifyUnpackedTar(backupPath: string, tar: TarBackup, dataDir: string, pgVerifybackup: string | undefined): Promise<FilesVerification> {
  const verified = await verifyBackupFiles(dataDir, { pgVerifybackup, manifestPath: join(backupPath, 'backup_manifest') });
  return { ...verified, summary: `${verified.summary}, once unpacked from ${tar.format}` };
}

/**
 * Unpacks a tar-format base backup into a copy's data folder (which must exist, empty): base.tar
 * into it, pg_wal.tar into its pg_wal. Only ever below that folder: every entry is checked before
 * anything of it is written (tarEntries.ts), folders are made one level at a time and never through a
 * link, files are created exclusively (an existing path, a link included, is never written through),
 * and the folder itself is never created here, so once a removal has taken it nothing comes back.
 */
export async function unpackTarBackup(layout: TarLayout, backup: string, dataDir: string, options: UnpackOptions = {}): Promise<{ files: number; bytes: number }> {
  const totals = { files: 0, bytes: 0 };
  const segmentSize = options.segmentSize ?? LARGEST_SEGMENT;
  const unpack: Unpack = {
    backup,
    totals,
    signal: options.signal,
    segmentSize,
    space: new SpaceBudget(dataDir, options.reserveBytes ?? 4 * segmentSize + 16 * MB),
  };
  await unpackInto(layout.base, dataDir, 'base', unpack);
  if (layout.wal) {
    await ensureFolder(dataDir, 'pg_wal');
    await unpackInto(layout.wal, join(dataDir, 'pg_wal'), 'pg_wal', unpack);
  }
  // pg_basebackup writes global/pg_control last (only WAL comes after it): a tar cut at an entry's edge still lacks it.
  if (!(await stat(join(dataDir, 'global', 'pg_control')).then((info) => info.isFile(), () => false))) {
    throw new BrokenBackupError(
      `base backup ${backup}: ${layout.base.name} (${layout.base.path}) has no global/pg_control, which pg_basebackup writes at its end: ` +
        'the file is cut short. Take a new base backup (or copy this one again from where it is kept)',
      backup,
    );
  }
  // -X none leaves no pg_wal in the tar; the server needs the folder to start.
  await ensureFolder(dataDir, 'pg_wal');
  return totals;
}

/** Files up to this size are read whole and written while the parser goes on (most of a data folder is 8 KB pages). */
const SMALL_FILE = 1 << 20;
const WRITES_IN_FLIGHT = 16;

export interface UnpackOptions {
  signal?: AbortSignal | undefined;
  /** The cluster's WAL segment size: no file under pg_wal may be bigger. @default 1 GB, the largest Postgres allows */
  segmentSize?: number | undefined;
  /** What must stay free on the copy's disk once unpacked (replay writes WAL). @default 4 segments and 16 MB */
  reserveBytes?: number | undefined;
}

const MB = 1024 * 1024;
const LARGEST_SEGMENT = 1024 * MB;

interface Unpack {
  backup: string;
  totals: { files: number; bytes: number };
  signal: AbortSignal | undefined;
  segmentSize: number;
  space: SpaceBudget;
}

/**
 * The free space an unpack may still take, counted from each entry's header before it is written. The
 * free-space check before a copy counts the manifest's files, but WAL in the tar is not in the manifest,
 * and a compressed tar may hold far more than it weighs: this stops the unpack with the disk not yet full.
 */
class SpaceBudget {
  private left: number | undefined;
  private readonly dir: string;
  readonly reserve: number;

  constructor(dir: string, reserve: number) {
    this.dir = dir;
    this.reserve = reserve;
  }

  async take(bytes: number, file: TarFile, path: string): Promise<void> {
    // Measured once, as the unpack begins: what it writes is then counted, not read back from a disk others share.
    if (this.left === undefined) {
      const disk = await statfs(this.dir);
      this.left = disk.bavail * disk.bsize - this.reserve;
    }
    if (bytes > this.left) {
      throw new RestoreDrillError(
        'tool',
        `not enough free space in ${this.dir}: unpacking ${file.name}, the entry ${JSON.stringify(path)} (${bytes} bytes) would leave less than ` +
          `${Math.ceil(this.reserve / MB)} MB free; it stopped before writing it. Free space there, or set RESTORE_DRILL_SCRATCH to a bigger disk`,
      );
    }
    this.left -= bytes;
  }
}

/** Unpacks one tar below root: base.tar into the data folder (its pg_wal/ entries checked as WAL), pg_wal.tar into pg_wal. */
async function unpackInto(file: TarFile, root: string, kind: 'base' | 'pg_wal', unpack: Unpack): Promise<void> {
  const { backup, totals, signal } = unpack;
  const made = new Set<string>(['']);
  const writing = new Set<Promise<void>>();
  let failed: unknown;
  const twice = (path: string) =>
    new BrokenBackupError(
      `base backup ${backup}: ${file.name} holds ${JSON.stringify(path)} twice (or over a folder); pg_basebackup writes each file once, so ${file.path} is not as it wrote it`,
      backup,
    );
  const named = (error: unknown, path: string): unknown => {
    // Said as the copy's cp says it, so that the engine names a full disk as such.
    if ((error as NodeJS.ErrnoException).code === 'ENOSPC') return new Error(`No space left on device, unpacking ${file.name}: ${path}`);
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return twice(path);
    return error;
  };
  // What the tar has named so far: a name used twice is refused from the names alone, before the file system
  // sees it, since a small file's write may land before or after a folder of the same name is made.
  const seen = new Map<string, TarEntry['type']>();
  const sameName = (entry: TarEntry): string | undefined => {
    const parts = entry.path.split('/');
    for (let depth = 1; depth < parts.length; depth++) {
      const parent = parts.slice(0, depth).join('/');
      if (seen.get(parent) === 'file') return parent;
    }
    const earlier = seen.get(entry.path);
    if (earlier === 'file' || (earlier === 'directory' && entry.type === 'file')) return entry.path;
    seen.set(entry.path, entry.type);
    return undefined;
  };
  const underWal = (path: string): string | undefined => (kind === 'pg_wal' ? path : path === 'pg_wal' ? '' : path.startsWith('pg_wal/') ? path.slice('pg_wal/'.length) : undefined);
  try {
    await readEntries(
      file,
      async (entry: TarEntry) => {
        signal?.throwIfAborted();
        if (failed) throw failed;
        const wal = underWal(entry.path);
        const walProblem = wal === undefined ? undefined : walEntryProblem(wal, entry.type, entry.size, unpack.segmentSize);
        if (walProblem) {
          throw new BrokenBackupError(
            `base backup ${backup}: ${file.name} holds the entry ${JSON.stringify(entry.path)} under pg_wal, which ${walProblem}; ` +
              `pg_basebackup writes only WAL there, so ${file.path} is not as it wrote it, and restore-drill refuses it before writing it`,
            backup,
          );
        }
        const reused = sameName(entry);
        if (reused !== undefined) throw twice(reused);
        if (entry.type === 'file') await unpack.space.take(entry.size, file, entry.path);
        const parent = entry.path.includes('/') ? entry.path.slice(0, entry.path.lastIndexOf('/')) : '';
        await ensureFolder(root, parent, made);
        if (entry.type === 'directory') {
          await ensureFolder(root, entry.path, made);
          return;
        }
        const target = join(root, entry.path);
        totals.files += 1;
        totals.bytes += entry.size;
        // 'wx': O_CREAT|O_EXCL, which never follows a link nor overwrites anything already there.
        if (entry.size > SMALL_FILE) {
          await pipeline(entry.body as AsyncIterable<Buffer>, createWriteStream(target, { flags: 'wx', mode: 0o600 }), { signal }).catch((error: unknown) => {
            throw named(error, entry.path);
          });
          return;
        }
        const chunks: Buffer[] = [];
        for await (const chunk of entry.body) chunks.push(chunk as Buffer);
        const write: Promise<void> = writeFile(target, Buffer.concat(chunks), { flag: 'wx', mode: 0o600 })
          .catch((error: unknown) => {
            failed ??= named(error, entry.path);
          })
          .finally(() => writing.delete(write));
        writing.add(write);
        if (writing.size >= WRITES_IN_FLIGHT) await Promise.race(writing);
      },
      { backup, signal },
    );
  } finally {
    await Promise.all(writing);
  }
  if (failed) throw failed;
}

/** Makes root/relative one level at a time (mode 0700), each level a real folder of ours, never a link; root must exist. */
async function ensureFolder(root: string, relative: string, made: Set<string> = new Set()): Promise<void> {
  if (made.has(relative)) return;
  let path = '';
  for (const part of relative.split('/').filter(Boolean)) {
    path = path ? `${path}/${part}` : part;
    if (made.has(path)) continue;
    const full = join(root, path);
    await mkdir(full, { mode: 0o700 }).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
      const info = await lstat(full);
      if (!info.isDirectory()) throw new Error(`${full} exists and is not a folder: a tar entry may not be unpacked through it`);
    });
    made.add(path);
  }
}
