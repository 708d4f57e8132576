import { constants } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WalFile } from './wal/archive.ts';

/** Segments copied at once: enough to keep a disk busy, few enough to leave a core to the base backup's verification. */
const PARALLEL_COPIES = 2;

export interface StagedWal {
  /** Where an empty file per staged segment says "already in pg_wal": the copy's restore_command reads it. */
  markerDir: string;
  segments: number;
}

/**
 * Copies the archive's plain WAL segments that recovery will read (the plan read and checked every
 * record of them) into the copy's pg_wal before the server starts, so that replay reads them there
 * instead of waiting on one restore_command process per segment (measured on 3 GB of WAL: replay 10 s
 * instead of 21 s). A clone where the filesystem can (COPYFILE_FICLONE), a copy otherwise; never a hard
 * link, since the server recycles and overwrites the files in its pg_wal. Compressed segments are left
 * to restore_command, and so are segments the backup's own pg_wal holds (they are not the archive's).
 */
export async function stageWal(
  files: readonly WalFile[],
  archiveDir: string,
  dataDir: string,
  markerDir: string,
  /** Called before each segment: throws to stop (the copy is being removed). */
  beforeEach: () => void = () => undefined,
): Promise<StagedWal> {
  const wanted = files.filter((file) => !file.gzip && file.path.startsWith(`${archiveDir}/`));
  await mkdir(markerDir, { mode: 0o755 });
  let next = 0;
  const worker = async () => {
    while (next < wanted.length) {
      beforeEach();
      const file = wanted[next++]!;
      await copyFile(file.path, join(dataDir, 'pg_wal', file.name), constants.COPYFILE_FICLONE);
      await writeFile(join(markerDir, file.name), '', { mode: 0o644 });
    }
  };
  await Promise.all(Array.from({ length: PARALLEL_COPIES }, worker));
  return { markerDir, segments: wanted.length };
}

/**
 * The copy's restore_command with staged segments skipped: Postgres asks the archive first and reads
 * pg_wal only when restore_command fails, so a staged segment must fail here (exit 1, no program run:
 * `test` is the shell's own) and every other file goes to the command as before.
 */
export function skipStaged(restoreCommand: string, markerDir: string): string {
  // Postgres replaces %f, %p, %r and %% anywhere in restore_command: a % of the folder's own name is written %%.
  const marker = `'${`${markerDir.replaceAll('%', '%%')}/%f`.replaceAll("'", `'\\''`)}'`;
  return `test ! -e ${marker} && { ${restoreCommand}; }`;
}
