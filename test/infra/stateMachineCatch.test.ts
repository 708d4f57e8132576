import { StateMachine } from 'aws-local-stepfunctions';
import { expect, test } from 'vitest';
import { configSchema } from '../../lib/config/schema.ts';
import { drillTasks, type ReportOutput } from '../../lib/drill/tasks.ts';
import type { RestoreProvider } from '../../lib/providers/types.ts';
import { memoryReportStore } from '../../lib/report/s3Store.ts';
import { synthesisedDefinition } from '../support/definition.ts';

const config = configSchema.parse({
  databases: [
    { name: 'catch-a', provider: { kind: 'local', baseBackups: './b', walArchive: './w' } },
    { name: 'catch-b', provider: { kind: 'local', baseBackups: './b', walArchive: './w' } },
  ],
});

/** A provider that can only plan: the window of a healthy source. */
const planning: RestoreProvider = {
  kind: 'local',
  window: async () => ({ earliest: new Date(Date.now() - 86_400_000), latest: new Date(Date.now() - 60_000) }),
  start: async () => {
    throw new Error('not reached');
  },
  poll: async () => ({ state: 'pending' }),
  destroy: async () => undefined,
  copyNameOf: (handle) => (handle as { name: string }).name,
};

function run(overrides: Record<string, (input: never) => Promise<unknown>>, input: Record<string, unknown> = { mode: 'drill', trigger: 'schedule' }) {
  const store = memoryReportStore();
  const lines: string[] = [];
  const tasks = drillTasks({ config, store, providerFor: () => planning, metrics: { kind: 'emf-stdout', write: (line) => lines.push(line) }, log: () => {} });
  const handlers = { Plan: tasks.plan, Start: tasks.start, Poll: tasks.poll, Verify: tasks.verify, Cleanup: tasks.cleanup, Report: tasks.report, ...overrides };
  const machine = new StateMachine(synthesisedDefinition() as never, { validationOptions: { checkArn: false } });
  const execution = machine.run(input as never, { overrides: { taskResourceLocalHandlers: handlers as never, waitTimeOverrides: { WaitForCopy: 1 } } });
  const succeeded = (emf: string) => JSON.parse(emf) as { Database: string; DrillSucceeded: number };
  return { result: execution.result as Promise<unknown> as Promise<ReportOutput>, store, metrics: () => lines.map(succeeded).map((emf) => [emf.Database, emf.DrillSucceeded]) };
}

test('a Plan that fails unexpectedly (a crash, its time limit) still ends in Report: a report per database and DrillSucceeded 0', async () => {
  const { result, store, metrics } = run({
    Plan: async () => {
      throw new Error('Task timed out after 60.00 seconds');
    },
  });

  const output = await result;

  expect(output.status).toBe('error');
  const reports = [...store.reports.values()];
  expect(reports.map((report) => report.database).sort()).toEqual(['catch-a', 'catch-b']);
  for (const report of reports) {
    expect(report).toMatchObject({ status: 'error', error: { step: 'plan', kind: 'tool' } });
    expect(report.error!.message).toMatch(/Plan failed.*Task timed out after 60\.00 seconds/);
  }
  expect(metrics().sort()).toEqual([['catch-a', 0], ['catch-b', 0]]);
});

test('a distributed Map that fails (a child execution the Map cannot finish) still ends in Report, each planned drill reported with its copy name', async () => {
  // A Start whose answer is not a drill's state, then a Poll that fails: its Catch cannot put the failure into
  // that answer (States.ResultPathMatchFailure), so the item's child execution fails, and with it the Map.
  const { result, store, metrics } = run({
    Start: async () => 'lost',
    Poll: async () => {
      throw new Error('the function crashed');
    },
  });

  const output = await result;

  expect(output.status).toBe('error');
  const reports = [...store.reports.values()];
  expect(reports.map((report) => report.database).sort()).toEqual(['catch-a', 'catch-b']);
  for (const report of reports) {
    expect(report.status).toBe('error');
    expect(report.error).toMatchObject({ kind: 'tool' });
    expect(report.error!.message).toMatch(/the drills' Map failed/);
    expect(report.copy.name).toMatch(/^rd-catch-[ab]-\d{14}-[a-z0-9]{4}$/);
  }
  expect(metrics().sort()).toEqual([['catch-a', 0], ['catch-b', 0]]);
});

test('input the Plan refuses (an unknown database) still fails the execution, and writes no report: a refusal made nothing', async () => {
  const { result, store, metrics } = run({}, { mode: 'drill', databases: ['nope'] });

  await expect(result).rejects.toThrow(/no database named nope/);
  expect(store.reports.size).toBe(0);
  expect(metrics()).toEqual([]);
});
