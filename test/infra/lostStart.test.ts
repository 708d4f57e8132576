import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import type { DatabaseConfig, RestoreDrillConfig } from '../../lib/config/schema.ts';
import { drillTasks } from '../../lib/drill/tasks.ts';
import { RestoreDrillStack } from '../../lib/infra/restoreDrill.ts';
import { providerFor } from '../../lib/providers/index.ts';
import { memoryReportStore } from '../../lib/report/s3Store.ts';
import { databaseConfig, leftoverCopies, rdsWorld, useFakeAwsCredentials, useOwnScratch, type RdsWorld } from '../emulators/rds/world.ts';
import { cliPrincipal, IamAuthority, principalsFromTemplate, type Principal, type TemplateResource } from '../support/iam/index.ts';

// A Start whose answer was lost after RDS had accepted the restore (its Lambda timed out while the SDK
// waited, the connection dropped): the state the Catch hands Cleanup carries no handle. IAM is the
// synthesised stack's, enforced by the emulator on every call.
useOwnScratch('lost-start-test');
useFakeAwsCredentials();

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
let world: RdsWorld;
let config: RestoreDrillConfig;
let principals: Map<string, Principal>;
let outdir: string;

beforeAll(async () => {
  // Describe by identifier misses a new copy for a while, as RDS does right after a create.
  world = await rdsWorld({ behaviour: { notFoundAfterCreate: 2 } });
  config = await validateConfig({ rpoTargetSeconds: 3600, databases: [databaseConfig(world, 'rds', { name: 'app' })] }, world.project);
  outdir = await mkdtemp(join(tmpdir(), 'rd-lost-start-'));
  const stack = new RestoreDrillStack(new App({ outdir }), 'LostStart', {
    config,
    settings: {
      schedules: [{ name: 'nightly', expression: 'cron(0 3 * * ? *)' }],
      vpc: { vpcId: 'vpc-0123abcd', subnetIds: ['subnet-0123abcd', 'subnet-0456abcd'], availabilityZones: ['us-east-1a', 'us-east-1b'] },
    },
  });
  const template = Template.fromStack(stack).toJSON() as { Resources: Record<string, TemplateResource> };
  principals = principalsFromTemplate(template, {
    accountId: ACCOUNT,
    region: REGION,
    resolve: (token) => {
      const ref = (token as { Ref?: string }).Ref;
      const [id, attribute] = (token as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'] ?? [];
      if (ref?.startsWith('RestoreDrillReports')) return 'restore-drill-reports-lost-start';
      if (ref?.startsWith('RestoreDrillCopySubnetGroup')) return 'drill-subnets';
      if (id?.startsWith('RestoreDrillCopySecurityGroup') && attribute === 'GroupId') return 'sg-0drill000000000001';
      return undefined;
    },
  });
  world.emulator.iam = new IamAuthority([...principals.values(), cliPrincipal()]);
}, 180_000);

afterAll(async () => {
  await world?.remove();
  if (outdir) await rm(outdir, { recursive: true, force: true });
  expect(await leftoverCopies()).toEqual([]);
});

function fn(name: string): Principal {
  const found = [...principals.values()].find((principal) => new RegExp(`^RestoreDrill${name}[0-9A-F]{8}$`).test(principal.name));
  if (!found) throw new Error(`no function ${name}`);
  return found;
}

/** The tasks as one function runs them: the provider's calls signed with that function's role. */
function tasksAs(name: string) {
  const credentials = { accessKeyId: fn(name).accessKeyId, secretAccessKey: fn(name).secretAccessKey };
  const providerOf = (database: DatabaseConfig) => providerFor(database, { aws: { clientConfig: { credentials }, removalRetryMs: 20, removalWaitMs: 10_000 } });
  return drillTasks({ config, store, providerFor: providerOf, log: () => {}, lostCopyWaitMs: 1000 });
}
const store = memoryReportStore();

test('Cleanup finds the copy a lost Start made, by its planned name and our tag, removes it, and the report says so (red-team finding)', async () => {
  const { drills } = await tasksAs('Plan').plan({});
  const planned = drills[0]!;
  const name = planned.report.copy.name!;
  const mark = world.emulator.requests.length;
  // Start runs and RDS accepts the restore; then its Lambda ends before the answer comes back.
  await tasksAs('Start').start(planned);
  expect(world.emulator.instances.has(name)).toBe(true);

  const summary = await tasksAs('Cleanup').cleanup({ ...planned, failure: { Error: 'States.Timeout', Cause: 'Task timed out after 120.00 seconds' } });

  const denied = world.emulator.requests.slice(mark).filter((request) => request.denied).map((request) => `${request.action}: ${request.denied}`);
  expect(denied).toEqual([]);
  await world.emulator.gone(name);
  const report = await store.get(summary.reportKey!);
  expect(report.status).toBe('error');
  expect(report.error).toMatchObject({ step: 'restore', name: 'States.Timeout' });
  expect(report.copy).toMatchObject({ name, removed: true, fate: 'removed' });
  expect(report.copy.made).toBeUndefined();
  expect(report.copy.note).toMatch(/Start's answer was lost.*found by its planned name/);
}, 120_000);

test('a Start that failed before anything was made: Cleanup looks, finds no copy, and says it was never made', async () => {
  const { drills } = await tasksAs('Plan').plan({});
  const planned = drills[0]!;

  const summary = await tasksAs('Cleanup').cleanup({ ...planned, failure: { Error: 'Runtime.ImportModuleError', Cause: 'the function crashed at init' } });

  const report = await store.get(summary.reportKey!);
  expect(report.copy).toMatchObject({ removed: false, made: false, fate: 'never-made' });
}, 120_000);
