import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { execFile, execOk } from '../../lib/util/exec.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
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
