import { describe, expect, test } from 'vitest';
import { configSchema } from '../../lib/config/schema.ts';
import { beginDrill } from '../../lib/drill/steps.ts';
import { drillTasks, failureOfCaught, keptUnderStateLimit, STATE_BUDGET_BYTES, withSavedChecks } from '../../lib/drill/tasks.ts';
import { memoryReportStore } from '../../lib/report/s3Store.ts';
import { runDrill } from '../../lib/drill/drill.ts';
import { exitCodeOf } from '../../lib/drill/outcome.ts';
import type { RestoreProvider } from '../../lib/providers/types.ts';
import { AwsApiError } from '../../lib/providers/rds/errors.ts';
import { emfDocuments } from '../../lib/report/metrics.ts';
import type { DrillReport } from '../../lib/report/types.ts';

describe('a failure caught by the state machine', () => {
  test("is the function's own (our errors are recorded in the state by the tasks): the tool's, named, its message from Lambda's cause", () => {
    expect(failureOfCaught({ Error: 'States.Timeout', Cause: 'Task timed out after 60.00 seconds' })).toEqual({ kind: 'tool', name: 'States.Timeout', message: 'States.Timeout: Task timed out after 60.00 seconds' });
    expect(failureOfCaught({ Error: 'Runtime.ImportModuleError', Cause: JSON.stringify({ errorType: 'Runtime.ImportModuleError', errorMessage: "Error: Cannot find module 'x'", trace: [] }) })).toEqual({
      kind: 'tool',
      name: 'Runtime.ImportModuleError',
      message: "Runtime.ImportModuleError: Error: Cannot find module 'x'",
    });
  });
});

describe('plan', () => {
  const config = configSchema.parse({ databases: [{ name: 'tasks-db', provider: { kind: 'local', baseBackups: './b', walArchive: './w' } }] });
  const tasks = drillTasks({ config, store: memoryReportStore() });

  test('a restore names its database; an unknown mode or database is refused before anything is created', async () => {
    await expect(tasks.plan({ mode: 'restore' })).rejects.toThrow(/a restore names its database/);
    await expect(tasks.plan({ mode: 'bogus' as never })).rejects.toThrow(/mode "bogus" is not known/);
    await expect(tasks.plan({ database: 'nope' })).rejects.toThrow(/no database named nope.*configured: tasks-db/);
  });

  test('a drill whose window cannot be read carries its error into the Map, for Cleanup and Report', async () => {
    const { drills } = await tasks.plan({});
    expect(drills).toHaveLength(1);
    expect(drills[0]!.report).toMatchObject({ database: 'tasks-db', trigger: 'schedule', error: { step: 'plan' } });
    expect(drills[0]!.handle).toBeUndefined();
  });

  test('Report counts a drill whose Cleanup failed as an error, without a report to read, and writes its DrillSucceeded 0', async () => {
    const lines: string[] = [];
    const reporting = drillTasks({ config, store: memoryReportStore(), metrics: { kind: 'emf-stdout', write: (line) => lines.push(line) } });

    const result = await reporting.report({ drills: [{ database: 'tasks-db', status: 'error', reportKey: null, copy: 'rd-tasks-db-20261125000000-abcd', kept: false, error: 'Lambda.Unknown' }] });

    expect(result.status).toBe('error');
    expect(result.drills[0]!.error).toMatch(/cleanup did not finish.*rd-tasks-db-20261125000000-abcd.*Lambda.Unknown/);
    // Not silent: the alarms see the drill that broke off in Cleanup.
    expect(lines.map((line) => JSON.parse(line) as { Database: string; DrillSucceeded: number }).map((emf) => [emf.Database, emf.DrillSucceeded])).toEqual([['tasks-db', 0]]);
  });
});

describe('the state between steps', () => {
  test('a Verify state over the budget goes on without the checks\' details, and Cleanup gets them back from the bucket', async () => {
    const config = configSchema.parse({ databases: [{ name: 'big-db', provider: { kind: 'local', baseBackups: './b', walArchive: './w' } }] });
    const state = beginDrill(config, config.databases[0]!, { trigger: 'schedule' });
    const rules = Array.from({ length: 3000 }, (_, i) => ({ table: `public.table_${i}`, count: i, summary: `public.table_${i}: ${i} rows, at least 1` }));
    state.report.checks = [
      { check: 'rowCounts', status: 'pass', summary: '3000 tables counted', details: { rules } },
      { check: 'freshness', status: 'pass', summary: 'fresh', details: { dataLagSeconds: 4 } },
    ];
    const store = memoryReportStore();
    expect(Buffer.byteLength(JSON.stringify(state))).toBeGreaterThan(STATE_BUDGET_BYTES);

    const slim = await keptUnderStateLimit(state, store);
    const restored = await withSavedChecks(JSON.parse(JSON.stringify(slim)) as typeof slim, store);

    expect(Buffer.byteLength(JSON.stringify(slim))).toBeLessThan(STATE_BUDGET_BYTES);
    expect(slim.report.checks.map((check) => [check.check, check.status, check.summary])).toEqual(state.report.checks.map((check) => [check.check, check.status, check.summary]));
    expect(restored.report.checks).toEqual(state.report.checks);
    expect(restored.checksKey).toBeUndefined();
    expect(await keptUnderStateLimit(restored, memoryReportStore(), 10 * STATE_BUDGET_BYTES)).toBe(restored);
  });
});

describe('one classification of failures, for the CLI and the cloud', () => {
  // Prepare: a provider whose restore AWS refuses, as the RDS provider explains an AccessDenied.
  const config = configSchema.parse({ databases: [{ name: 'denied-db', provider: { kind: 'local', baseBackups: './b', walArchive: './w' } }] });
  const database = config.databases[0]!;
  const now = () => new Date('2026-11-25T12:00:00Z');
  const refusing = (): RestoreProvider => ({
    kind: 'local',
    window: async () => ({ earliest: new Date('2026-11-24T00:00:00Z'), latest: new Date('2026-11-25T11:59:00Z') }),
    start: async () => {
      throw new AwsApiError('input', 'AccessDenied', 'AWS denied RestoreDBInstanceToPointInTime on DB instance "app-prod" in eu-west-1');
    },
    poll: async () => ({ state: 'pending' }),
    destroy: async () => undefined,
    copyNameOf: (handle) => (handle as { name: string }).name,
  });

  test('a refused restore makes the same report in the CLI runner and the state machine tasks, and a DrillSucceeded 0', async () => {
    // Act: the CLI's drill, and the cloud's Plan, Start and Cleanup on the same failure.
    const cli = (await runDrill(config, database, refusing(), { trigger: 'schedule', now })).report;
    const tasks = drillTasks({ config, store: memoryReportStore(), providerFor: refusing, now });
    const [planned] = (await tasks.plan({})).drills;
    const started = await tasks.start(planned!);
    const summary = await tasks.cleanup(started);

    // Assess
    const pick = (report: DrillReport) => ({ status: report.status, error: report.error, metrics: emfDocuments([report]).map((document) => document.DrillSucceeded) });
    expect(started.report.error).toEqual({ step: 'restore', kind: 'input', name: 'AwsApiError', message: expect.stringContaining('AWS denied') });
    expect(summary.status).toBe('error');
    expect(pick(cli)).toEqual({ status: 'error', error: started.report.error, metrics: [0] });
    expect(exitCodeOf([cli])).toBe(2);
  });
});

describe('a target the backups do not reach', () => {
  // Log uploads that stopped six hours ago: a drill of -15m finds the latest restorable time far behind it.
  const config = configSchema.parse({ databases: [{ name: 'stale-db', target: '-15m', provider: { kind: 'local', baseBackups: './b', walArchive: './w' } }] });
  const database = config.databases[0]!;
  const now = () => new Date('2026-11-25T12:00:00Z');
  const stale = (): RestoreProvider => ({
    kind: 'local',
    window: async () => ({ earliest: new Date('2026-11-20T00:00:00Z'), latest: new Date('2026-11-25T06:00:00Z') }),
    start: async () => {
      throw new Error('nothing may be created');
    },
    poll: async () => ({ state: 'pending' }),
    destroy: async () => undefined,
    copyNameOf: (handle) => (handle as { name: string }).name,
  });

  test('is a failed drill with its claimed RPO, in the CLI and in the cloud, never a refusal; nothing is created', async () => {
    // Act
    const cli = (await runDrill(config, database, stale(), { trigger: 'schedule', now })).report;
    const tasks = drillTasks({ config, store: memoryReportStore(), providerFor: stale, now });
    const [planned] = (await tasks.plan({})).drills;
    const summary = await tasks.cleanup(planned!);

    // Assess
    for (const report of [cli, planned!.report]) {
      expect(report.error).toMatchObject({ step: 'plan', kind: 'backup', name: 'TargetBeyondBackupsError', message: expect.stringMatching(/after the latest restorable time 2026-11-25T06:00:00.000Z: the backups do not reach it/) });
      expect(report.rpo.claimedSeconds).toBe(6 * 3600);
    }
    expect(cli.status).toBe('failed');
    expect(summary.status).toBe('failed');
    expect(exitCodeOf([cli])).toBe(1);
    expect(emfDocuments([cli]).map((document) => [document.DrillSucceeded, document.RpoClaimedSeconds])).toEqual([[0, 6 * 3600]]);
  });
});

describe('the state between steps, in the execution history', () => {
  test("carries no secret: a step's failure is redacted as every outward text", async () => {
    // Prepare: a provider whose error quotes a connection string with its password.
    const config = configSchema.parse({ databases: [{ name: 'leaky-db', provider: { kind: 'local', baseBackups: './b', walArchive: './w' } }] });
    const leaky = (): RestoreProvider => ({
      kind: 'local',
      window: async () => ({ earliest: new Date('2026-11-24T00:00:00Z'), latest: new Date('2026-11-25T11:59:00Z') }),
      start: async () => {
        throw new Error('could not reach postgres://checks:Sup3rS3cretPw@db.internal:5432/app');
      },
      poll: async () => ({ state: 'pending' }),
      destroy: async () => undefined,
      copyNameOf: (handle) => (handle as { name: string }).name,
    });
    const tasks = drillTasks({ config, store: memoryReportStore(), providerFor: leaky, now: () => new Date('2026-11-25T12:00:00Z') });

    // Act
    const [planned] = (await tasks.plan({})).drills;
    const started = await tasks.start(planned!);

    // Assess
    expect(started.report.error?.message).toMatch(/could not reach postgres:\/\//);
    expect(JSON.stringify(started)).not.toContain('Sup3rS3cretPw');
  });
});
