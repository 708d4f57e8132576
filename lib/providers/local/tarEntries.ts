import { extract, type Header } from 'tar-stream';
import { EnvironmentError } from '../../errors.ts';
import { BrokenBackupError } from './errors.ts';
import { openTar, type TarFile } from './tarFiles.ts';

/** One entry of a tar file that is safe to unpack below a folder: a file or a folder, at a relative path inside it. */
export interface TarEntry {
  /** Relative, normalised ("./pg_wal/" is "pg_wal"), never absolute, never through "..". */
  path: string;
  type: 'file' | 'directory';
  size: number;
  /** The entry's bytes (a streamx stream: async iterable, and what pipeline() takes as a source). */
  body: AsyncIterable<unknown> & { resume(): unknown };
}

/**
 * Why an entry may not be unpacked below a folder, or its normalised path. pg_basebackup writes only
 * files and folders at relative paths (tablespaces are separate tars, listed in tablespace_map): an
 * absolute path, a "..", a link or a device is not from it, and unpacking it could write outside the copy.
 */
export function entryProblem(header: { name: string; type?: Header['type'] | null | undefined; linkname?: string | null | undefined }): { path: string } | { problem: string } {
  const name = header.name;
  if (name.includes('\0')) return { problem: 'has a NUL byte in its name' };
  if (name.startsWith('/')) return { problem: 'is an absolute path' };
  const parts = name.split('/').filter((part: string) => part !== '' && part !== '.');
  if (parts.includes('..')) return { problem: 'climbs out of the folder with ".."' };
  const type = header.type ?? 'file';
  if (type === 'symlink' || type === 'link') {
    return { problem: `is a ${type === 'symlink' ? 'symbolic' : 'hard'} link (to ${JSON.stringify(header.linkname ?? '')}), and a link can lead out of the folder` };
  }
  if (type !== 'file' && type !== 'contiguous-file' && type !== 'directory') return { problem: `is a ${type}, not a file or a folder` };
  return { path: parts.join('/') };
}

export interface ReadOptions {
  /** The backup's name, for messages. */
  backup: string;
  signal?: AbortSignal | undefined;
}

/**
 * Reads a tar file's entries in order, decompressing as it goes, and hands each safe one to `visit`
 * (which must consume or ignore the body; an ignored body is skipped). Stops when `visit` returns
 * 'stop'. An unsafe entry, a damaged or cut-short file, is a BrokenBackupError naming the file and
 * the entry; nothing after an unsafe entry is read.
 */
export async function readEntries(file: TarFile, visit: (entry: TarEntry) => Promise<'stop' | void>, options: ReadOptions): Promise<void> {
  const tar = openTar(file);
  const parser = extract();
  let current: string | undefined;
  let entries = 0;
  const onAbort = () => parser.destroy(options.signal?.reason instanceof Error ? options.signal.reason : new Error('stopped'));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let visitorError: { error: unknown } | undefined;
  let readFailed = false;
  tar.stream.on('error', (error) => {
    readFailed = true;
    parser.destroy(error);
  });
  parser.on('error', () => (readFailed = true));
  tar.stream.pipe(parser);
  try {
    options.signal?.throwIfAborted();
    for await (const entry of parser) {
      const header = entry.header;
      current = header.name;
      entries += 1;
      const checked = entryProblem(header);
      if ('problem' in checked) {
        throw new BrokenBackupError(
          `base backup ${options.backup}: ${file.name} holds the entry ${JSON.stringify(header.name)}, which ${checked.problem}. ` +
            `restore-drill unpacks a backup only inside the copy's folder, so it refuses this one; pg_basebackup never writes such an entry, ` +
            `so ${file.path} is not as pg_basebackup wrote it`,
          options.backup,
        );
      }
      if (checked.path === '') {
        entry.resume();
        continue;
      }
      const kind = header.type === 'directory' ? 'directory' : 'file';
      const answer = await visit({ path: checked.path, type: kind, size: header.size ?? 0, body: entry }).catch((error: unknown) => {
        // What went wrong writing the entry (a full disk) is the visitor's to say; reading the tar failing inside it is the tar's.
        visitorError = { error };
        throw error;
      });
      if (answer === 'stop') return;
      // Whatever the visitor left unread is skipped, so that the parser moves on.
      entry.resume();
    }
  } catch (error) {
    if (error instanceof BrokenBackupError || error instanceof EnvironmentError) throw error;
    if (options.signal?.aborted) throw options.signal.reason instanceof Error ? options.signal.reason : error;
    const outside = await settle(tar);
    if (visitorError?.error === error && !readFailed && !outside) throw error;
    if (outside instanceof EnvironmentError) throw outside;
    throw damaged(file, options.backup, outside?.message ?? (error as Error).message, current, entries);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await tar.close();
  }
  const outside = await tar.problem();
  if (outside instanceof EnvironmentError) throw outside;
  if (outside) throw damaged(file, options.backup, outside.message, current, entries);
}

async function settle(tar: ReturnType<typeof openTar>): Promise<Error | undefined> {
  await tar.close();
  return tar.problem();
}

function damaged(file: TarFile, backup: string, detail: string, current: string | undefined, entries: number): BrokenBackupError {
  const where = current === undefined ? 'before its first entry' : `at entry ${entries}, ${JSON.stringify(current)}`;
  return new BrokenBackupError(
    `base backup ${backup}: ${file.name} (${file.path}) is damaged or cut short ${where}: ${detail}. ` +
      'A restore from it would miss files; take a new base backup (or copy this one again from where it is kept)',
    backup,
  );
}

/** backup_label, tablespace_map, PG_VERSION and the config files are a few KB; anything this big is not them. */
const MEMBER_LIMIT = 1 << 20;

/**
 * Reads the named members (small files: backup_label, PG_VERSION, ...) from the start of a tar: to the
 * end only when one is missing, else until `enough` says so (by default, once all are found).
 */
export async function readMembers(
  file: TarFile,
  names: readonly string[],
  options: ReadOptions & { enough?: (found: ReadonlyMap<string, Buffer>, entriesSeen: number) => boolean },
): Promise<Map<string, Buffer>> {
  const wanted = new Set(names);
  const found = new Map<string, Buffer>();
  const enough = options.enough ?? ((have) => have.size === wanted.size);
  let seen = 0;
  await readEntries(
    file,
    async (entry) => {
      seen += 1;
      if (entry.type === 'file' && wanted.has(entry.path)) {
        if (entry.size > MEMBER_LIMIT) {
          throw new Error(
            `${file.name} holds a ${entry.path} of ${entry.size} bytes, far more than pg_basebackup writes (at most ${MEMBER_LIMIT} for it): it is not a backup pg_basebackup made`,
          );
        }
        const chunks: Buffer[] = [];
        for await (const chunk of entry.body) chunks.push(chunk as Buffer);
        found.set(entry.path, Buffer.concat(chunks));
      }
      if (enough(found, seen)) return 'stop';
    },
    options,
  );
  return found;
}

/** archive_status holds empty .ready and .done markers. */
const STATUS_LIMIT = 4096;

/**
 * Why an entry below pg_wal (its path relative to pg_wal) is not what a WAL folder holds, or undefined.
 * pg_basebackup puts there only WAL segments, timeline histories, backup history files, .partial
 * segments and archive_status; none is bigger than a segment. Checked on the header, before a byte is
 * written: pg_verifybackup skips pg_wal, so nothing else would stop a small tar unpacking gigabytes there.
 */
export function walEntryProblem(relative: string, type: TarEntry['type'], size: number, segmentSize: number): string | undefined {
  const notWal = 'is not a WAL segment, a .history, .backup or .partial file, or archive_status';
  if (type === 'directory') return relative === '' || relative === 'archive_status' ? undefined : notWal;
  const status = /^archive_status\/[0-9A-F]{8}([0-9A-F]{16}(\.partial|\.[0-9A-F]{8}\.backup)?|\.history)\.(ready|done)$/.test(relative);
  if (status) return size > STATUS_LIMIT ? `holds ${size} bytes, more than an archive_status marker (at most ${STATUS_LIMIT})` : undefined;
  if (!/^([0-9A-F]{24}(\.partial|\.[0-9A-F]{8}\.backup)?|[0-9A-F]{8}\.history)$/.test(relative)) return notWal;
  return size > segmentSize ? `holds ${size} bytes, more than a WAL segment of this cluster (${segmentSize})` : undefined;
}
