import { chmod, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A bin folder of the machine's programs but for postgres, which runs `script` (sh) instead when it is
 * started as a server (-k, the socket folder, is always passed then) and is the real one otherwise
 * (--version, -C). For servers that die at start in a chosen way. The folder is open to the server's user.
 */
export async function fakeServerBin(realBindir: string, script: string): Promise<{ bin: string; remove: () => Promise<void> }> {
  const folder = await mkdtemp('/tmp/rd-fake-server-');
  await chmod(folder, 0o755);
  const bin = join(folder, 'bin');
  await mkdir(bin, { mode: 0o755 });
  for (const name of await readdir(realBindir)) if (name !== 'postgres') await symlink(join(realBindir, name), join(bin, name));
  await writeFile(join(bin, 'postgres'), `#!/bin/sh\ncase " $* " in *" -k "*) ${script} ;; esac\nexec ${join(realBindir, 'postgres')} "$@"\n`, { mode: 0o755 });
  return { bin, remove: () => rm(folder, { recursive: true, force: true }) };
}

/** What Postgres itself says at start for a backup whose checkpoint is gone, then stops (it exits 1). */
export const SERVER_SAYS_CHECKPOINT_MISSING = `echo "FATAL:  could not locate required checkpoint record" >&2; exit 1`;
/** A server that exits at start without a word (killed from outside, or its log could not be written). */
export const SERVER_SAYS_NOTHING = 'exit 1';
