import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import { drillTasks, type ReportOutput } from '../../lib/drill/tasks.ts';
import { providerFor } from '../../lib/providers/index.ts';
import { memoryReportStore } from '../../lib/report/s3Store.ts';
import { StateMachine } from 'aws-local-stepfunctions';
import { databaseConfig, leftoverCopies, rdsWorld, useFakeAwsCredentials, useOwnScratch, type RdsWorld } from '../emulators/rds/world.ts';
import { synthesisedDefinition } from '../support/definition.ts';

useOwnScratch('state-machine-rds-test');
useFakeAwsCredentials();

let world: RdsWorld;

beforeAll(async () => {
  world = await rdsWorld();
}, 120_000);

afterAll(async () => {
  if (!world) return;
  await world.remove();
  expect(await leftoverCopies()).toEqual([]);
});

describe('the synthesised state machine over the RDS emulator', () => {
  test('an RDS drill through the real SDK: restored, verified over TLS, removed, reported', async () => {
    // Prepare
    const config = await validateConfig({ rpoTargetSeconds: 3600, rtoTargetSeconds: 600, databases: [databaseConfig(world, 'rds')] }, world.project);
    const store = memoryReportStore();
    const tasks = drillTasks({ config, store, providerFor: (database) => providerFor(database, { aws: { removalRetryMs: 20, removalWaitMs: 5_000 } }), log: () => {} });
    const machine = new StateMachine(synthesisedDefinition() as never, { validationOptions: { checkArn: false } });

    // Act
    const result = (await machine.run(
      { mode: 'drill' },
      { overrides: { taskResourceLocalHandlers: { Plan: tasks.plan, Start: tasks.start, Poll: tasks.poll, Verify: tasks.verify, Cleanup: tasks.cleanup, Report: tasks.report } as never, waitTimeOverrides: { WaitForCopy: 50 } } },
    ).result) as unknown as ReportOutput;

    // Assess
    const report = [...store.reports.values()][0]!;
    expect(report.error, JSON.stringify(report.error)).toBeUndefined();
    expect(result).toMatchObject({ status: 'passed', drills: [{ database: 'app', status: 'passed' }] });
    expect(report).toMatchObject({ provider: 'rds', status: 'passed', trigger: 'schedule', copy: { removed: true, kept: false } });
    expect(report.checks.map((check) => [check.check, check.status])).toEqual([
      ['ledger', 'pass'],
      ['rowCounts', 'pass'],
      ['freshness', 'pass'],
    ]);
    expect(world.emulator.calls('RestoreDBInstanceToPointInTime').at(-1)!.params).toMatchObject({ TargetDBInstanceIdentifier: report.copy.name, PubliclyAccessible: 'false' });
    // The state between tasks never held the copy's password.
    expect(JSON.stringify(result)).not.toContain('password":"');
  }, 180_000);
});
