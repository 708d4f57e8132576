import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { ensureScratchRoot, scratchFolders } from './scratch.ts';
import { readEntries } from './tarEntries.ts';
import type { TarFile } from './tarFiles.ts';
import { listWalFolder, type ArchiveListing } from './wal/archive.ts';
import { isSegmentName } from './wal/lsn.ts';

const COMPLETE = '.complete';

/**
 * The WAL segments of a backup's pg_wal.tar (pg_basebackup -Ft -X stream), for planning when the
 * archive lacks some of them, as a plain backup's own pg_wal serves. The WAL reader needs files, so
 * the segments (only they: a few, written while the backup ran) are unpacked once into a cache under
 * the scratch root, keyed by the tar file's identity; a backup never changes once written. The copy
 * itself gets them from its own unpacked pg_wal.
 */
export async function ownWalOf(backup: string, file: TarFile): Promise<ArchiveListing | undefined> {
  const info = await stat(file.path);
  const key = createHash('sha256').update(`${file.path}\0${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}`).digest('hex').slice(0, 16);
  await ensureScratchRoot();
  const dir = join(scratchFolders.walCache(), `tar-${key}`);
  if (!(await stat(join(dir, COMPLETE)).then(() => true, () => false))) await unpackSegments(backup, file, dir);
  const listing = await listWalFolder(dir);
  return listing.segments.size > 0 ? listing : undefined;
}

async function unpackSegments(backup: string, file: TarFile, dir: string): Promise<void> {
  // Built apart and renamed into place: another run never sees half of it.
  const building = `${dir}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await mkdir(building, { mode: 0o700 });
  try {
    await readEntries(
      file,
      async (entry) => {
        if (entry.type !== 'file' || !isSegmentName(entry.path)) return;
        await pipeline(entry.body as AsyncIterable<Buffer>, createWriteStream(join(building, entry.path), { flags: 'wx', mode: 0o600 }));
      },
      { backup },
    );
    await writeFile(join(building, COMPLETE), '');
    await rename(building, dir).catch(async (error: NodeJS.ErrnoException) => {
      // Another run made it meanwhile: theirs serves as well.
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    });
  } finally {
    await rm(building, { recursive: true, force: true });
  }
}
