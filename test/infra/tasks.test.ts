import { describe, expect, test } from 'vitest';
import { configSchema } from '../../lib/config/schema.ts';
import { beginDrill } from '../../lib/drill/steps.ts';
import { drillTasks, failureOfCaught, keptUnderStateLimit, STATE_BUDGET_BYTES, withSavedChecks } from '../../lib/drill/tasks.ts';
import { memoryReportStore } from '../../lib/report/s3Store.ts';

describe('a failure caught by the state machine', () => {
  test("our error keeps its kind by its stable name, and its message from Lambda's cause", () => {
    const cause = JSON.stringify({ errorType: 'RestoreTimeoutError', errorMessage: 'copy rd-x was not ready after 60 s (restoreTimeoutSeconds)', trace: [] });
    expect(failureOfCaught({ Error: 'RestoreTimeoutError', Cause: cause })).toEqual({ kind: 'backup', message: 'copy rd-x was not ready after 60 s (restoreTimeoutSeconds)' });
    expect(failureOfCaught({ Error: 'TargetOutsideWindowError', Cause: JSON.stringify({ errorMessage: 'outside' }) })).toEqual({ kind: 'input', message: 'outside' });
  });

  test("Lambda's own failures are the tool's, named", () => {
    expect(failureOfCaught({ Error: 'States.Timeout', Cause: 'Task timed out after 60.00 seconds' })).toEqual({ kind: 'tool', message: 'States.Timeout: Task timed out after 60.00 seconds' });
    expect(failureOfCaught({ Error: 'TypeError', Cause: JSON.stringify({ errorMessage: 'x is undefined' }) })).toEqual({ kind: 'tool', message: 'TypeError: x is undefined' });
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

  test('Report counts a drill whose Cleanup failed as an error, without a report to read', async () => {
    const result = await tasks.report({ drills: [{ database: 'tasks-db', status: 'error', reportKey: null, copy: 'rd-tasks-db-20261125000000-abcd', kept: false, error: 'Lambda.Unknown' }] });
    expect(result.status).toBe('error');
    expect(result.drills[0]!.error).toMatch(/cleanup did not finish.*rd-tasks-db-20261125000000-abcd.*Lambda.Unknown/);
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
