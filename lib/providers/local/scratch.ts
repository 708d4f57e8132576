import { chmod, mkdir, stat } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { EnvironmentError } from '../../errors.ts';
import { serverUser, serverUserCan } from './serverUser.ts';

/**
 * Our scratch root: every file a server touches (copies, sockets, staged binaries and WAL, test
 * sources) lives below it, never inside the checkout, which may sit in a folder the server's user
 * cannot enter. RESTORE_DRILL_SCRATCH overrides it.
 */
export function scratchRoot(): string {
  return process.env.RESTORE_DRILL_SCRATCH ?? join(tmpdir(), `restore-drill-${userInfo().uid}`);
}

export const scratchFolders = {
  copies: () => join(scratchRoot(), 'copies'),
  templates: () => join(scratchRoot(), 'templates'),
  binaries: () => join(scratchRoot(), 'pg'),
  sources: () => join(scratchRoot(), 'sources'),
  walCache: () => join(scratchRoot(), 'wal-cache'),
};

let ready: Promise<string> | undefined;

/** Creates the scratch root (mode 0711: the server's user may pass, nobody may list) and checks it. */
export function ensureScratchRoot(): Promise<string> {
  ready ??= (async () => {
    const root = scratchRoot();
    await mkdir(root, { recursive: true, mode: 0o711 });
    const info = await stat(root);
    if (info.uid !== userInfo().uid) {
      throw new EnvironmentError(`scratch folder ${root} belongs to uid ${info.uid}, not to us; remove it or set RESTORE_DRILL_SCRATCH`);
    }
    await chmod(root, 0o711);
    for (const folder of Object.values(scratchFolders)) await mkdir(folder(), { recursive: true, mode: 0o711 });
    const user = await serverUser();
    if (user.runAs && !(await serverUserCan(user, 'enter', scratchFolders.copies()))) {
      throw new EnvironmentError(
        `the Postgres server's user "${user.name}" cannot reach the scratch folder ${root} (a parent folder is closed to it); ` +
          `set RESTORE_DRILL_SCRATCH to a folder it can enter, such as /tmp/restore-drill`,
      );
    }
    return root;
  })();
  ready.catch(() => (ready = undefined));
  return ready;
}
