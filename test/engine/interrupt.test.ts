import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, onTestFinished, test } from 'vitest';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { copyFolders, copyServers } from '../support/leftovers.ts';
import { testSource } from '../support/source.ts';

let source: SourceCluster;

beforeAll(async () => {
  source = await testSource();
  await source.query('create table events (id int primary key)');
  await source.takeBaseBackup('base-1');
  await source.query('insert into events select generate_series(1, 50000)');
  await source.switchWal();
});

afterAll(async () => {
  await source?.remove();
});

test.each([
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const)('%s during a restore stops the copy server, removes its folder and exits %i', async (signal, code) => {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'interrupted-restore.ts'), source.backupsDir, source.archiveDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  onTestFinished(() => {
    child.kill('SIGTERM');
  });
  let output = '';
  child.stdout.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      if (/restoring|ready/.test(output)) resolve();
    });
    child.once('exit', () => reject(new Error(`the restore ended before it was interrupted: ${output}`)));
  });
  expect(await copyFolders('interrupt')).toHaveLength(1);

  child.kill(signal);
  const [exitCode] = await once(child, 'exit');

  expect(exitCode).toBe(code);
  expect(await copyFolders('interrupt')).toEqual([]);
  expect(await copyServers('interrupt')).toEqual([]);
});
