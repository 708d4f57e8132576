import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, expect, onTestFinished, test } from 'vitest';
import { scratchFolders } from '../../lib/providers/local/scratch.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import type { DrillReport } from '../../lib/report/types.ts';
import { execOk } from '../../lib/util/exec.ts';
import { repoRoot } from '../support/cli.ts';
import { copyFolders, copyServers } from '../support/leftovers.ts';
import { machineBinaries, testSource } from '../support/source.ts';

let source: SourceCluster;
let backup: string;
let dir: string;
let pgBin: string;

beforeAll(async () => {
  source = await testSource();
  await source.query('create table events (id int primary key)');
  backup = await source.takeBaseBackup('base-1');
  // Big enough that the copy's cp still runs when the signal comes.
  for (let i = 0; i < 5; i++) await execOk('dd', ['if=/dev/zero', `of=${join(backup, 'base', `filler-${i}`)}`, 'bs=1M', 'count=64', 'status=none']);
  await source.query('insert into events select generate_series(1, 100)');
  await source.switchWal();
  dir = await mkdtemp(join(tmpdir(), 'rd-interrupt-run-'));
  await chmod(dir, 0o755);
  // The machine's binaries, but a pg_verifybackup that takes its time (a big backup's): still reading when the signal comes.
  // Its command line is node's then: `node -e ... -- -n <backup>`.
  pgBin = join(dir, 'pgbin');
  await mkdir(pgBin);
  const real = (await machineBinaries()).bindir;
  for (const name of await readdir(real)) if (name !== 'pg_verifybackup') await symlink(join(real, name), join(pgBin, name));
  await writeFile(join(pgBin, 'pg_verifybackup'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} -e 'setTimeout(() => {}, 600000)' -- "$@"\n`, { mode: 0o755 });
});

afterAll(async () => {
  await source?.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Processes (other than this one) whose command line holds `text`: the copy's cp, pg_verifybackup of the backup, its server. */
async function processesHolding(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
    if (cmdline.includes(text)) found.push(`${entry}: ${cmdline}`);
  }
  return found;
}

test.each([
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const)('%s to `restore-drill run` while the base backup is copied writes the report (interrupted), and leaves no child, no folder and no server (issue 14 item 8)', async (signal, code) => {
  const reportDir = join(dir, `reports-${signal}`);
  const configFile = join(dir, `config-${signal}.json`);
  await writeFile(
    configFile,
    JSON.stringify({ databases: [{ name: 'clistop', provider: { kind: 'local', baseBackups: source.backupsDir, walArchive: source.archiveDir, pgBin } }], report: { dir: reportDir } }),
  );
  const cli = spawn(process.execPath, [join(repoRoot, 'bin', 'cli.ts'), 'run', '--config', configFile, '--json'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  onTestFinished(async () => {
    if (cli.exitCode === null) cli.kill('SIGKILL');
    // A stand-in left running (the finding) is this test's own: stopped by its pid.
    for (const line of await processesHolding(backup)) if (/ -- -n /.test(line)) process.kill(Number(line.split(':')[0]), 'SIGKILL');
  });
  let stderr = '';
  cli.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  cli.stdout.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(cli, 'exit');
  // The moment of the finding: the copy's cp of the base backup has started, and pg_verifybackup reads beside it.
  const copies = `${scratchFolders.copies()}/rd-clistop-`;
  let copying = false;
  for (;;) {
    copying ||= (await processesHolding(copies)).some((line) => /\bcp -a\b/.test(line));
    if (copying && (await processesHolding(backup)).some((line) => / -- -n /.test(line))) break;
    expect(cli.exitCode, `the run ended before its copy was seen: ${stderr}`).toBeNull();
    await delay(5);
  }

  cli.kill(signal);
  const [exitCode] = await exited;

  expect(exitCode, stderr).toBe(code);
  const reports = (await readdir(reportDir)).filter((name) => name.endsWith('.json'));
  expect(reports).toHaveLength(1);
  const report = JSON.parse(await readFile(join(reportDir, reports[0]!), 'utf8')) as DrillReport;
  expect(report.status).toBe('error');
  expect(report.error).toMatchObject({ step: 'restore', kind: 'tool' });
  expect(report.error?.message).toMatch(new RegExp(`interrupted by ${signal}`));
  expect(report.copy.note).toMatch(/removed on the way out/);
  expect(await processesHolding(copies)).toEqual([]);
  // pg_verifybackup reads the backup alongside the copy: stopped and waited for too.
  expect(await processesHolding(backup)).toEqual([]);
  expect(await copyFolders('clistop')).toEqual([]);
  expect(await copyServers('clistop')).toEqual([]);
}, 60_000);
