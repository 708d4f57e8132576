import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readlink, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
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

/** Written in a scratch root when we create it: what tells our folder from one that merely has the same name. */
export const SCRATCH_MARK = '.restore-drill-scratch';

/**
 * Creates the scratch root (mode 0711: the server's user may pass, nobody may list) and checks it.
 * Safe against a shared parent such as /tmp: the root and its folders are made one step at a time
 * (mkdir never follows a link in its last part), anything found in their place must be a real folder
 * of ours (never a link), and a folder we did not create is refused, never re-moded.
 */
export function ensureScratchRoot(): Promise<string> {
  ready ??= (async () => {
    const root = scratchRoot();
    await mkdir(dirname(root), { recursive: true, mode: 0o711 });
    if (!(await createRoot(root))) await checkExistingRoot(root);
    for (const folder of Object.values(scratchFolders)) {
      if (!(await makeFolder(folder()))) await checkOwnFolder(folder(), root);
    }
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

/**
 * Builds a new root whole (its mark and folders) under a temporary name and renames it into place:
 * another process never sees a root of ours without its mark. False when something is there already
 * (a rename onto a folder or a link fails).
 */
async function createRoot(root: string): Promise<boolean> {
  if (await lstat(root).then(() => true, () => false)) return false;
  const building = `${root}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await makeFolder(building);
  try {
    await writeFile(join(building, SCRATCH_MARK), 'restore-drill scratch root: copies of production data live below\n', { flag: 'wx', mode: 0o600 });
    for (const folder of Object.keys(scratchFolders) as (keyof typeof scratchFolders)[]) {
      await makeFolder(join(building, scratchFolders[folder]().slice(scratchRoot().length + 1)));
    }
    await rename(building, root);
    return true;
  } catch (error) {
    await rm(building, { recursive: true, force: true });
    if (['EEXIST', 'ENOTEMPTY', 'ENOTDIR', 'EISDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return false;
    throw error;
  }
}

/** mkdir of one folder, 0711: true when we made it (and so may set its mode), false when something is there already. */
async function makeFolder(path: string): Promise<boolean> {
  try {
    await mkdir(path, { mode: 0o711 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  // The umask may have taken bits away; the folder is ours, just made.
  await chmod(path, 0o711);
  return true;
}

async function checkExistingRoot(root: string): Promise<void> {
  await checkOwnFolder(root, root);
  const mark = await lstat(join(root, SCRATCH_MARK)).catch(() => undefined);
  const info = await lstat(root);
  if (mark?.isFile() && mark.uid === userInfo().uid) {
    if ((info.mode & 0o022) !== 0) {
      throw new EnvironmentError(`scratch folder ${root} is writable by others (mode ${modeText(info.mode)}); restore-drill will not keep copies of production data there. Remove it, or set RESTORE_DRILL_SCRATCH`);
    }
    return;
  }
  // A root made before the mark existed: ours by its exact mode and its copies folder.
  const copies = await lstat(join(root, 'copies')).catch(() => undefined);
  if ((info.mode & 0o7777) === 0o711 && copies?.isDirectory() && copies.uid === userInfo().uid) {
    await writeFile(join(root, SCRATCH_MARK), 'restore-drill scratch root: copies of production data live below\n', { flag: 'wx', mode: 0o600 }).catch(() => undefined);
    return;
  }
  throw new EnvironmentError(
    `scratch folder ${root} exists and is not a folder restore-drill made (no ${SCRATCH_MARK} in it, mode ${modeText(info.mode)}); ` +
      `restore-drill neither uses nor re-modes a folder it did not create. Set RESTORE_DRILL_SCRATCH to a path that does not exist yet`,
  );
}

/** A folder in the scratch root's place: a real folder (never a link), owned by us. */
async function checkOwnFolder(path: string, root: string): Promise<void> {
  const info = await lstat(path);
  if (info.isSymbolicLink()) {
    const target = await readlink(path).catch(() => '?');
    throw new EnvironmentError(
      `scratch folder ${path} is a symbolic link (to ${target}); restore-drill does not follow it, since copies of production data would land wherever it points. ` +
        `Remove it${path === root ? ', or set RESTORE_DRILL_SCRATCH' : ''}`,
    );
  }
  if (!info.isDirectory()) throw new EnvironmentError(`scratch path ${path} is not a folder; remove it or set RESTORE_DRILL_SCRATCH`);
  if (info.uid !== userInfo().uid) {
    throw new EnvironmentError(`scratch folder ${path} belongs to uid ${info.uid}, not to us; remove it or set RESTORE_DRILL_SCRATCH`);
  }
}

function modeText(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}
