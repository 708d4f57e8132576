import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { MARKER_FILE } from '../../lib/providers/local/engine.ts';
import { scratchFolders } from '../../lib/providers/local/scratch.ts';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, onTestFinished, test } from 'vitest';
import { execOk } from '../../lib/util/exec.ts';
import { dropCopy, runJanitor } from '../../lib/janitor.ts';
import type { RestoreDrillConfig } from '../../lib/config/schema.ts';
import { localProvider } from '../../lib/providers/local/index.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { copyFolders, copyServers } from '../support/leftovers.ts';
import { testSource } from '../support/source.ts';

let source: SourceCluster;

beforeAll(async () => {
  source = await testSource();
  await source.query('create table events (id int primary key)');
  const backup = await source.takeBaseBackup('base-1');
  // A base backup big enough that its copy is still running when the signal comes (a low-level one: no manifest to match).
  await rm(join(backup, 'backup_manifest'), { force: true });
  for (let i = 0; i < 6; i++) await execOk('dd', ['if=/dev/zero', `of=${join(backup, 'base', `filler-${i}`)}`, 'bs=1M', 'count=64', 'status=none']);
  await source.query('insert into events select generate_series(1, 100)');
  await source.switchWal();
});

afterAll(async () => {
  await source?.remove();
});

/** Processes whose command line names the copy's folder (cp, postgres, anything started for it). */
async function processesFor(name: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(name)) found.push(`${entry}: ${cmdline.replaceAll('\0', ' ')}`);
  }
  return found;
}

test.each([
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const)('%s while the base backup is copied leaves no child, no folder and no server (issue 14 item 8)', async (signal, code) => {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'interrupted-copy.ts'), source.backupsDir, source.archiveDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  onTestFinished(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  child.stdout.setEncoding('utf8');
  const name = await new Promise<string>((resolve) => child.stdout.on('data', (chunk: string) => {
    const match = /name (\S+)/.exec(chunk);
    if (match) resolve(match[1]!);
  }));
  // Wait for the copy's cp to be running: the moment the finding was about.
  for (;;) {
    const running = await processesFor(name);
    if (running.some((line) => /\bcp\b/.test(line))) break;
    expect(child.exitCode, 'the restore ended before its copy was seen running').toBeNull();
  }

  child.kill(signal);
  const [exitCode] = await once(child, 'exit');

  expect(exitCode).toBe(code);
  expect(await processesFor(name)).toEqual([]);
  expect(await copyFolders('interruptcopy')).toEqual([]);
  expect(await copyServers('interruptcopy')).toEqual([]);
});

test('after kill -9 of its owner, the janitor removes the copy at once, server first (issue 14 item 9)', async () => {
  const { child, name } = await readyCopyOfAnotherProcess();
  const provider = localProvider({ kind: 'local', baseBackups: source.backupsDir, walArchive: source.archiveDir }, { connection: { database: 'postgres', user: 'postgres' } });
  const config = { databases: [{ name: 'interruptcopy', provider: { kind: 'local', baseBackups: source.backupsDir } }] } as unknown as RestoreDrillConfig;
  const janitor = () => runJanitor(config, { providerFor: () => provider });

  // While its owner lives, the copy is kept until its expiry.
  expect((await janitor()).kept.map((copy) => copy.name)).toContain(name);
  expect(await copyServers('interruptcopy')).toHaveLength(1);

  child.kill('SIGKILL');
  await once(child, 'exit');
  const result = await janitor();

  expect(result.removed.map((copy) => copy.name)).toContain(name);
  expect(await copyServers('interruptcopy')).toEqual([]);
  expect(await copyFolders('interruptcopy')).toEqual([]);
});

test('after kill -9 of its owner before the marker named the server, drop stops the server before removing the copy (issue 14 item 9)', async () => {
  const { child, name } = await readyCopyOfAnotherProcess();
  child.kill('SIGKILL');
  await once(child, 'exit');
  // The marker as it stood between the server's start and its pid being written (the finding's moment, too brief to hit from outside).
  const markerFile = join(scratchFolders.copies(), name, MARKER_FILE);
  const marker = JSON.parse(await readFile(markerFile, 'utf8')) as { handle: { pid: number } };
  marker.handle.pid = 0;
  await writeFile(markerFile, JSON.stringify(marker));
  expect(await copyServers('interruptcopy')).toHaveLength(1);

  await dropCopy(name);

  expect(await copyServers('interruptcopy')).toEqual([]);
  expect(await copyFolders('interruptcopy')).toEqual([]);
});

/** A restore in a process of its own (the fixture), once its copy is ready: that process is the copy's owner. */
async function readyCopyOfAnotherProcess() {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'interrupted-copy.ts'), source.backupsDir, source.archiveDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  onTestFinished(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  child.stdout.setEncoding('utf8');
  let output = '';
  const name = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      const match = /name (\S+)\n[^]*ready/.exec(output);
      if (match) resolve(match[1]!);
    });
    child.once('exit', () => reject(new Error(`the restore ended before it was ready: ${output}`)));
  });
  return { child, name };
}
