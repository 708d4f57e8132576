import { StateMachine } from 'aws-local-stepfunctions';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { configSchema, type DatabaseConfig } from '../../lib/config/schema.ts';
import { drillTasks, type ReportOutput } from '../../lib/drill/tasks.ts';
import { providerFor } from '../../lib/providers/index.ts';
import type { RestoreProvider } from '../../lib/providers/types.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { memoryReportStore } from '../../lib/report/s3Store.ts';
import { synthesisedDefinition } from '../support/definition.ts';
import { copyFolders, copyServers } from '../support/leftovers.ts';
import { insertRow, localSourceOf, testSource } from '../support/source.ts';

let source: SourceCluster;
const names = { pass: 'sfn-pass', checkFails: 'sfn-checkfail', restoreFails: 'sfn-restorefail', timesOut: 'sfn-timeout' };

beforeAll(async () => {
  source = await testSource();
  await source.query('create table sfn_events (id int primary key, note text)');
  await source.takeBaseBackup('base-1');
  for (const id of [1, 2, 3]) await insertRow(source, 'sfn_events', id);
  await source.switchWal();
}, 120_000);

afterAll(async () => {
  await source?.remove();
});

describe('the synthesised state machine, run locally over the local provider', () => {
  test('a passing drill, a failing check, a failed restore and a timed-out restore: each copy removed, each report right', async () => {
    const local = { kind: 'local' as const, ...localSourceOf(source) };
    const config = configSchema.parse({
      concurrency: 2,
      databases: [
        { name: names.pass, provider: local, checks: { rowCounts: [{ table: 'public.sfn_events', min: 3 }] } },
        { name: names.checkFails, provider: local, checks: { rowCounts: [{ table: 'public.sfn_events', min: 1000 }] } },
        { name: names.restoreFails, provider: local },
        { name: names.timesOut, provider: local, restoreTimeoutSeconds: 1 },
      ],
    });
    const store = memoryReportStore();
    // Failures are injected around the real local provider: the copy is really made, and must really go.
    const provider = (database: DatabaseConfig): RestoreProvider => {
      const real = providerFor(database, { durable: false });
      if (database.name === names.restoreFails) return { ...real, poll: async () => ({ state: 'failed', reason: 'the copy crashed during recovery (injected)' }) };
      if (database.name === names.timesOut) return { ...real, poll: async () => ({ state: 'pending', detail: 'still replaying (injected)' }) };
      return real;
    };
    const tasks = drillTasks({ config, store, providerFor: provider, log: () => {} });
    const machine = new StateMachine(synthesisedDefinition() as never, { validationOptions: { checkArn: false } });
    const execution = machine.run(
      { mode: 'drill', trigger: 'schedule' },
      {
        overrides: {
          taskResourceLocalHandlers: { Plan: tasks.plan, Start: tasks.start, Poll: tasks.poll, Verify: tasks.verify, Cleanup: tasks.cleanup, Report: tasks.report } as never,
          waitTimeOverrides: { WaitForCopy: 300 },
        },
      },
    );
    const result = (await execution.result) as unknown as ReportOutput;

    expect(result.status).toBe('failed');
    const reports = Object.fromEntries([...store.reports.values()].map((report) => [report.database, report]));
    expect(reports[names.pass]).toMatchObject({ status: 'passed', trigger: 'schedule', copy: { removed: true, kept: false } });
    expect(reports[names.pass]!.checks).toEqual([expect.objectContaining({ check: 'connection', status: 'pass' }), expect.objectContaining({ check: 'rowCounts', status: 'pass' })]);
    expect(reports[names.checkFails]).toMatchObject({ status: 'failed', copy: { removed: true } });
    expect(reports[names.checkFails]!.checks).toEqual([expect.objectContaining({ check: 'connection', status: 'pass' }), expect.objectContaining({ check: 'rowCounts', status: 'fail' })]);
    expect(reports[names.restoreFails]).toMatchObject({
      status: 'failed',
      copy: { removed: true },
      error: { step: 'wait', kind: 'backup', message: 'the copy crashed during recovery (injected)' },
    });
    expect(reports[names.timesOut]).toMatchObject({ status: 'failed', copy: { removed: true }, error: { step: 'wait', kind: 'backup' } });
    expect(reports[names.timesOut]!.error!.message).toMatch(/was not ready after 1 s \(restoreTimeoutSeconds\)/);
    expect(result.reportKeys).toHaveLength(4);
    expect(result.drills.map((drill) => drill.status).sort()).toEqual(['failed', 'failed', 'failed', 'passed']);
    for (const name of Object.values(names)) {
      expect(await copyFolders(name)).toEqual([]);
      expect(await copyServers(name)).toEqual([]);
    }
  }, 180_000);

  test('a manual restore keeps its copy, with its expiry and connection, and runs no checks', async () => {
    const config = configSchema.parse({ databases: [{ name: 'sfn-manual', provider: { kind: 'local', ...localSourceOf(source) }, checks: { rowCounts: [{ table: 'public.sfn_events', min: 1000 }] } }] });
    const store = memoryReportStore();
    const providers: RestoreProvider[] = [];
    const tasks = drillTasks({ config, store, providerFor: (database) => providers[providers.push(providerFor(database, { durable: false })) - 1]!, log: () => {} });
    const machine = new StateMachine(synthesisedDefinition() as never, { validationOptions: { checkArn: false } });
    const result = (await machine.run(
      { mode: 'restore', database: 'sfn-manual', target: 'latest', keep: true, keepForSeconds: 600 },
      { overrides: { taskResourceLocalHandlers: { Plan: tasks.plan, Start: tasks.start, Poll: tasks.poll, Verify: tasks.verify, Cleanup: tasks.cleanup, Report: tasks.report } as never, waitTimeOverrides: { WaitForCopy: 100 } } },
    ).result) as unknown as ReportOutput;
    const report = [...store.reports.values()][0]!;
    try {
      expect(result.status).toBe('passed');
      expect(report).toMatchObject({ trigger: 'manual', checks: [], copy: { kept: true, removed: false } });
      expect(Date.parse(report.copy.expiresAt!) - Date.parse(report.startedAt)).toBeGreaterThanOrEqual(599_000);
      expect(report.copy.connection).toBeDefined();
      expect(await copyFolders('sfn-manual')).toHaveLength(1);
    } finally {
      const listed = (await providers[0]!.listCopies?.()) ?? [];
      for (const copy of listed.filter((copy) => copy.name.startsWith('rd-sfn-manual-'))) await providers[0]!.destroy(copy.handle);
    }
    expect(await copyFolders('sfn-manual')).toEqual([]);
  }, 120_000);
});
