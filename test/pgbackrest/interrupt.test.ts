import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, expect, onTestFinished, test } from 'vitest';
import { scratchFolders } from '../../lib/providers/local/scratch.ts';
import { repoRoot } from '../support/cli.ts';
import { copyFolders, copyServers } from '../support/leftovers.ts';
import { insertRow } from '../support/source.ts';
import { repoSource, type RepoSource } from './repoSource.ts';

let repo: RepoSource;
let project: string;

beforeAll(async () => {
  repo = await repoSource();
  await repo.source.query('create table events (id int primary key)');
  await insertRow(repo.source, 'events', 1);
  await repo.backup('full');
  await repo.source.switchWal();
  project = await mkdtemp(join(tmpdir(), 'pgbr-interrupt-'));
  await writeFile(
    join(project, 'restore-drill.config.json'),
    JSON.stringify({
      rpoTargetSeconds: 86_400,
      databases: [{ name: 'pgbr-int', provider: { kind: 'pgbackrest', stanza: repo.stanza, config: repo.drillConfig, processMax: 2 } }],
      report: { dir: './reports' },
    }),
  );
});

afterAll(async () => {
  await repo?.remove();
  if (project) await rm(project, { recursive: true, force: true });
});

/** Processes (pgbackrest and its workers, postgres) whose command line names a copy folder of this file's database. */
async function copyProcesses(): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
    if (cmdline.includes(`${scratchFolders.copies()}/rd-pgbr-int-`)) found.push(`${entry}: ${cmdline}`);
  }
  return found;
}

test('SIGINT while pgbackrest restore runs stops it, leaves no process, no server and no folder, and exits 130', async () => {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'cli.ts'), 'run', '--config', join(project, 'restore-drill.config.json')], {
    cwd: project,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onTestFinished(() => void child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout.resume();
  const exited = once(child, 'exit');
  // Until pgbackrest restore is running for the copy.
  for (;;) {
    const running = await copyProcesses();
    // pgbackrest ... --pg1-path=<copy>/data ... restore (the command comes last); its workers run restore:local.
    if (running.some((line) => /pgbackrest .* restore(:local)?( |$)/.test(line))) break;
    if (child.exitCode !== null) throw new Error(`the drill ended before pgbackrest restore was seen: ${stderr}`);
    await delay(10);
  }
  expect(await copyFolders('pgbr-int')).toHaveLength(1);
  // Its workers too, once they are up: they must go with it.
  for (let waited = 0; waited < 100 && !(await copyProcesses()).some((line) => /restore:local/.test(line)); waited++) await delay(10);

  child.kill('SIGINT');
  const [code] = await exited;

  expect(code, stderr).toBe(130);
  expect(await copyProcesses()).toEqual([]);
  expect(await copyServers('pgbr-int')).toEqual([]);
  expect(await copyFolders('pgbr-int')).toEqual([]);
});
