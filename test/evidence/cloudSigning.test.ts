import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cloudCheckPolicy } from '../../lib/cloud/callerPolicy.ts';
import { runCloudCheck } from '../../lib/cloud/check.ts';
import { readDeployment, OUTPUT } from '../../lib/cloud/deploymentOutputs.ts';
import { formatCloudCheck } from '../../lib/cloud/format.ts';
import { drillTasks, type ExecutionInput } from '../../lib/drill/tasks.ts';
import type { RestoreProvider } from '../../lib/providers/types.ts';
import { memoryReportStore } from '../../lib/report/s3Store.ts';
import type { PolicyDocument, Template as CfnTemplate } from '../emulators/cloudcheck/deployment.ts';
import { CloudCheckWorld } from '../emulators/cloudcheck/world.ts';
import { simulationRequests, type SimulationScope } from '../../lib/cloud/simulation.ts';
import type { RestoreDrillConfig } from '../../lib/config/schema.ts';
import { SIGNING_KEY_SECRET_ENV, secretReportSigner } from '../../lib/evidence/secretSigning.ts';
import { signatureStateOf } from '../../lib/evidence/signing.ts';
import { addDeploymentOutputs } from '../../lib/infra/outputs.ts';
import { RestoreDrillStack } from '../../lib/infra/restoreDrill.ts';
import { REPORT_BUCKET_ACTIONS, SIGNING_ROLES, type DrillRole } from '../../lib/infra/roleActions.ts';
import { s3ReportStore } from '../../lib/report/s3Store.ts';

import { RdsEmulator } from '../emulators/rds/emulator.ts';
import { makeTestCa } from '../emulators/rds/tls.ts';
import { S3Emulator } from '../emulators/s3/emulator.ts';
import { IamAuthority } from '../support/iam/authority.ts';
import type { Principal } from '../support/iam/types.ts';
import { history } from './history.ts';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { loadCloudExample } from '../support/cloudExample.ts';

// The cloud's signing key, from the settings to the template (environment and grants, only for the
// functions that write reports), to `restore-drill cloud check`'s simulation, to the report store.
// The whole path through the bundled functions is in test/infra/bundledHandlers.test.ts.

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const SIGNING_SECRET = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:restore-drill/signing-key-AbCdEf`;
const SIGNING_CMK = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
let config: RestoreDrillConfig;
let settings: Record<string, unknown>;
let outdir: string;

beforeAll(async () => {
  ({ config, settings } = await loadCloudExample());
  outdir = await mkdtemp(join(tmpdir(), 'rd-cloud-signing-'));
});
afterAll(async () => {
  if (outdir) await rm(outdir, { recursive: true, force: true });
});

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;
type Statement = { Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, unknown>> };

function synth(extra: Record<string, unknown>) {
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new RestoreDrillStack(app, 'Signing', { config, settings: { ...settings, ...extra } as never, env: { account: ACCOUNT, region: REGION } });
  addDeploymentOutputs(stack, stack.drill, config);
  return Template.fromStack(stack).toJSON() as { Resources: Resources; Outputs: Record<string, { Value: unknown }> };
}

/** Each function's environment and the statements of its role's policies, by construct id. */
function functionsOf(template: { Resources: Resources }) {
  const byId = new Map<string, { env: Record<string, unknown>; statements: Statement[] }>();
  for (const [id, resource] of Object.entries(template.Resources)) {
    const name = /^RestoreDrill(Plan|Start|Poll|Verify|VerifyInVpc|Cleanup|Report|Janitor)[0-9A-F]{8}$/.exec(id)?.[1];
    if (resource.Type !== 'AWS::Lambda::Function' || !name) continue;
    const role = (resource.Properties.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
    const statements = Object.values(template.Resources)
      .filter((other) => other.Type === 'AWS::IAM::Policy' && (other.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === role))
      .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
    byId.set(name, { env: (resource.Properties.Environment as { Variables: Record<string, unknown> }).Variables, statements });
  }
  return byId;
}

const ROLE_OF: Record<string, DrillRole> = { Plan: 'plan', Start: 'start', Poll: 'poll', Verify: 'verify', VerifyInVpc: 'verifyInVpc', Cleanup: 'cleanup', Report: 'report', Janitor: 'janitor' };

describe('the signing key in the stack', () => {
  test('the functions that write reports (PutObject under reports/) sign them: each gets the secret\'s ARN and may read that secret, and decrypt with its key only through Secrets Manager; no other function may', () => {
    const template = synth({ signingKeySecretArn: SIGNING_SECRET, signingKeyKmsKeyArn: SIGNING_CMK });
    const functions = functionsOf(template);

    expect(SIGNING_ROLES).toEqual((Object.keys(REPORT_BUCKET_ACTIONS) as DrillRole[]).filter((role) => REPORT_BUCKET_ACTIONS[role].includes('s3:PutObject')));
    expect([...functions.keys()].sort()).toEqual(['Cleanup', 'Janitor', 'Plan', 'Poll', 'Report', 'Start', 'Verify', 'VerifyInVpc']);
    for (const [name, { env, statements }] of functions) {
      const signs = SIGNING_ROLES.includes(ROLE_OF[name]!);
      const onSecret = statements.filter((statement) => JSON.stringify(statement.Resource).includes('signing-key'));
      const onKey = statements.filter((statement) => JSON.stringify(statement.Resource).includes(SIGNING_CMK));
      if (!signs) {
        expect({ name, env: env[SIGNING_KEY_SECRET_ENV], onSecret, onKey }).toEqual({ name, env: undefined, onSecret: [], onKey: [] });
        continue;
      }
      expect(env[SIGNING_KEY_SECRET_ENV], name).toBe(SIGNING_SECRET);
      expect(onSecret, name).toEqual([{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: SIGNING_SECRET }]);
      expect(onKey, name).toEqual([
        {
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: SIGNING_CMK,
          Condition: { StringEquals: { 'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com`, 'kms:EncryptionContext:SecretARN': SIGNING_SECRET } },
        },
      ]);
    }
    // The deployment check reads where the key is from the stack's outputs.
    expect(template.Outputs[OUTPUT.signingKeySecretArn]?.Value).toBe(SIGNING_SECRET);
  });

  test('a partial ARN is granted on its six-character suffix; without the setting nothing signs and nothing is granted', () => {
    const partial = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:restore-drill/signing-key`;

    const withPartial = functionsOf(synth({ signingKeySecretArn: partial }));
    const without = synth({});

    expect(withPartial.get('Report')!.statements.filter((statement) => JSON.stringify(statement.Resource).includes('signing-key'))).toEqual([{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: `${partial}-??????` }]);
    expect(withPartial.get('Report')!.statements.some((statement) => String(statement.Action).startsWith('kms:'))).toBe(false);
    for (const { env } of functionsOf(without).values()) expect(env[SIGNING_KEY_SECRET_ENV]).toBeUndefined();
    expect(without.Outputs[OUTPUT.signingKeySecretArn]).toBeUndefined();
  });

  test('cdk-nag (AwsSolutionsChecks) finds nothing unacknowledged with a partial-ARN signing key, its CMK, and Object Lock', () => {
    const app = new App({ outdir: join(outdir, 'nag'), context: { 'aws:cdk:bundling-stacks': [] } });
    new RestoreDrillStack(app, 'Nagged', {
      config,
      settings: { ...settings, signingKeySecretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:restore-drill/signing-key`, signingKeyKmsKeyArn: SIGNING_CMK, reportObjectLock: { mode: 'compliance' } } as never,
      env: { account: ACCOUNT, region: REGION },
    });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    // An unacknowledged finding fails synthesis.
    expect(() => app.synth()).not.toThrow();
  });

  test('a signing key setting that is not a secret\'s ARN, or a key that is not a KMS key ARN, is refused by name with what is valid', () => {
    const problems = (() => {
      try {
        synth({ signingKeySecretArn: 'restore-drill/signing-key', signingKeyKmsKeyArn: 'alias/aws/secretsmanager' });
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    })();

    expect(problems).toMatch(/signingKeySecretArn: .*secret's ARN/);
    expect(problems).toMatch(/signingKeyKmsKeyArn: .*arn:aws:kms:<region>:<account>:key\//);
  });
});

describe('restore-drill cloud check simulates the signing key read', () => {
  const scope = (signingKeySecret: string | undefined, signingKeyKmsKey?: string): SimulationScope => ({
    partition: 'aws',
    region: REGION,
    account: ACCOUNT,
    kinds: new Set(['rds']),
    sources: { rds: [`arn:aws:rds:${REGION}:${ACCOUNT}:db:orders-prod`], aurora: [] },
    reportsBucket: 'reports-bucket',
    signingKeySecret,
    signingKeyKmsKey,
  });

  test('each function that writes reports reads the secret (and decrypts through Secrets Manager with its key); the others do not', () => {
    for (const role of Object.keys(REPORT_BUCKET_ACTIONS) as DrillRole[]) {
      const requests = simulationRequests(role, scope(SIGNING_SECRET, SIGNING_CMK)).filter((request) => request.action === 'secretsmanager:GetSecretValue' || request.action === 'kms:Decrypt');
      if (!SIGNING_ROLES.includes(role)) {
        expect(requests, role).toEqual([]);
        continue;
      }
      expect(requests, role).toEqual([
        { action: 'secretsmanager:GetSecretValue', resources: [SIGNING_SECRET], context: [], notes: [] },
        {
          action: 'kms:Decrypt',
          resources: [SIGNING_CMK],
          context: [
            { ContextKeyName: 'kms:ViaService', ContextKeyType: 'string', ContextKeyValues: [`secretsmanager.${REGION}.amazonaws.com`] },
            { ContextKeyName: 'kms:EncryptionContext:SecretARN', ContextKeyType: 'string', ContextKeyValues: [SIGNING_SECRET] },
          ],
          notes: [],
        },
      ]);
    }
    expect(simulationRequests('report', scope(undefined)).filter((request) => request.action === 'secretsmanager:GetSecretValue')).toEqual([]);
  });

  test('the deployment names its signing key and its KMS key in its outputs', () => {
    const { deployment } = readDeployment([
      { OutputKey: OUTPUT.signingKeySecretArn, OutputValue: SIGNING_SECRET },
      { OutputKey: OUTPUT.signingKeyKmsKeyArn, OutputValue: SIGNING_CMK },
    ]);
    expect(deployment).toMatchObject({ signingKeySecretArn: SIGNING_SECRET, signingKeyKmsKeyArn: SIGNING_CMK });
  });
});

describe('restore-drill cloud check against the stand-ins: the signing key read simulated for each function that writes reports', () => {
  let world: CloudCheckWorld;
  beforeAll(async () => {
    world = await CloudCheckWorld.start();
  });
  afterAll(() => world?.stop());

  /** Plan as deployed, over providers that only read a window (the check's dry run). */
  const planHandler = () => {
    const now = new Date();
    const windowOnly = (kind: string): RestoreProvider => ({
      kind,
      window: async () => ({ earliest: new Date(now.getTime() - 7 * 86_400_000), latest: new Date(now.getTime() - 90_000) }),
      start: () => Promise.reject(new Error('Plan made a copy')),
      poll: () => Promise.reject(new Error('Plan polled a copy')),
      destroy: () => Promise.reject(new Error('Plan removed a copy')),
      copyNameOf: () => 'none',
    });
    const tasks = drillTasks({ config, store: memoryReportStore(), providerFor: (database) => windowOnly(database.provider.kind), now: () => now });
    return { handler: (event: unknown) => tasks.plan(event as ExecutionInput) };
  };

  // Without a CMK: iam-simulate (0.1.173), behind the IAM stand-in, drops a kms:EncryptionContext:<key>
  // context key (a variable after a colon), so kms:Decrypt's grant is held to iam-data (templateData) and
  // to the requests above, not simulated here.
  test('granted: Verify, VerifyInVpc, Cleanup and Report are allowed the read; with Report\'s statement gone, Report fails naming the call and the secret, exit 1', async () => {
    const template = synth({ signingKeySecretArn: SIGNING_SECRET }) as unknown as CfnTemplate;
    const run = async (changed: CfnTemplate, name: string) => {
      const deployed = world.deploy(changed, { stackName: name, region: REGION });
      for (const [fn, entry] of deployed.functions) if (entry.logicalId.startsWith('RestoreDrillPlan')) world.lambda.code.set(fn, planHandler());
      const caller = world.addCaller(`deployer-${name}`, cloudCheckPolicy({ stackName: name, account: ACCOUNT }) as PolicyDocument);
      return runCloudCheck({ stackName: name, region: REGION, touchAlarms: false, clients: world.clients(caller, REGION), sleep: () => Promise.resolve() });
    };
    const granted = await run(structuredClone(template), 'SigningGranted');
    const withoutReportGrant = structuredClone(template);
    const reportRole = Object.entries(withoutReportGrant.Resources).find(([id, resource]) => resource.Type === 'AWS::Lambda::Function' && /^RestoreDrillReport[0-9A-F]{8}$/.test(id))![1].Properties!.Role as { 'Fn::GetAtt': [string] };
    for (const resource of Object.values(withoutReportGrant.Resources)) {
      if (resource.Type !== 'AWS::IAM::Policy' || !(resource.Properties!.Roles as { Ref: string }[]).some((ref) => ref.Ref === reportRole['Fn::GetAtt'][0])) continue;
      const document = resource.Properties!.PolicyDocument as PolicyDocument;
      document.Statement = document.Statement.filter((statement) => statement.Action !== 'secretsmanager:GetSecretValue' || !JSON.stringify(statement.Resource).includes('signing-key'));
    }
    const refused = await run(withoutReportGrant, 'SigningRefused');

    const allowed = Object.fromEntries(granted.roles.roles.map((role) => [role.function, role.allowed.filter((action) => action === 'secretsmanager:GetSecretValue' || action === 'kms:Decrypt')]));
    const reads = ['secretsmanager:GetSecretValue'];
    expect(allowed).toMatchObject({ Plan: [], Start: [], Poll: [], Janitor: [], Verify: reads, VerifyInVpc: reads, Cleanup: reads, Report: reads });
    expect(granted.exitCode).toBe(0);
    expect(refused.roles.roles.flatMap((role) => role.denied.map((denial) => ({ function: role.function, action: denial.action, resource: denial.resource })))).toEqual([{ function: 'Report', action: 'secretsmanager:GetSecretValue', resource: SIGNING_SECRET }]);
    expect(formatCloudCheck(refused, { touchAlarms: false })).toContain(`❌ Report: secretsmanager:GetSecretValue denied on ${SIGNING_SECRET}`);
    expect(refused.exitCode).toBe(1);
  });
});

describe('the report store signs every report it writes, IAM enforced', () => {
  const BUCKET = 'rd-signing-store-reports';
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  let dir: string;
  let secrets: RdsEmulator;
  let s3: S3Emulator;
  let secretArn: string;
  const writer = (name: string, accessKeyId: string, mayReadKey: boolean): Principal => ({
    name,
    arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${name}Role/${name}`,
    accountId: ACCOUNT,
    accessKeyId,
    secretAccessKey: `${name}-secret`,
    identityPolicies: [
      {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: ['s3:PutObject', 's3:GetObject'], Resource: `arn:aws:s3:::${BUCKET}/reports/*` },
          { Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${BUCKET}` },
          ...(mayReadKey ? [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: '*' }] : []),
        ] as never,
      },
    ],
  });
  const granted = writer('Cleanup', 'AKIACLEANUPSIGNS0000', true);
  const refused = writer('Report', 'AKIAREPORTNOKEY00000', false);
  const storeFor = (principal: Principal) => {
    const credentials = { accessKeyId: principal.accessKeyId, secretAccessKey: principal.secretAccessKey };
    const signer = secretReportSigner(new SecretsManagerClient({ region: REGION, endpoint: secrets.url, credentials, maxAttempts: 1 }), secretArn);
    return s3ReportStore(BUCKET, { client: new S3Client({ region: REGION, endpoint: s3.url, forcePathStyle: true, credentials, maxAttempts: 1 }), sign: signer });
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rd-signing-store-'));
    const authority = new IamAuthority([granted, refused]);
    secrets = new RdsEmulator({ tls: await makeTestCa(dir), region: REGION, accountId: ACCOUNT, iam: authority });
    await secrets.start();
    secretArn = secrets.addSecret('restore-drill/signing-key', { privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string });
    s3 = new S3Emulator([BUCKET], { iam: authority });
    await s3.start();
  });
  afterAll(async () => {
    await Promise.all([secrets?.stop(), s3?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a report written (and written again after delivery) verifies against the public key', async () => {
    const store = storeFor(granted);
    const report = history({ databases: ['app'], days: 1, lastDay: '2026-11-30', failRate: 0, errorRate: 0 })[0]!.report;

    const key = await store.put(report);
    const first = JSON.parse(s3.objects(BUCKET).get(key)!) as typeof report;
    await store.put({ ...report, delivery: { slack: { ok: true, to: 'slack', attempts: 1, at: report.finishedAt } } });
    const again = JSON.parse(s3.objects(BUCKET).get(key)!) as typeof report;

    expect(signatureStateOf(first, publicKey)).toBe('intact');
    expect(signatureStateOf(again, publicKey)).toBe('intact');
    expect(again.delivery?.slack?.ok).toBe(true);
  });

  test('the report Report makes for a drill whose Cleanup failed is signed too', async () => {
    const store = storeFor(granted);
    const emf: string[] = [];
    const tasks = drillTasks({ config, store, metrics: { kind: 'emf-stdout', write: (line) => emf.push(line) }, log: () => undefined });

    const output = await tasks.report({ drills: [{ database: 'orders', status: 'error', reportKey: null, copy: 'rd-orders-20261201030000-ab12', kept: false, error: 'States.Timeout' }] });

    const [key, text] = [...s3.objects(BUCKET)].find(([candidate]) => candidate.startsWith('reports/orders/'))!;
    const synthesized = JSON.parse(text) as import('../../lib/report/types.ts').DrillReport;
    expect(output.drills).toEqual([expect.objectContaining({ database: 'orders', status: 'error' })]);
    expect(synthesized.error).toMatchObject({ name: 'CleanupFailed', step: 'cleanup' });
    expect(signatureStateOf(synthesized, publicKey), key).toBe('intact');
    expect(emf).toHaveLength(1);
  });

  test('a key IAM refuses: the report is kept, unsigned, and says why (its error, status error); the caller sees the same', async () => {
    const store = storeFor(refused);
    const report = { ...history({ databases: ['app'], days: 1, lastDay: '2026-11-29', failRate: 0, errorRate: 0 })[0]!.report, status: 'passed' as const };

    const key = await store.put(report);
    const stored = JSON.parse(s3.objects(BUCKET).get(key)!) as typeof report;

    expect(stored.signature).toBeUndefined();
    expect(signatureStateOf(stored, publicKey)).toBe('unsigned');
    expect(stored.status).toBe('error');
    expect(stored.error).toEqual({
      step: 'report',
      kind: 'tool',
      name: 'ReportSigningError',
      // The shared redactor hides what follows "secret:" in every outward text, the ARN's name too; the stack's output names it.
      message: expect.stringMatching(/^the report is stored unsigned: cannot read the report signing key from the secret arn:aws:secretsmanager:eu-west-1:123456789012:secret:.*AccessDeniedException: .*not authorized to perform: secretsmanager:GetSecretValue.*; the functions that write reports must read the stack's SigningKeySecretArn \(restore-drill cloud check simulates it\)$/),
    });
    // The checks it ran are all still there: the evidence of the restore is not lost with the signature.
    expect(stored.checks).toEqual(report.checks);
    expect(report.status).toBe('error');
    expect(JSON.stringify(stored)).not.toContain('PRIVATE KEY');
  });
});
