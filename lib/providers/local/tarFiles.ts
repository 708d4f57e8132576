import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { constants, createGunzip, createZstdDecompress } from 'node:zlib';
import { EnvironmentError } from '../../errors.ts';

/**
 * The files of a tar-format base backup as `pg_basebackup -Ft` writes them into its folder: base.tar
 * (the data folder), pg_wal.tar (-X stream), one <tablespace oid>.tar per tablespace, each plain or
 * compressed (-z / --compress=gzip: .gz, lz4: .lz4, zstd: .zst, whether the client or the server
 * compressed it), and backup_manifest beside them.
 */
export type TarCompression = 'none' | 'gzip' | 'lz4' | 'zstd';

export interface TarFile {
  /** The file's name in the backup folder: base.tar.gz. */
  name: string;
  path: string;
  compression: TarCompression;
  /** Its size on disk (compressed). */
  bytes: number;
}

export interface TarLayout {
  base: TarFile;
  /** pg_wal.tar (-X stream); with -X fetch the WAL is inside base.tar, under pg_wal/. */
  wal: TarFile | undefined;
  /** <oid>.tar files: tablespaces outside the data folder. */
  tablespaces: TarFile[];
}

/** Bytes read, decompressed and parsed at a time. */
const CHUNK = 1 << 20;
const SUFFIXES: Record<string, TarCompression> = { '': 'none', '.gz': 'gzip', '.lz4': 'lz4', '.zst': 'zstd' };
const TAR_NAME = /^(base|pg_wal|\d+)\.tar(\.gz|\.lz4|\.zst)?$/;

/** The tar files of a backup folder, or undefined when it holds no base.tar (of any compression). */
export async function findTarLayout(folder: string): Promise<TarLayout | undefined> {
  const names = await readdir(folder).catch(() => [] as string[]);
  const files: { kind: string; file: TarFile }[] = [];
  for (const name of names.sort()) {
    const match = TAR_NAME.exec(name);
    if (!match) continue;
    const info = await stat(join(folder, name)).catch(() => undefined);
    if (!info?.isFile()) continue;
    files.push({ kind: match[1]!, file: { name, path: join(folder, name), compression: SUFFIXES[match[2] ?? '']!, bytes: info.size } });
  }
  const base = files.find((f) => f.kind === 'base')?.file;
  if (!base) return undefined;
  return {
    base,
    wal: files.find((f) => f.kind === 'pg_wal')?.file,
    tablespaces: files.filter((f) => /^\d+$/.test(f.kind)).map((f) => f.file),
  };
}

/** "tar, gzip" / "tar, uncompressed": what a report says of the backup's format. */
export function describeTarFormat(layout: TarLayout): string {
  const compression = layout.base.compression === 'none' ? 'uncompressed' : `${layout.base.compression}-compressed`;
  return `tar format, ${compression}: ${[layout.base, ...(layout.wal ? [layout.wal] : [])].map((file) => file.name).join(' and ')}`;
}

/** The tar bytes of one file, decompressed as they are read, and a way to stop reading early. */
export interface TarStream {
  stream: Readable;
  /** Stops reading (a decompressing child is ended) and waits until nothing runs any more. */
  close(): Promise<void>;
  /** What went wrong outside the stream itself (the lz4 program missing, or its exit and words), once it has ended. */
  problem(): Promise<Error | undefined>;
}

/**
 * Opens a tar file for reading. gzip and zstd are Node's own zlib (zstd since Node 22.15); lz4 has no
 * maintained pure-JS stream decoder, so it is the `lz4` program, which every system that has
 * pg_basebackup with lz4 can install next to it.
 */
export function openTar(file: TarFile): TarStream {
  if (file.compression === 'lz4') return viaLz4(file);
  const raw = createReadStream(file.path, { highWaterMark: CHUNK });
  const stream =
    file.compression === 'gzip'
      ? raw.pipe(createGunzip({ chunkSize: CHUNK }))
      : file.compression === 'zstd'
        // zstd's long mode (pg_basebackup --compress=zstd:long) needs a window larger than the default limit.
        ? raw.pipe(createZstdDecompress({ chunkSize: CHUNK, params: { [constants.ZSTD_d_windowLogMax]: 31 } }))
        : raw;
  if (stream !== raw) raw.on('error', (error) => stream.destroy(error));
  return {
    stream,
    close: async () => {
      raw.destroy();
      stream.destroy();
    },
    problem: async () => undefined,
  };
}

/**
 * A pipe hands over about 64 KB at a time, and the tar parser's cost is per chunk (measured: 2.4 times
 * slower over 64 KB chunks than over 1 MB ones): gathered into chunks of `size` first.
 */
function rechunk(size: number): Transform {
  let held: Buffer[] = [];
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      held.push(chunk);
      bytes += chunk.length;
      if (bytes >= size) {
        this.push(held.length === 1 ? held[0] : Buffer.concat(held, bytes));
        held = [];
        bytes = 0;
      }
      done();
    },
    flush(done) {
      if (bytes > 0) this.push(Buffer.concat(held, bytes));
      done();
    },
  });
}

function viaLz4(file: TarFile): TarStream {
  const child: ChildProcess = spawn('lz4', ['-d', '-c', file.path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-2000)));
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: NodeJS.ErrnoException }>((resolve) => {
    child.on('error', (error: NodeJS.ErrnoException) => resolve({ code: null, signal: null, error }));
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  let stopped = false;
  const stream = child.stdout!.pipe(rechunk(CHUNK));
  child.stdout!.on('error', (error) => stream.destroy(error));
  return {
    stream,
    close: async () => {
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      child.stdout!.destroy();
      stream.destroy();
      await ended;
    },
    problem: async () => {
      const end = await ended;
      if (end.error?.code === 'ENOENT') {
        return new EnvironmentError(
          `base backup file ${file.path} is lz4-compressed (pg_basebackup --compress=lz4), and reading it needs the lz4 program, ` +
            'which is not on PATH: install it (Debian/Ubuntu: apt-get install lz4; macOS: brew install lz4)',
        );
      }
      if (stopped || end.code === 0) return undefined;
      if (end.error) return end.error;
      return new Error(`lz4 exited with ${end.code ?? end.signal}: ${stderr.trim().split('\n').slice(-2).join(' ')}`);
    },
  };
}
