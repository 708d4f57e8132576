import { chmod, lstat, mkdir, mkdtemp, readdir, rm, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { afterEach, expect, test } from 'vitest';
import { execFile } from '../../lib/util/exec.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'scratch-root.ts');
const made: string[] = [];

afterEach(async () => {
  for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** A folder of this test's own (under /tmp, where the server's user can pass). */
async function playground(): Promise<string> {
  const dir = await mkdtemp('/tmp/rd-scratch-test-');
  await chmod(dir, 0o755);
  made.push(dir);
  return dir;
}

async function prepare(env: NodeJS.ProcessEnv): Promise<{ root?: string; error?: string }> {
  const { RESTORE_DRILL_SCRATCH: _, ...rest } = process.env;
  const result = await execFile(process.execPath, [FIXTURE], { env: { ...rest, ...env } });
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as { root?: string; error?: string };
}

async function modeOf(path: string): Promise<number> {
  return (await lstat(path)).mode & 0o7777;
}

test('a link planted in $TMPDIR where the scratch root goes is refused, and the folder it points to is left alone (issue 14 item 7)', async () => {
  const tmp = await playground();
  const attacker = join(tmp, 'attacker');
  await mkdir(attacker, { mode: 0o755 });
  await chmod(attacker, 0o755);
  await symlink(attacker, join(tmp, `restore-drill-${userInfo().uid}`));

  const outcome = await prepare({ TMPDIR: tmp });

  expect(outcome.error).toMatch(/symbolic link/);
  expect(outcome.error).toContain(join(tmp, `restore-drill-${userInfo().uid}`));
  expect(await modeOf(attacker)).toBe(0o755);
  expect(await readdir(attacker)).toEqual([]);
});

test('a shared folder given as RESTORE_DRILL_SCRATCH (a sticky 1777 one, and /tmp itself) is refused and never re-moded', async () => {
  const shared = join(await playground(), 'shared');
  await mkdir(shared);
  await chmod(shared, 0o1777);
  const tmpMode = await modeOf('/tmp');
  try {
    for (const folder of [shared, '/tmp']) {
      const outcome = await prepare({ RESTORE_DRILL_SCRATCH: folder });
      expect(outcome.error, folder).toMatch(/not a folder restore-drill made/);
      expect(await modeOf(folder), folder).toBe(folder === '/tmp' ? tmpMode : 0o1777);
    }
    expect(await readdir(shared)).toEqual([]);
  } finally {
    // Only undoes what a broken engine would have done to /tmp.
    if ((await modeOf('/tmp')) !== tmpMode) await chmod('/tmp', tmpMode);
  }
});

test('a new scratch root is made 0711 with its folders, and is ours on the next run', async () => {
  const root = join(await playground(), 'nested', 'scratch');

  expect(await prepare({ RESTORE_DRILL_SCRATCH: root })).toEqual({ root });
  expect(await modeOf(root)).toBe(0o711);
  expect((await stat(join(root, 'copies'))).isDirectory()).toBe(true);
  expect(await modeOf(join(root, 'copies'))).toBe(0o711);

  expect(await prepare({ RESTORE_DRILL_SCRATCH: root })).toEqual({ root });
});

test('a link planted in place of a folder inside the scratch root is refused', async () => {
  const root = join(await playground(), 'scratch');
  expect(await prepare({ RESTORE_DRILL_SCRATCH: root })).toEqual({ root });
  const elsewhere = join(root, '..', 'elsewhere');
  await mkdir(elsewhere, { mode: 0o755 });
  await rm(join(root, 'copies'), { recursive: true });
  await symlink(elsewhere, join(root, 'copies'));

  const outcome = await prepare({ RESTORE_DRILL_SCRATCH: root });

  expect(outcome.error).toMatch(/symbolic link/);
  expect(await readdir(elsewhere)).toEqual([]);
});
