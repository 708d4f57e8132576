import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { RestoreDrillError } from '../../errors.ts';
import { pgbackrestArgs, pgbackrestEnv, programOf, runPgbackrest, saidBy, type PgbackrestSource } from './command.ts';

const run = promisify(execFile);

/** How pg_control is stored in a backup set, by its name's ending (bz2 and lz4 have no reader in Node). */
const READERS: Record<string, (bytes: Buffer) => Buffer> = { '': (bytes) => bytes, '.gz': (bytes) => gunzipSync(bytes) };

/**
 * A data folder holding only the backup's global/pg_control, for archive-get's --pg1-path.
 * archive-get matches the archive against the pg_control at pg1-path, and the stanza's pg1-path is the
 * database host's: on a repository host it is missing, or another cluster. The backup's own pg_control
 * names the right system. Undefined when the set stores it in a form we cannot read (bundled, lz4,
 * bz2, zst): archive-get then reads the stanza's pg1-path, as pgBackRest does by itself.
 */
export async function stagePgControl(source: PgbackrestSource, workDir: string, backup: { label: string; archiveId: string }): Promise<string | undefined> {
  const folder = join(workDir, 'pg-control', backup.archiveId);
  const target = join(folder, 'global', 'pg_control');
  if (await stat(target).then(() => true, () => false)) return folder;
  const path = `backup/${source.stanza}/${backup.label}/pg_data/global`;
  const listing = await runPgbackrest(source, 'repo-ls', { workDir, options: ['--output=json'] }, [path]);
  if (listing.code !== 0) return undefined;
  const stored = Object.keys(JSON.parse(listing.stdout) as Record<string, unknown>).find((name) => name.startsWith('pg_control') && READERS[name.slice('pg_control'.length)]);
  if (!stored) return undefined;
  const file = `${path}/${stored}`;
  const got = await run(programOf(source), pgbackrestArgs(source, 'repo-get', { workDir }, [file]), {
    encoding: 'buffer',
    env: await pgbackrestEnv(source),
    maxBuffer: 1024 * 1024,
  }).catch((error: { stdout?: Buffer; stderr?: Buffer; code?: number }) => {
    throw new RestoreDrillError(
      'backup',
      `pgbackrest repo-get ${file} (repo${source.repo}) failed: ${saidBy({ code: error.code ?? 1, stdout: String(error.stdout ?? ''), stderr: String(error.stderr ?? '') })}`,
    );
  });
  const bytes = READERS[stored.slice('pg_control'.length)]!(got.stdout);
  await mkdir(join(folder, 'global'), { recursive: true, mode: 0o700 });
  const partial = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.partial`;
  await writeFile(partial, bytes, { mode: 0o600 });
  await rename(partial, target);
  return folder;
}
