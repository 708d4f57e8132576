import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { StateMachine } from 'aws-local-stepfunctions';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import type { ReportOutput } from '../../lib/drill/tasks.ts';
import { RestoreDrillStack } from '../../lib/infra/restoreDrill.ts';
import type { DrillReport } from '../../lib/report/types.ts';
import { NEON_API_KEY, neonDatabaseConfig, neonWorld, ROLE_PASSWORD, type NeonWorld } from '../emulators/neon/world.ts';
import { databaseConfig, rdsWorld, SOURCE_PASSWORD, useFakeAwsCredentials, useOwnScratch, type RdsWorld } from '../emulators/rds/world.ts';
import { S3Emulator } from '../emulators/s3/emulator.ts';
import { repoRoot } from '../support/cli.ts';
import { definitionFromTemplate, LAMBDA_ARN_PREFIX } from '../support/definition.ts';

// The deployed functions as they run in Lambda: the stack is synthesised, esbuild bundles each
// handler with the config compiled in, and the state machine from the template calls those bundles.
// Their SDK clients reach the emulators through the endpoints a deployment would not set.
useOwnScratch('bundled-handlers-test');
useFakeAwsCredentials();

const BUCKET = 'restore-drill-reports-test';
const SUBNET_GROUP = 'drill-subnets';
const SECURITY_GROUP = 'sg-0drill000000000001';
let rds: RdsWorld;
let neon: NeonWorld;
let s3: S3Emulator;
let outdir: string;

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

beforeAll(async () => {
  [rds, neon] = await Promise.all([rdsWorld(), neonWorld()]);
  s3 = new S3Emulator([BUCKET]);
  await s3.start();
  // Inside node_modules, so that the bundles find the AWS SDK there, as Lambda's runtime provides it.
  await mkdir(join(repoRoot, 'node_modules/.cache'), { recursive: true });
  outdir = await mkdtemp(join(repoRoot, 'node_modules/.cache/rd-bundled-handlers-'));
}, 180_000);

afterAll(async () => {
  await Promise.all([rds?.remove(), neon?.remove(), s3?.stop()]);
  if (outdir) await rm(outdir, { recursive: true, force: true });
});

/** A deploy-time value of the template (Ref, Fn::GetAtt) as the emulators know it. */
function resolveToken(value: unknown): string {
  if (typeof value === 'string') return value;
  const id = (value as { Ref?: string }).Ref ?? (value as { 'Fn::GetAtt'?: [string] })['Fn::GetAtt']?.[0] ?? '';
  if (id.startsWith('RestoreDrillReports')) return BUCKET;
  if (id.startsWith('RestoreDrillCopySubnetGroup')) return SUBNET_GROUP;
  if (id.startsWith('RestoreDrillCopySecurityGroup')) return SECURITY_GROUP;
  throw new Error(`no stand-in for ${JSON.stringify(value)}`);
}

/** Each drill function's bundle, imported with the environment the template gives it. */
async function loadHandlers(resources: Resources): Promise<Map<string, (input: unknown) => Promise<unknown>>> {
  const handlers = new Map<string, (input: unknown) => Promise<unknown>>();
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::Lambda::Function' || !id.startsWith('RestoreDrill') || id.includes('Monitoring')) continue;
    const variables = (resource.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    for (const [name, value] of Object.entries(variables)) process.env[name] = resolveToken(value);
    const asset = (resource.Properties.Code as { S3Key: string }).S3Key.replace(/\.zip$/, '');
    const module = (await import(join(outdir, `asset.${asset}`, 'index.mjs'))) as { handler: (input: unknown) => Promise<unknown> };
    handlers.set(id, module.handler);
  }
  return handlers;
}

/** Every Task state of the definition (the Map's included) mapped to the bundle its Resource names. */
function localHandlers(definition: Record<string, unknown>, handlers: Map<string, (input: unknown) => Promise<unknown>>): Record<string, (input: unknown) => Promise<unknown>> {
  const mapped: Record<string, (input: unknown) => Promise<unknown>> = {};
  const visit = (states: Record<string, Record<string, unknown>>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task') mapped[name] = handlers.get(String(state.Resource).slice(LAMBDA_ARN_PREFIX.length))!;
      const inner = (state.ItemProcessor as { States?: Record<string, Record<string, unknown>> } | undefined)?.States;
      if (inner) visit(inner);
    }
  };
  visit(definition.States as Record<string, Record<string, unknown>>);
  return mapped;
}

describe('the deployed functions, bundled, driven by the synthesised state machine', () => {
  test('RDS and Neon drills: a pass each, a failing check, a failed and a timed-out restore; every copy removed, every report in S3', async () => {
    // Prepare: the config a team would deploy (the stack's own copy network, keys from Secrets Manager).
    const neonKeyArn = rds.emulator.addSecret('neon/api-key', { apiKey: NEON_API_KEY });
    const rdsDatabase = (name: string, overrides: Record<string, unknown> = {}) => {
      const database = databaseConfig(rds, 'rds', { name, ...overrides }) as { provider: Record<string, unknown> };
      delete database.provider.subnetGroup;
      delete database.provider.securityGroupIds;
      return database;
    };
    const config = await validateConfig(
      {
        rpoTargetSeconds: 3600,
        rtoTargetSeconds: 600,
        databases: [
          rdsDatabase('bh-rds-pass'),
          rdsDatabase('bh-rds-checkfail', { checks: { rowCounts: [{ table: 'users', min: 1000 }] } }),
          rdsDatabase('bh-rds-restorefail'),
          rdsDatabase('bh-rds-slow', { restoreTimeoutSeconds: 1 }),
          neonDatabaseConfig(neon, 'bh-neon-pass', {}, { apiKey: { secretArn: neonKeyArn } }),
        ],
      },
      rds.project,
    );
    rds.emulator.faults.restoreOutcomes.set('rd-bh-rds-restorefail-', 'incompatible-restore');
    rds.emulator.faults.restoreOutcomes.set('rd-bh-rds-slow-', 'never');
    const settings = {
      schedules: [{ name: 'nightly', expression: 'cron(0 3 * * ? *)' }],
      vpc: { vpcId: 'vpc-0123abcd', subnetIds: ['subnet-0123abcd', 'subnet-0456abcd'], availabilityZones: ['us-east-1a', 'us-east-1b'] },
      mapConcurrency: 3,
    };
    const app = new App({ outdir });
    const stack = new RestoreDrillStack(app, 'BundledHandlers', { config, settings });
    const resources = Template.fromStack(stack).toJSON().Resources as Resources;
    const definition = definitionFromTemplate({ Resources: resources });

    process.env.AWS_ENDPOINT_URL_S3 = s3.url;
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = rds.emulator.url;
    process.env.TMPDIR = join(outdir, 'lambda-tmp');
    const handlers = localHandlers(definition, await loadHandlers(resources));
    const machine = new StateMachine(definition as never, { validationOptions: { checkArn: false } });

    // Act (the Report function writes its metrics to stdout as EMF, which Lambda hands to CloudWatch)
    const written: string[] = [];
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => written.push(String(chunk)) > 0);
    const result = await machine
      .run({ mode: 'drill', trigger: 'schedule' }, { overrides: { taskResourceLocalHandlers: handlers as never, waitTimeOverrides: { WaitForCopy: 50 } } })
      .result.finally(() => stdout.mockRestore()) as unknown as ReportOutput;

    // Assess: the execution's answer, and the reports the functions saved in the bucket.
    const stored = [...s3.objects(BUCKET).values()].map((text) => JSON.parse(text) as DrillReport);
    const reports = Object.fromEntries(stored.map((report) => [report.database, report]));
    expect(Object.keys(reports).sort()).toEqual(['bh-neon-pass', 'bh-rds-checkfail', 'bh-rds-pass', 'bh-rds-restorefail', 'bh-rds-slow']);
    expect(result.status).toBe('failed');
    expect(Object.fromEntries(result.drills.map((drill) => [drill.database, drill.status]))).toEqual({
      'bh-rds-pass': 'passed',
      'bh-neon-pass': 'passed',
      'bh-rds-checkfail': 'failed',
      'bh-rds-restorefail': 'failed',
      'bh-rds-slow': 'failed',
    });
    for (const name of ['bh-rds-pass', 'bh-neon-pass']) {
      expect(reports[name]!.error, JSON.stringify(reports[name]!.error)).toBeUndefined();
      // The ledger read the migrations that travelled inside the Verify bundle.
      expect(reports[name]!.checks.map((check) => [check.check, check.status])).toEqual([
        ['ledger', 'pass'],
        ['rowCounts', 'pass'],
        ['freshness', 'pass'],
      ]);
    }
    expect(reports['bh-rds-checkfail']!.checks).toEqual([expect.objectContaining({ check: 'rowCounts', status: 'fail' })]);
    expect(reports['bh-rds-restorefail']!.error).toMatchObject({ step: 'wait', kind: 'backup', message: expect.stringContaining('incompatible-restore') });
    expect(reports['bh-rds-slow']!.error).toMatchObject({ step: 'wait', kind: 'backup', message: expect.stringMatching(/not ready after 1 s/) });
    for (const report of stored) {
      expect(report).toMatchObject({ trigger: 'schedule', copy: { removed: true, kept: false } });
      await (report.provider === 'neon' ? neon.emulator.gone(report.copy.name!) : rds.emulator.gone(report.copy.name!));
    }
    // Copies went into the stack's subnet group and security group, which reached the bundles through the environment.
    const restores = rds.emulator.calls('RestoreDBInstanceToPointInTime');
    expect(restores).toHaveLength(4);
    for (const call of restores) expect(call.params).toMatchObject({ DBSubnetGroupName: SUBNET_GROUP, 'VpcSecurityGroupIds.VpcSecurityGroupId.1': SECURITY_GROUP });
    const emf = written.flatMap((text) => text.split('\n')).filter((line) => line.startsWith('{"_aws"')).map((line) => JSON.parse(line) as { Database: string; DrillSucceeded: number });
    expect(Object.fromEntries(emf.map((line) => [line.Database, line.DrillSucceeded]))).toEqual({
      'bh-rds-pass': 1,
      'bh-neon-pass': 1,
      'bh-rds-checkfail': 0,
      'bh-rds-restorefail': 0,
      'bh-rds-slow': 0,
    });
    // No secret in the bucket or in the execution's state.
    for (const text of [...s3.objects(BUCKET).values(), JSON.stringify(result)]) {
      for (const secret of [NEON_API_KEY, ROLE_PASSWORD, SOURCE_PASSWORD]) expect(text).not.toContain(secret);
    }
  }, 300_000);
});
