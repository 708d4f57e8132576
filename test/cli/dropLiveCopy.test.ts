import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { scratchFolders } from '../../lib/providers/local/scratch.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { runCli } from '../support/cli.ts';
import { copyFolders, copyServers } from '../support/leftovers.ts';
import { longVerifyDrill } from '../support/longVerifyDrill.ts';
import { testSource } from '../support/source.ts';

// `restore-drill drop` run from another process (as a person runs it) against the copy of a drill
// still running here: this process is the copy's owner, alive, its lease renewed.
let source: SourceCluster;

beforeAll(async () => {
  source = await testSource();
  await source.query('create table events (id int primary key)');
  await source.takeBaseBackup('base-1');
  await source.query('insert into events select generate_series(1, 10)');
  await source.switchWal();
});

afterAll(async () => {
  await source?.remove();
});


test('drop refuses the copy of a drill whose owner is alive (naming its pid, exit 2, nothing touched); with --force it removes it, and the drill reports the copy gone', async () => {
  const run = longVerifyDrill(source, 'droplive', 60);
  await run.verifyBegins;
  const name = run.state().report.copy.name!;

  const refused = await runCli(['drop', '--copy', name], { via: 'source' });

  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain(`copy ${name} belongs to a drill still running (pid ${process.pid}`);
  expect(refused.stderr).toContain('--force');
  expect(await stat(join(scratchFolders.copies(), name)).then(() => true, () => false)).toBe(true);
  expect(await copyServers('droplive')).toHaveLength(1);

  const forced = await runCli(['drop', '--copy', name, '--force'], { via: 'source' });
  expect(forced.code, forced.stderr).toBe(0);
  const { report } = await run.drill;

  expect(report.copy.fate).toBe('gone');
  expect(report.copy.removed).toBe(false);
  expect(report.copy.removeError).toBeUndefined();
  expect(await copyFolders('droplive')).toEqual([]);
  expect(await copyServers('droplive')).toEqual([]);
});
