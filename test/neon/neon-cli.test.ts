import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { newClient } from '../../lib/util/pgClient.ts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import type { JanitorResult } from '../../lib/janitor.ts';
import { providerFor } from '../../lib/providers/index.ts';
import type { RunResult } from '../../lib/report/types.ts';
import { cliBin, repoRoot, runCli } from '../support/cli.ts';
import { leftoverCopies, useOwnScratch } from '../emulators/rds/world.ts';
import { NEON_API_KEY, neonDatabaseConfig, neonWorld, ROLE_PASSWORD, type NeonWorld } from '../emulators/neon/world.ts';

// The emulator's restores live in a scratch root of this file's own (see useOwnScratch).
useOwnScratch('neon-cli-test');
const env: NodeJS.ProcessEnv = { RESTORE_DRILL_SCRATCH: process.env.RESTORE_DRILL_SCRATCH, NEON_API_KEY };
process.env.NEON_API_KEY = NEON_API_KEY;

let world: NeonWorld;
let configFile: string;

/** The CLI as a user runs it: a config file whose `apiBaseUrl` points the client at the emulator. */
async function writeConfig(name: string, databases: Record<string, unknown>[]): Promise<string> {
  const file = join(world.project, name);
  await writeFile(file, JSON.stringify({ rpoTargetSeconds: 3600, rtoTargetSeconds: 600, databases, report: { dir: './reports' } }, null, 2));
  return file;
}

const cli = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => runCli(args, { env: { ...env, ...extraEnv } });

beforeAll(async () => {
  world = await neonWorld();
  configFile = await writeConfig('restore-drill.config.json', [neonDatabaseConfig(world, 'neon-cli')]);
});

afterAll(async () => {
  if (!world) return;
  const touchingSource = world.emulator.mutatingCallsOn(world.sourceIdentifiers);
  const deletes = world.emulator.calls('deleteProjectBranch').map((r) => r.params.branch_id);
  const { specProblems, specChecked } = world.emulator;
  await world.remove();
  // Every request the CLI sent and every answer the emulator gave, held to Neon's published document.
  expect(specProblems, JSON.stringify(specProblems, null, 1)).toEqual([]);
  console.info(`neon-cli: ${specChecked.requests} requests and ${specChecked.responses} answers held to Neon's OpenAPI document`);
  // The parent (and default) branch is read-only: no create-into, update or delete ever names it.
  expect(touchingSource).toEqual([]);
  expect(deletes).not.toContain(world.emulator.defaultBranch.id);
  expect(await leftoverCopies()).toEqual([]);
});

function createCalls() {
  return world.emulator.calls('createProjectBranch');
}

describe('restore-drill against the Neon emulator', () => {
  test('run: the drill passes, the report is written, the branch removed, and no key or password anywhere', async () => {
    const result = await cli(['run', '--config', configFile, '--json']);

    expect(result.code, result.stderr).toBe(0);
    const run = JSON.parse(result.stdout) as RunResult;
    expect(run.drills.map((d) => [d.database, d.provider, d.status, d.copy.removed])).toEqual([['neon-cli', 'neon', 'passed', true]]);
    expect(run.drills[0]!.checks.map((c) => [c.check, c.status])).toEqual([['connection', 'pass'], ['ledger', 'pass'], ['rowCounts', 'pass'], ['freshness', 'pass']]);
    await world.emulator.gone(run.drills[0]!.copy.name!);
    const reports = await readdir(join(world.project, 'reports'));
    const stored = await Promise.all(reports.map((file) => readFile(join(world.project, 'reports', file), 'utf8')));
    expect(stored).toHaveLength(1);
    for (const text of [result.stdout, result.stderr, ...stored]) {
      expect(text).not.toContain(NEON_API_KEY);
      expect(text).not.toContain(ROLE_PASSWORD);
    }
  });

  test('window: the history retention back from now, bounded by the branch\'s creation', async () => {
    const result = await cli(['window', '--config', configFile, '--database', 'neon-cli', '--json']);

    expect(result.code, result.stderr).toBe(0);
    const window = JSON.parse(result.stdout) as { earliest: string; latest: string };
    expect(window.earliest).toBe(world.emulator.defaultBranch.createdAt.toISOString());
    expect(Date.parse(window.latest)).toBeGreaterThan(Date.parse(window.earliest));
    expect(world.emulator.calls('getProject').length).toBeGreaterThan(0);
  });

  test('restore --keep leaves a branch reachable over verified TLS, annotated with the printed expiry; drop removes it', async () => {
    const result = await cli(['restore', '--config', configFile, '--database', 'neon-cli', '--target', 'latest', '--keep', '--keep-for', '2h']);

    expect(result.code, result.stderr).toBe(0);
    const name = /The copy (rd-neon-cli-\S+) stays until/.exec(result.stdout)![1]!;
    const until = /stays until (\S+):/.exec(result.stdout)![1];
    const psql = /psql "host=(\S+) port=(\d+) dbname=(\S+) user=(\S+) sslmode=verify-full"/.exec(result.stdout)!;
    expect(psql).not.toBeNull();
    expect(result.stdout).toContain('password: the role\'s password from the Neon API');
    expect(result.stdout + result.stderr).not.toContain(ROLE_PASSWORD);
    expect(result.stdout + result.stderr).not.toContain(NEON_API_KEY);
    const branch = world.emulator.branchNamed(name)!;
    expect(branch.annotations['restore-drill:expires-at']).toBe(until);
    expect(branch.parentId).toBe(world.emulator.defaultBranch.id);
    const client = newClient({ host: psql[1], port: Number(psql[2]), database: psql[3], user: psql[4], password: ROLE_PASSWORD, ssl: { ca: world.ca.caPem } });
    await client.connect();
    const { rows } = await client.query<{ n: number }>('select count(*)::int as n from users');
    await client.end();
    expect(rows[0]!.n).toBeGreaterThanOrEqual(3);

    const dropped = await cli(['drop', '--copy', name, '--config', configFile]);

    expect(dropped.code, dropped.stderr).toBe(0);
    expect(world.emulator.calls('deleteProjectBranch').at(-1)!.params.branch_id).toBe(branch.id);
    await world.emulator.gone(name);
  });

  test('janitor removes our expired branches and leaves fresh ones, look-alikes and other branches\' children alone', async () => {
    // Prepare: a copy a crash left behind (expired), one still in use, and branches that are not ours.
    const config = await validateConfig(JSON.parse(await readFile(configFile, 'utf8')), world.project);
    const provider = providerFor(config.databases[0]!);
    await provider.start({ target: { kind: 'latest' }, copyName: 'rd-neon-cli-20261125000000-old1', expiresAt: new Date(Date.now() - 60_000) });
    await provider.start({ target: { kind: 'latest' }, copyName: 'rd-neon-cli-20261125000000-new1', expiresAt: new Date(Date.now() + 3_600_000) });
    const expiredMark = { 'restore-drill:managed': 'true', 'restore-drill:expires-at': '2020-01-01T00:00:00Z' };
    const preview = world.emulator.addOtherBranch({ name: 'preview' });
    const unmarked = world.emulator.addOtherBranch({ name: 'rd-neon-cli-20200101000000-fake', annotations: { 'restore-drill:expires-at': '2020-01-01T00:00:00Z' } });
    const elsewhere = world.emulator.addOtherBranch({ name: 'rd-neon-cli-20200101000000-else', parentId: preview.id, annotations: expiredMark });
    const deletesBefore = world.emulator.calls('deleteProjectBranch').length;

    // Act: a dry run first, then the real one.
    const dry = await cli(['janitor', '--config', configFile, '--dry-run', '--json']);
    const deletesAfterDryRun = world.emulator.calls('deleteProjectBranch').length;
    const real = await cli(['janitor', '--config', configFile, '--json']);

    // Assess
    expect(dry.code, dry.stderr).toBe(0);
    expect((JSON.parse(dry.stdout) as JanitorResult).removed.map((c) => c.name)).toEqual(['rd-neon-cli-20261125000000-old1']);
    expect(deletesAfterDryRun).toBe(deletesBefore);
    expect(real.code, real.stderr).toBe(0);
    const result = JSON.parse(real.stdout) as JanitorResult;
    expect(result.removed.map((c) => c.name)).toEqual(['rd-neon-cli-20261125000000-old1']);
    expect(result.failed).toEqual([]);
    expect(result.kept.filter((c) => c.provider === 'neon').map((c) => c.name)).toEqual(['rd-neon-cli-20261125000000-new1']);
    await world.emulator.gone('rd-neon-cli-20261125000000-old1');
    // Answered: tries that met the project's lock (423) while another branch's operations ran do not count.
    const deleted = world.emulator.calls('deleteProjectBranch').slice(deletesBefore).filter((r) => r.status === 200).map((r) => r.params.branch_id);
    expect(deleted).toHaveLength(1);
    for (const branch of [preview, unmarked, elsewhere]) expect(world.emulator.branches.get(branch.id)).toBeDefined();

    const dropped = await cli(['drop', '--copy', 'rd-neon-cli-20261125000000-new1', '--config', configFile]);
    expect(dropped.code, dropped.stderr).toBe(0);
    await world.emulator.gone('rd-neon-cli-20261125000000-new1');
    for (const branch of [elsewhere, unmarked, preview]) world.emulator.branches.delete(branch.id);
  });
});

describe('faults give the right report and exit code', () => {
  async function runApp(extra: string[] = [], extraEnv: NodeJS.ProcessEnv = {}) {
    const result = await cli(['run', '--config', configFile, '--database', 'neon-cli', '--json', ...extra], extraEnv);
    return { code: result.code, stdout: result.stdout, stderr: result.stderr, report: (JSON.parse(result.stdout) as RunResult).drills[0]! };
  }

  test('423 Locked, then success: exit 0, one branch', async () => {
    world.emulator.faults.locked.set('createProjectBranch', 1);
    const before = createCalls().length;

    const { code, report, stderr } = await runApp();

    expect(code, stderr).toBe(0);
    expect(report.status).toBe('passed');
    expect(createCalls().slice(before).map((c) => c.status)).toEqual([423, 201]);
    await world.emulator.gone(report.copy.name!);
  });

  test('an operation Neon cancels: exit 1, status failed, the operation named, the branch removed', async () => {
    world.emulator.faults.nextOperation = 'cancelled';

    const { code, report } = await runApp();

    expect(code).toBe(1);
    expect(report).toMatchObject({ status: 'failed', error: { step: 'wait', kind: 'backup' }, copy: { removed: true } });
    expect(report.error!.message).toContain('create_branch');
    await world.emulator.gone(report.copy.name!);
  });

  test('a wrong API key: exit 2, the variable named and the key never printed, no branch', async () => {
    const wrong = 'napi_not-the-right-key-1234';
    const before = createCalls().length;

    const { code, report, stdout, stderr } = await runApp([], { NEON_API_KEY: wrong });

    expect(code).toBe(2);
    expect(report).toMatchObject({ status: 'error', error: { step: 'plan', kind: 'input' }, copy: { name: null } });
    expect(report.error!.message).toMatch(/Neon rejected the API key \(401\).*NEON_API_KEY/);
    expect(stdout + stderr).not.toContain(wrong);
    expect(createCalls()).toHaveLength(before);
  });

  test('a target older than the retention window: exit 2, no branch at all', async () => {
    const created = world.emulator.defaultBranch.createdAt;
    world.emulator.defaultBranch.createdAt = new Date(Date.now() - 2 * 86_400_000);
    world.emulator.historyRetentionSeconds = 600;
    const before = createCalls().length;

    const { code, report } = await runApp(['--target', '-1h']);
    world.emulator.historyRetentionSeconds = 86_400;
    world.emulator.defaultBranch.createdAt = created;

    expect(code).toBe(2);
    expect(report).toMatchObject({ status: 'error', error: { step: 'plan', kind: 'input' }, copy: { name: null } });
    expect(report.error!.message).toMatch(/outside the restore window/);
    expect(createCalls()).toHaveLength(before);
  });
});

test('Ctrl-C during a Neon drill removes the branch the run started, and exits 130', async () => {
  world.emulator.faults.nextOperation = 'never';
  const child = spawn(process.execPath, [cliBin, 'run', '--config', configFile, '--database', 'neon-cli'], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let progress = '';
  child.stderr.setEncoding('utf8');
  const name = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk: string) => {
      progress += chunk;
      const copy = /neon-cli: restore \((rd-neon-cli-\S+)\)/.exec(progress)?.[1];
      if (copy && /neon-cli: wait/.test(progress)) resolve(copy);
    });
    child.once('exit', () => reject(new Error(`the drill ended before it was interrupted: ${progress}`)));
  });
  const branch = world.emulator.branchNamed(name)!;
  expect(branch.state).toBe('init');

  child.kill('SIGINT');
  // The creation still runs, so Neon keeps the project locked: the removal waits (423) until it ends.
  while (!world.emulator.calls('deleteProjectBranch').some((call) => call.params.branch_id === branch.id)) await new Promise((r) => setTimeout(r, 20));
  world.emulator.releaseHeld();
  const [code] = await once(child, 'exit');

  expect(code).toBe(130);
  const deletes = world.emulator.calls('deleteProjectBranch').filter((call) => call.params.branch_id === branch.id).map((call) => call.status);
  // One removal goes through (200); any other try met the lock (423) or found it gone (404).
  expect(deletes.filter((status) => status === 200)).toEqual([200]);
  expect(deletes.filter((status) => status !== 200 && status !== 423 && status !== 404)).toEqual([]);
  await world.emulator.gone(name);
});
