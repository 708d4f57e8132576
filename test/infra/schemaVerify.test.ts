import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import { configSchema } from '../../lib/config/schema.ts';
import type { ReportOutput } from '../../lib/drill/tasks.ts';
import { folderBytes } from '../../lib/infra/verifyKit.ts';
import { RestoreDrillStack } from '../../lib/infra/restoreDrill.ts';
import type { DrillReport } from '../../lib/report/types.ts';
import { NEON_API_KEY, neonDatabaseConfig, neonWorld, type NeonWorld } from '../emulators/neon/world.ts';
import { databaseConfig, rdsWorld, SOURCE_PASSWORD, useFakeAwsCredentials, useOwnScratch, type RdsWorld } from '../emulators/rds/world.ts';
import { S3Emulator } from '../emulators/s3/emulator.ts';
import { stackOnStandIns, stackTokenResolver } from '../support/lambda/stack.ts';

// The schema check in the cloud: the stack synthesised with checks.schema, the Verify asset (its
// bundle, drizzle-kit beside it, the snapshots compiled in) laid out alone outside the checkout as
// Lambda runs it, driven by the synthesised state machine. The RDS source drifted after its
// migrations (a db:push); the Neon source is as its migrations made it.
useOwnScratch('schema-verify-test');
useFakeAwsCredentials();

const BUCKET = 'restore-drill-reports-schema';
/** Lambda's limit for a function's code, unzipped. */
const LAMBDA_CODE_LIMIT = 250 * 1024 * 1024;
let rds: RdsWorld;
let neon: NeonWorld;
let s3: S3Emulator;
let outdir: string;
let removeLayout: (() => Promise<void>) | undefined;

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

beforeAll(async () => {
  [rds, neon] = await Promise.all([rdsWorld(), neonWorld()]);
  // The drift: a column added on the source outside the migrations, archived before the copy is made.
  await rds.source.query('alter table users add column referral_code varchar(12)');
  await rds.source.switchWal();
  s3 = new S3Emulator([BUCKET]);
  await s3.start();
  outdir = await mkdtemp(join(tmpdir(), 'rd-schema-verify-'));
}, 180_000);

afterAll(async () => {
  await removeLayout?.();
  await Promise.all([rds?.remove(), neon?.remove(), s3?.stop()]);
  if (outdir) await rm(outdir, { recursive: true, force: true });
});

const resolveToken = stackTokenResolver({ bucket: BUCKET, subnetGroup: 'drill-subnets', securityGroup: 'sg-0drill000000000001' });

describe('the schema check in the deployed Verify function', () => {
  test('a copy whose schema drifted fails with drizzle-kit\'s SQL in the report, a clean copy passes, through the real Verify bundle laid out as Lambda runs it', async () => {
    // Prepare: the config a team would deploy, checks.schema on both databases.
    const neonKeyArn = rds.emulator.addSecret('neon/api-key', { apiKey: NEON_API_KEY });
    const rdsDatabase = databaseConfig(rds, 'rds', { name: 'sv-rds-drifted' }) as { provider: Record<string, unknown>; checks: Record<string, unknown> };
    delete rdsDatabase.provider.subnetGroup;
    delete rdsDatabase.provider.securityGroupIds;
    rdsDatabase.checks.schema = {};
    const neonDatabase = neonDatabaseConfig(neon, 'sv-neon-clean', {}, { apiKey: { secretArn: neonKeyArn } }) as { checks: Record<string, unknown> };
    neonDatabase.checks.schema = {};
    const config = await validateConfig({ rpoTargetSeconds: 3600, rtoTargetSeconds: 600, databases: [rdsDatabase, neonDatabase] }, rds.project);
    const settings = {
      schedules: [{ name: 'nightly', expression: 'cron(0 3 * * ? *)' }],
      vpc: { vpcId: 'vpc-0123abcd', subnetIds: ['subnet-0123abcd', 'subnet-0456abcd'], availabilityZones: ['us-east-1a', 'us-east-1b'] },
    };
    const app = new App({ outdir });
    const stack = new RestoreDrillStack(app, 'SchemaVerify', { config, settings });
    const layout = await stackOnStandIns(app, stack, { outdir, resolve: resolveToken, emulators: { aws: rds.emulator, s3 } });
    removeLayout = layout.remove;

    // Act
    const result = (await layout.run({ mode: 'drill', trigger: 'schedule' }, 50).result) as unknown as ReportOutput;

    // Assess: the reports the functions saved in the bucket.
    const stored = [...s3.objects(BUCKET)].filter(([key]) => key.startsWith('reports/')).map(([, text]) => JSON.parse(text) as DrillReport);
    const reports = Object.fromEntries(stored.map((report) => [report.database, report]));
    expect(Object.fromEntries(result.drills.map((drill) => [drill.database, drill.status])), JSON.stringify(stored.map((report) => [report.error, report.checks]))).toEqual({ 'sv-rds-drifted': 'failed', 'sv-neon-clean': 'passed' });
    const drifted = reports['sv-rds-drifted']!.checks.find((check) => check.check === 'schema')!;
    expect(drifted, JSON.stringify(reports['sv-rds-drifted']!.checks)).toMatchObject({ status: 'fail' });
    expect((drifted.details as { sql: string[] }).sql).toEqual(['ALTER TABLE "users" ADD COLUMN "referral_code" varchar(12);']);
    expect(drifted.summary).toContain('ALTER TABLE "users" ADD COLUMN "referral_code" varchar(12);');
    const clean = reports['sv-neon-clean']!;
    expect(clean.checks.map((check) => [check.check, check.status]), JSON.stringify(clean.checks)).toEqual([
      ['connection', 'pass'],
      ['ledger', 'pass'],
      ['rowCounts', 'pass'],
      ['freshness', 'pass'],
      ['schema', 'pass'],
    ]);
    for (const report of stored) expect(report.copy).toMatchObject({ removed: true });
    // The kit went beside Verify alone, within Lambda's limit; drizzle-kit's pull left nothing in its /tmp.
    const verify = [...layout.functions.values()].filter((fn) => fn.logicalId.startsWith('RestoreDrillVerify'));
    expect(verify.length).toBeGreaterThan(0);
    expect(verify.flatMap((fn) => fn.tmpFolders).length).toBeGreaterThan(0);
    for (const fn of verify) {
      expect(await readdir(join(fn.taskRoot, 'node_modules'))).toEqual(expect.arrayContaining(['drizzle-kit', 'drizzle-orm', 'pg']));
      expect(folderBytes(fn.taskRoot)).toBeLessThan(LAMBDA_CODE_LIMIT);
      for (const tmp of fn.tmpFolders) expect((await readdir(tmp)).filter((name) => name.startsWith('rd-schema-'))).toEqual([]);
    }
    for (const fn of layout.functions.values()) {
      if (!fn.logicalId.startsWith('RestoreDrillVerify')) expect(await readdir(fn.taskRoot)).not.toContain('node_modules');
    }
    const logs = [...layout.functions.values()].flatMap((fn) => fn.logs).join('\n');
    expect(logs).not.toContain(SOURCE_PASSWORD);
  });

  /** The Verify and other assets of a stack synthesised (no run) for `checks` on one Neon database with these migrations. */
  async function assets(name: string, checks: Record<string, unknown>) {
    const config = configSchema.parse({
      databases: [{ name: 'app', provider: { kind: 'neon', projectId: 'shiny-wind-028834', apiKey: { secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:neon-AbCdEf' } }, checks }],
    });
    const app = new App({ outdir: join(outdir, name) });
    const stack = new RestoreDrillStack(app, name, { config, settings: { schedules: [{ name: 'nightly', expression: 'cron(0 3 * * ? *)' }] } });
    const resources = Template.fromStack(stack).toJSON().Resources as Resources;
    app.synth();
    const folders: Record<string, string> = {};
    for (const [id, resource] of Object.entries(resources)) {
      const key = (resource.Properties.Code as { S3Key?: string } | undefined)?.S3Key;
      if (resource.Type === 'AWS::Lambda::Function' && key) folders[id] = join(outdir, name, `asset.${key.replace(/\.zip$/, '')}`);
    }
    return folders;
  }

  test('the 1.x layout puts drizzle-kit 1.x beside Verify alone; without checks.schema Verify is its bundle alone', async () => {
    const v1 = join(import.meta.dirname, '..', 'fixtures', 'drizzle', 'v1', 'migrations');
    for (const [id, folder] of Object.entries(await assets('SchemaV1', { ledger: { migrationsFolder: v1 }, schema: {} }))) {
      if (!id.startsWith('RestoreDrillVerify')) {
        expect(await readdir(folder)).toEqual(['index.mjs', 'index.mjs.map']);
        continue;
      }
      expect((await readdir(folder)).sort()).toEqual(['index.mjs', 'index.mjs.map', 'node_modules', 'schemaDiffer.mjs', 'schemaKitAlias.mjs']);
      expect((await readdir(join(folder, 'node_modules'))).filter((name) => name.startsWith('drizzle'))).toEqual(['drizzle-kit-v1', 'drizzle-orm-v1']);
      // The snapshots travelled in the deployment compiled into the bundle.
      expect(await readFile(join(folder, 'index.mjs'), 'utf8')).toContain('/snapshot.json');
    }
    for (const [id, folder] of Object.entries(await assets('NoSchema', { ledger: { migrationsFolder: v1 } }))) {
      expect(await readdir(folder), id).toEqual(['index.mjs', 'index.mjs.map']);
      expect(await readFile(join(folder, 'index.mjs'), 'utf8')).not.toContain('/snapshot.json');
    }
  });
});
