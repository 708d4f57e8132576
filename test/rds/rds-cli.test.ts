import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { newClient } from '../../lib/util/pgClient.ts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import { providerFor } from '../../lib/providers/index.ts';
import { listCopies, startCopy } from '../../lib/providers/local/engine.ts';
import type { JanitorResult } from '../../lib/janitor.ts';
import type { RunResult } from '../../lib/report/types.ts';
import { cliBin, repoRoot, runCli } from '../support/cli.ts';
import { databaseConfig, rdsWorld, SOURCE_PASSWORD, useFakeAwsCredentials, useOwnScratch, type RdsWorld } from '../emulators/rds/world.ts';
import { removeWorldCheckingSource } from '../emulators/rds/teardown.ts';

// The emulator's copies live in a scratch root of this file's own (see useOwnScratch).
useOwnScratch('rds-cli-test');
const env: NodeJS.ProcessEnv = { RESTORE_DRILL_SCRATCH: process.env.RESTORE_DRILL_SCRATCH };
useFakeAwsCredentials(env);
useFakeAwsCredentials();

let world: RdsWorld;
let configFile: string;

/** The CLI as a user runs it: a config file whose `endpoint` points the SDK at the emulator. */
async function writeConfig(name: string, databases: Record<string, unknown>[]): Promise<string> {
  const file = join(world.project, name);
  await writeFile(file, JSON.stringify({ rpoTargetSeconds: 3600, rtoTargetSeconds: 600, databases, report: { dir: './reports' } }, null, 2));
  return file;
}

const cli = (args: string[]) => runCli(args, { env });

beforeAll(async () => {
  world = await rdsWorld();
  configFile = await writeConfig('restore-drill.config.json', [
    databaseConfig(world, 'rds'),
    { ...databaseConfig(world, 'aurora'), name: 'app-aurora' },
  ]);
});

afterAll(() => removeWorldCheckingSource(world));

describe('restore-drill run against the emulator', () => {
  test('drills the RDS instance and the Aurora cluster: both pass, reports are written, no password anywhere', async () => {
    const result = await cli(['run', '--config', configFile, '--json']);

    expect(result.code, result.stderr).toBe(0);
    const run = JSON.parse(result.stdout) as RunResult;
    expect(run.drills.map((d) => [d.database, d.provider, d.status, d.copy.removed])).toEqual([
      ['app', 'rds', 'passed', true],
      ['app-aurora', 'aurora', 'passed', true],
    ]);
    for (const drill of run.drills) {
      expect(drill.checks.map((c) => [c.check, c.status])).toEqual([['connection', 'pass'], ['ledger', 'pass'], ['rowCounts', 'pass'], ['freshness', 'pass']]);
      await world.emulator.gone(drill.copy.name!);
    }
    const reports = await readdir(join(world.project, 'reports'));
    const stored = await Promise.all(reports.map((file) => readFile(join(world.project, 'reports', file), 'utf8')));
    expect(stored).toHaveLength(2);
    for (const text of [result.stdout, result.stderr, ...stored]) expect(text).not.toContain(SOURCE_PASSWORD);
  });

  test('window prints the source instance\'s restorable window', async () => {
    const result = await cli(['window', '--config', configFile, '--database', 'app', '--json']);

    expect(result.code, result.stderr).toBe(0);
    const window = JSON.parse(result.stdout) as { earliest: string; latest: string };
    expect(Date.parse(window.earliest)).toBeLessThan(Date.parse(window.latest));
    expect(world.emulator.calls('DescribeDBInstanceAutomatedBackups').length).toBeGreaterThan(0);
  });
});

describe('faults give the right report and exit code', () => {
  async function runApp(extra: string[] = [], file = configFile) {
    const result = await cli(['run', '--config', file, '--database', 'app', '--json', ...extra]);
    return { code: result.code, stderr: result.stderr, report: (JSON.parse(result.stdout) as RunResult).drills[0]! };
  }

  test('incompatible-restore: exit 1, status failed, the status named, the copy removed', async () => {
    world.emulator.faults.nextRestore = 'incompatible-restore';

    const { code, report } = await runApp();

    expect(code).toBe(1);
    expect(report).toMatchObject({ status: 'failed', error: { step: 'wait', kind: 'backup' }, copy: { removed: true } });
    expect(report.error!.message).toContain('incompatible-restore');
    await world.emulator.gone(report.copy.name!);
  });

  test('Throttling twice then success: exit 0', async () => {
    world.emulator.faults.throttle.set('RestoreDBInstanceToPointInTime', 2);

    const { code, report, stderr } = await runApp();

    expect(code, stderr).toBe(0);
    expect(report.status).toBe('passed');
    const restores = world.emulator.calls('RestoreDBInstanceToPointInTime').filter((c) => c.params.TargetDBInstanceIdentifier === report.copy.name);
    expect(restores.map((c) => c.error ?? 'ok')).toEqual(['Throttling', 'Throttling', 'ok']);
    await world.emulator.gone(report.copy.name!);
  });

  test('a restore that never finishes: exit 1 after restoreTimeoutSeconds, the copy removed', async () => {
    world.emulator.faults.nextRestore = 'never';
    const file = await writeConfig('timeout.config.json', [databaseConfig(world, 'rds', { restoreTimeoutSeconds: 1 })]);

    const { code, report } = await runApp([], file);

    expect(code).toBe(1);
    expect(report).toMatchObject({ status: 'failed', error: { step: 'wait', kind: 'backup' }, copy: { removed: true } });
    expect(report.error!.message).toMatch(/not ready after 1 s/);
    await world.emulator.gone(report.copy.name!);
  });

  test('a target outside the window: exit 2, no copy at all', async () => {
    const restores = world.emulator.calls('RestoreDBInstanceToPointInTime').length;

    const { code, report } = await runApp(['--target', '2001-01-01T00:00:00Z']);

    expect(code).toBe(2);
    expect(report).toMatchObject({ status: 'error', error: { step: 'plan', kind: 'input' }, copy: { name: null } });
    expect(world.emulator.calls('RestoreDBInstanceToPointInTime')).toHaveLength(restores);
  });
});

test('restore --keep leaves a copy reachable over verified TLS with the secret\'s password; drop removes it', async () => {
  const result = await cli(['restore', '--config', configFile, '--database', 'app', '--target', 'latest', '--keep', '--keep-for', '2h']);

  expect(result.code, result.stderr).toBe(0);
  const name = /The copy (rd-app-\S+) stays until/.exec(result.stdout)![1]!;
  const psql = /psql "host=(\S+) port=(\d+) dbname=(\S+) user=(\S+) sslmode=verify-full"/.exec(result.stdout)!;
  expect(psql).not.toBeNull();
  expect(result.stdout).toContain(`password: the source's secret ${world.secretArn}`);
  expect(result.stdout + result.stderr).not.toContain(SOURCE_PASSWORD);
  expect(world.emulator.instances.get(name)?.status).toBe('available');
  // The time printed is the one the copy is tagged with, which the janitor goes by.
  const until = /stays until (\S+):/.exec(result.stdout)![1];
  expect(world.emulator.instances.get(name)!.tags.find((tag) => tag.Key === 'restore-drill:expires-at')?.Value).toBe(until);
  const client = newClient({ host: psql[1], port: Number(psql[2]), database: psql[3], user: psql[4], password: SOURCE_PASSWORD, ssl: { ca: world.ca.caPem } });
  await client.connect();
  const { rows } = await client.query<{ n: number }>('select count(*)::int as n from users');
  await client.end();
  expect(rows[0]!.n).toBe(3);

  const dropped = await cli(['drop', '--copy', name, '--config', configFile]);

  expect(dropped.code, dropped.stderr).toBe(0);
  await world.emulator.gone(name);
});

test('restore --keep of the Aurora cluster: the cluster and its instance stay; drop removes both', async () => {
  const result = await cli(['restore', '--config', configFile, '--database', 'app-aurora', '--target', 'latest', '--keep']);

  expect(result.code, result.stderr).toBe(0);
  const name = /The copy (rd-app-aurora-\S+) stays until/.exec(result.stdout)![1]!;
  expect(world.emulator.clusters.get(name)?.status).toBe('available');
  expect(world.emulator.instances.get(`${name}-i1`)?.status).toBe('available');
  expect(result.stdout).toContain(`remove it with: restore-drill drop --copy ${name} --config ${configFile}`);

  const dropped = await cli(['drop', '--copy', name, '--config', configFile]);

  expect(dropped.code, dropped.stderr).toBe(0);
  await world.emulator.gone(`${name}-i1`);
  await world.emulator.gone(name);
});

test('drop refuses a copy name that RDS does not know as ours (exit 2)', async () => {
  const result = await cli(['drop', '--copy', 'rd-app-20200101000000-none', '--config', configFile]);

  expect(result.code).toBe(2);
  expect(result.stderr).toContain('rds has no copy named rd-app-20200101000000-none carrying our tags');
});

test('janitor removes our expired copies (instance, cluster, local), and leaves the rest alone', async () => {
  // Prepare: copies a crash left behind (expired), one still in use, and look-alikes that are not ours.
  const local = { name: 'scratch', provider: { kind: 'local', baseBackups: world.source.backupsDir, walArchive: world.source.archiveDir } };
  const file = await writeConfig('janitor.config.json', [...(JSON.parse(await readFile(configFile, 'utf8')) as { databases: Record<string, unknown>[] }).databases, local]);
  const config = await validateConfig(JSON.parse(await readFile(file, 'utf8')), world.project);
  const [rds, aurora] = config.databases.map((database) => providerFor(database));
  await startCopy({ source: local.provider, target: { kind: 'latest' }, name: 'rd-scratch-20261125000000-old3', expiresAt: new Date(Date.now() - 60_000), connection: { database: 'postgres', user: 'postgres' }, durable: false });
  const past = new Date(Date.now() - 60_000);
  await rds!.start({ target: { kind: 'latest' }, copyName: 'rd-app-20261125000000-old1', expiresAt: past });
  await rds!.start({ target: { kind: 'latest' }, copyName: 'rd-app-20261125000000-new1', expiresAt: new Date(Date.now() + 3_600_000) });
  await aurora!.start({ target: { kind: 'latest' }, copyName: 'rd-app-aurora-20261125000000-old2', expiresAt: past });
  world.emulator.addOtherInstance({ id: 'rd-app-20200101000000-fake', tags: [{ Key: 'restore-drill:expires-at', Value: '2020-01-01T00:00:00Z' }] });
  world.emulator.addOtherInstance({ id: 'legacy-reporting', tags: [{ Key: 'restore-drill:managed', Value: 'true' }, { Key: 'restore-drill:expires-at', Value: '2020-01-01T00:00:00Z' }] });
  const deletesBefore = world.emulator.requests.filter((r) => r.action.startsWith('Delete')).length;

  // Act: a dry run first, then the real one.
  const dry = await cli(['janitor', '--config', file, '--dry-run', '--json']);
  const deletesAfterDryRun = world.emulator.requests.filter((r) => r.action.startsWith('Delete')).length;
  const localAfterDryRun = (await listCopies()).map((copy) => copy.name);
  const real = await cli(['janitor', '--config', file, '--json']);

  // Assess
  expect(dry.code, dry.stderr).toBe(0);
  const expired = ['rd-app-20261125000000-old1', 'rd-app-aurora-20261125000000-old2', 'rd-scratch-20261125000000-old3'];
  expect((JSON.parse(dry.stdout) as JanitorResult).removed.map((c) => c.name).sort()).toEqual(expired);
  expect(deletesAfterDryRun).toBe(deletesBefore);
  expect(localAfterDryRun).toContain('rd-scratch-20261125000000-old3');
  expect(real.code, real.stderr).toBe(0);
  const result = JSON.parse(real.stdout) as JanitorResult;
  expect(result.removed.map((c) => c.name).sort()).toEqual(expired);
  expect(result.failed).toEqual([]);
  expect((await listCopies()).map((copy) => copy.name)).not.toContain('rd-scratch-20261125000000-old3');
  // The emulator's own local restores are local copies of ours too, not expired: kept.
  expect(result.kept.filter((c) => c.provider !== 'local').map((c) => c.name)).toEqual(['rd-app-20261125000000-new1']);
  await world.emulator.gone('rd-app-20261125000000-old1');
  await world.emulator.gone('rd-app-aurora-20261125000000-old2');
  expect(world.emulator.instances.get('rd-app-20261125000000-new1')).toBeDefined();
  expect(world.emulator.instances.get('rd-app-20200101000000-fake')?.status).toBe('available');
  expect(world.emulator.instances.get('legacy-reporting')?.status).toBe('available');
  const deleted = world.emulator.requests.filter((r) => r.action.startsWith('Delete')).map((r) => r.params.DBInstanceIdentifier ?? r.params.DBClusterIdentifier);
  expect(deleted).not.toContain('rd-app-20200101000000-fake');
  expect(deleted).not.toContain('legacy-reporting');

  await rds!.destroy({ provider: 'rds', name: 'rd-app-20261125000000-new1', instanceId: 'rd-app-20261125000000-new1' } as never);
  await world.emulator.gone('rd-app-20261125000000-new1');
});

test('Ctrl-C during an RDS drill removes the copy the run started, and exits 130', async () => {
  world.emulator.faults.nextRestore = 'never';
  const child = spawn(process.execPath, [cliBin, 'run', '--config', configFile, '--database', 'app'], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let progress = '';
  child.stderr.setEncoding('utf8');
  const name = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk: string) => {
      progress += chunk;
      const copy = /app: restore \((rd-app-\S+)\)/.exec(progress)?.[1];
      if (copy && /app: wait/.test(progress)) resolve(copy);
    });
    child.once('exit', () => reject(new Error(`the drill ended before it was interrupted: ${progress}`)));
  });
  expect(world.emulator.instances.get(name)?.status).toBe('creating');

  child.kill('SIGINT');
  const [code] = await once(child, 'exit');

  expect(code).toBe(130);
  expect(world.emulator.calls('DeleteDBInstance').filter((call) => call.params.DBInstanceIdentifier === name).map((call) => call.error ?? 'ok')).toEqual(['ok']);
  await world.emulator.gone(name);
});
