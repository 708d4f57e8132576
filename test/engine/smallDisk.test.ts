import { chmod, mkdtemp, open, readdir, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { OUT_OF_SPACE } from '../../lib/providers/local/copyConfig.ts';
import { execFile, execOk } from '../../lib/util/exec.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { fakeServerBin, SERVER_SAYS_CHECKPOINT_MISSING, SERVER_SAYS_NOTHING } from '../support/fakeServer.ts';
import { testSource } from '../support/source.ts';

let source: SourceCluster;
let mount: string | undefined;

beforeAll(async () => {
  source = await testSource();
  await source.query('create table events (id int primary key)');
  const backup = await source.takeBaseBackup('base-1');
  // A backup bigger than the small disk (a low-level one: no manifest for the filler).
  await rm(join(backup, 'backup_manifest'), { force: true });
  await execOk('dd', ['if=/dev/zero', `of=${join(backup, 'base', 'filler')}`, 'bs=1M', 'count=48', 'status=none']);
  await source.query('insert into events select generate_series(1, 100)');
  await source.switchWal();
  mount = await mkdtemp('/tmp/rd-small-disk-');
  await execOk('mount', ['-t', 'tmpfs', '-o', 'size=32m,mode=0755', 'tmpfs', mount]);
});

afterAll(async () => {
  if (mount) {
    await execFile('umount', [mount]);
    await rm(mount, { recursive: true, force: true });
  }
  await source?.remove();
});

test('a scratch disk too small for the copy is named as such (kind tool, the space needed and free), and nothing is left on it (issue 14 item 14)', async () => {
  const result = await execFile(process.execPath, [join(import.meta.dirname, 'fixtures', 'restore-to-scratch.ts'), source.backupsDir, source.archiveDir], {
    env: { ...process.env, RESTORE_DRILL_SCRATCH: join(mount!, 'scratch') },
  });
  expect(result.code, result.stderr).toBe(0);
  const outcome = JSON.parse(result.stdout) as { kind?: string; message?: string; left: string[] };

  expect(outcome.kind).toBe('tool');
  expect(outcome.message).toMatch(/not enough free space/);
  expect(outcome.message).toContain(join(mount!, 'scratch'));
  expect(outcome.message).toMatch(/needs about \d+ MB/);
  expect(outcome.left).toEqual([]);
});

describe('a scratch disk that fills up while the copy replays WAL (issue 14 item 14)', () => {
  let walSource: SourceCluster;
  let bigMount: string | undefined;

  beforeAll(async () => {
    walSource = await testSource();
    await walSource.query('create table events (id int primary key, payload text)');
    await walSource.takeBaseBackup('base-1');
    // WAL enough that replay lasts (about 45 segments of 1 MB), all of it after the backup.
    await walSource.query(`insert into events select g, repeat('x', 1000) from generate_series(1, 40000) g`);
    await walSource.switchWal();
    bigMount = await mkdtemp('/tmp/rd-replay-disk-');
    await execOk('mount', ['-t', 'tmpfs', '-o', 'size=160m,mode=0755', 'tmpfs', bigMount]);
  });

  afterAll(async () => {
    if (bigMount) {
      await execFile('umount', [bigMount]);
      await rm(bigMount, { recursive: true, force: true });
    }
    await walSource?.remove();
  });

  test('is named as out of space (kind tool), never as a broken backup, and nothing is left on it', async () => {
    const scratch = join(bigMount!, 'scratch');
    const run = execFile(process.execPath, [join(import.meta.dirname, 'fixtures', 'restore-to-scratch.ts'), walSource.backupsDir, walSource.archiveDir], {
      env: { ...process.env, RESTORE_DRILL_SCRATCH: scratch },
    });
    // The base backup is copied and the free-space check passed; the disk fills before the server replays (another program, another copy).
    let filled = false;
    let settled = false;
    void run.finally(() => (settled = true));
    while (!filled && !settled) {
      const copies = await readdir(join(scratch, 'copies')).catch(() => [] as string[]);
      for (const name of copies) {
        if (await stat(join(scratch, 'copies', name, 'data', 'recovery.signal')).then(() => true, () => false)) {
          await fillDisk(bigMount!, 512 * 1024);
          filled = true;
        }
      }
      if (!filled) await delay(2);
    }
    const result = await run;
    expect(filled, 'the copy ended before it reached replay').toBe(true);
    expect(result.code, result.stderr).toBe(0);
    const outcome = JSON.parse(result.stdout) as { kind?: string; message?: string; left: string[] };

    expect(outcome.kind, outcome.message).toBe('tool');
    expect(outcome.message).toMatch(/No space left on device/);
    expect(outcome.message).toMatch(/not enough free space in .*while the copy replayed WAL/);
    expect(outcome.message).not.toMatch(/checkpoint record|incomplete|damaged/);
    expect(outcome.left).toEqual([]);
  });
});

test("a full disk in either of the server's words is out of space: ENOSPC, and a write that got only part of its bytes down", () => {
  expect(OUT_OF_SPACE.test('FATAL:  could not extend file "base/5/16384": No space left on device')).toBe(true);
  // Seen in CI: the disk filled in the middle of an 8 kB page write, so the write returned short, not ENOSPC.
  expect(OUT_OF_SPACE.test('FATAL:  could not extend file "base/5/16384": wrote only 4096 of 8192 bytes at block 57')).toBe(true);
  expect(OUT_OF_SPACE.test('FATAL:  could not locate required checkpoint record')).toBe(false);
});

/**
 * Fills the disk but for `leave` bytes. The copy goes on writing while we measure, so a write sized by one
 * reading can find less room than it asked for: it keeps what it got (a short write) and we measure again.
 * Never a fallocate: tmpfs gives a failed one back whole, so the disk would be full for a moment and then
 * roomy again, and a server that died in that moment would look as if it had died of something else.
 */
async function fillDisk(mount: string, leave: number): Promise<void> {
  const filler = await open(join(mount, 'filler'), 'w');
  const zeros = Buffer.alloc(4 * 1024 * 1024);
  try {
    for (let refused = 0; refused < 20; ) {
      const disk = await statfs(mount);
      const room = disk.bavail * disk.bsize - leave;
      if (room <= 0) return;
      await filler.write(zeros, 0, Math.min(room, zeros.length)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOSPC') throw error;
        refused++;
      });
    }
  } finally {
    await filler.close();
  }
  throw new Error(`could not fill ${mount} to within ${leave} bytes`);
}

describe('a copy whose server exits at start', () => {
  let ownSource: SourceCluster;

  beforeAll(async () => {
    ownSource = await testSource();
    await ownSource.takeBaseBackup('base-1');
  });

  afterAll(async () => {
    await ownSource?.remove();
  });

  test('giving no reason, on a disk with room, is not blamed on the backup (kind tool), and nothing is left', async () => {
    const outcome = await restoreWithServer(SERVER_SAYS_NOTHING);

    expect(outcome.kind, outcome.message).toBe('tool');
    expect(outcome.message).toMatch(/exited at start: no log output/);
    expect(outcome.message).toMatch(/says nothing about the backup/);
    expect(outcome.message).toMatch(/it has \d+ MB free now/);
    expect(outcome.message).not.toMatch(/No space left on device/);
    expect(outcome.left).toEqual([]);
  });

  test.each([
    ['a FATAL line', SERVER_SAYS_CHECKPOINT_MISSING, /could not locate required checkpoint record/],
    [
      'its startup process killed by a signal',
      `echo "LOG:  startup process (PID $$) was terminated by signal 11: Segmentation fault" >&2; echo "LOG:  aborting startup due to startup process failure" >&2; exit 1`,
      /terminated by signal 11/,
    ],
  ])('giving its reason (%s) fails the restore (kind backup), naming it', async (_reason, script, said) => {
    const outcome = await restoreWithServer(script);

    expect(outcome.kind, outcome.message).toBe('backup');
    expect(outcome.message).toMatch(said);
    expect(outcome.message).not.toMatch(/says nothing about the backup/);
    expect(outcome.left).toEqual([]);
  });

  async function restoreWithServer(script: string): Promise<{ kind?: string; message?: string; left: string[] }> {
    const fake = await fakeServerBin(ownSource.binaries.bindir, script);
    const scratch = await mkdtemp('/tmp/rd-fake-scratch-');
    try {
      await chmod(scratch, 0o755);
      const result = await execFile(process.execPath, [join(import.meta.dirname, 'fixtures', 'restore-to-scratch.ts'), ownSource.backupsDir, ownSource.archiveDir], {
        env: { ...process.env, RESTORE_DRILL_SCRATCH: join(scratch, 'scratch'), RESTORE_DRILL_PG_BIN: fake.bin },
      });
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as { kind?: string; message?: string; left: string[] };
    } finally {
      await fake.remove();
      await rm(scratch, { recursive: true, force: true });
    }
  }
});

test('a WAL cache (restoreCommand) on a disk that is full says so (kind tool), never that the archive ends there (issue 14 item 14)', async () => {
  const full = await mkdtemp('/tmp/rd-full-cache-');
  await execOk('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0755', 'tmpfs', full]);
  try {
    // Less room than one WAL segment: the restore command's copies into the cache fail.
    const disk = await statfs(full);
    await execOk('fallocate', ['-l', String(disk.bavail * disk.bsize - 256 * 1024), join(full, 'filler')]);
    const result = await execFile(process.execPath, [join(import.meta.dirname, 'fixtures', 'restore-to-scratch.ts'), source.backupsDir, `!cp ${source.archiveDir}/%f %p`], {
      env: { ...process.env, RESTORE_DRILL_SCRATCH: join(full, 'scratch') },
    });
    expect(result.code, result.stderr).toBe(0);
    const outcome = JSON.parse(result.stdout) as { kind?: string; message?: string };

    expect(outcome.kind, outcome.message).toBe('tool');
    expect(outcome.message).toMatch(/No space left on device/);
    expect(outcome.message).toMatch(/WAL cache/);
  } finally {
    await execFile('umount', [full]);
    await rm(full, { recursive: true, force: true });
  }
});
