import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import type { ReportOutput } from '../../lib/drill/tasks.ts';
import { RestoreDrillStack } from '../../lib/infra/restoreDrill.ts';
import type { DrillReport } from '../../lib/report/types.ts';
import { NEON_API_KEY, neonDatabaseConfig, neonWorld, ROLE_PASSWORD, type NeonWorld } from '../emulators/neon/world.ts';
import { databaseConfig, rdsWorld, SOURCE_PASSWORD, useFakeAwsCredentials, useOwnScratch, type RdsWorld } from '../emulators/rds/world.ts';
import { S3Emulator } from '../emulators/s3/emulator.ts';
import { slackWebhook } from '../emulators/slack/webhook.ts';
import { IamAuthority } from '../support/iam/authority.ts';
import type { Principal } from '../support/iam/types.ts';
import { runCli } from '../support/cli.ts';
import { stackOnStandIns, stackTokenResolver } from '../support/lambda/stack.ts';

// The deployed functions as Lambda runs them: the stack is synthesised, esbuild bundles each handler
// with the config compiled in, each asset folder is laid out alone outside the checkout and runs in a
// sandbox of its own with the template's environment and its role's credentials; every AWS call is
// authorised against that role by the emulators. The state machine from the template calls them.
useOwnScratch('bundled-handlers-test');
useFakeAwsCredentials();

const BUCKET = 'restore-drill-reports-test';
const SUBNET_GROUP = 'drill-subnets';
const SECURITY_GROUP = 'sg-0drill000000000001';
let rds: RdsWorld;
let neon: NeonWorld;
let s3: S3Emulator;
let slack: Awaited<ReturnType<typeof slackWebhook>>;
let outdir: string;
let removeLayout: (() => Promise<void>) | undefined;


beforeAll(async () => {
  [rds, neon] = await Promise.all([rdsWorld(), neonWorld()]);
  s3 = new S3Emulator([BUCKET]);
  await s3.start();
  slack = await slackWebhook();
  outdir = await mkdtemp(join(tmpdir(), 'rd-bundled-handlers-'));
}, 180_000);

afterAll(async () => {
  await removeLayout?.();
  await Promise.all([rds?.remove(), neon?.remove(), s3?.stop(), slack?.close()]);
  if (outdir) await rm(outdir, { recursive: true, force: true });
});

const resolveToken = stackTokenResolver({ bucket: BUCKET, subnetGroup: SUBNET_GROUP, securityGroup: SECURITY_GROUP });


/** A copy of the principal with one more statement, as an organisation's SCP or a boundary would refuse. */
function withDeny(principal: Principal, statement: Record<string, unknown>): Principal {
  return { ...principal, identityPolicies: [...principal.identityPolicies, { Version: '2012-10-17', Statement: [{ Effect: 'Deny', ...statement }] as never }] };
}

describe('the deployed functions, laid out as Lambda runs them, with IAM enforced, driven by the synthesised state machine', () => {
  test('RDS, Aurora and Neon passes, a failing check, a failed and a timed-out restore, a restore IAM denies: every copy removed, every report in S3, Slack told, no secret anywhere; then an alarm reaches Slack and the janitor runs', async () => {
    // Prepare: the config a team would deploy (the stack's own copy network, keys from Secrets Manager).
    const neonKeyArn = rds.emulator.addSecret('neon/api-key', { apiKey: NEON_API_KEY });
    const slackArn = rds.emulator.addSecret('restore-drill/slack', { webhookUrl: slack.url });
    // The report signing key, as the README has a team make it (openssl genpkey -algorithm ed25519).
    const signingKey = generateKeyPairSync('ed25519');
    const signingPem = signingKey.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const signingArn = rds.emulator.addSecret('restore-drill/report-signing-key', { privateKey: signingPem });
    const publicKeyFile = join(outdir, 'signing.pub.pem');
    await writeFile(publicKeyFile, signingKey.publicKey.export({ type: 'spki', format: 'pem' }) as string);
    const awsDatabase = (kind: 'rds' | 'aurora', name: string, overrides: Record<string, unknown> = {}) => {
      const database = databaseConfig(rds, kind, { name, ...overrides }) as { provider: Record<string, unknown> };
      delete database.provider.subnetGroup;
      delete database.provider.securityGroupIds;
      return database;
    };
    const config = await validateConfig(
      {
        rpoTargetSeconds: 3600,
        rtoTargetSeconds: 600,
        databases: [
          awsDatabase('rds', 'bh-rds-pass'),
          awsDatabase('aurora', 'bh-aurora-pass'),
          awsDatabase('rds', 'bh-rds-checkfail', { checks: { rowCounts: [{ table: 'users', min: 1000 }] } }),
          awsDatabase('rds', 'bh-rds-restorefail'),
          awsDatabase('rds', 'bh-rds-slow', { restoreTimeoutSeconds: 1 }),
          awsDatabase('rds', 'bh-rds-denied'),
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
      mapConcurrency: 4,
      slackWebhookSecretArn: slackArn,
      signingKeySecretArn: signingArn,
      // Object Lock (governance): every write of the bundles must pass S3's rules for a locked bucket.
      reportObjectLock: {},
    };
    const app = new App({ outdir });
    const stack = new RestoreDrillStack(app, 'BundledHandlers', { config, settings });
    // IAM: each function's role from the template; the account refuses restores of one database (an SCP would).
    const denyOneRestore = (principals: Map<string, Principal>) => {
      const startId = [...principals.keys()].find((id) => id.startsWith('RestoreDrillStart'))!;
      principals.set(startId, withDeny(principals.get(startId)!, { Action: 'rds:RestoreDBInstanceToPointInTime', Resource: '*', Condition: { StringEquals: { 'aws:RequestTag/restore-drill:database': 'bh-rds-denied' } } }));
    };
    const layout = await stackOnStandIns(app, stack, { outdir, resolve: resolveToken, emulators: { aws: rds.emulator, s3 }, adjustPrincipals: denyOneRestore });
    removeLayout = layout.remove;
    const { principals } = layout;
    const [, bucketResource] = Object.entries(layout.resources).find(([id, resource]) => resource.Type === 'AWS::S3::Bucket' && id.startsWith('RestoreDrillReports'))!;
    s3.configureBucket(BUCKET, S3Emulator.bucketSettingsOf(bucketResource.Properties));

    // Act
    const result = (await layout.run({ mode: 'drill', trigger: 'schedule' }, 50).result) as unknown as ReportOutput;

    // Assess: the execution's answer, and the reports the functions saved in the bucket.
    const objects = s3.objects(BUCKET);
    const stored = [...objects].filter(([key]) => key.startsWith('reports/')).map(([, text]) => JSON.parse(text) as DrillReport);
    const reports = Object.fromEntries(stored.map((report) => [report.database, report]));
    expect(Object.keys(reports).sort()).toEqual(['bh-aurora-pass', 'bh-neon-pass', 'bh-rds-checkfail', 'bh-rds-denied', 'bh-rds-pass', 'bh-rds-restorefail', 'bh-rds-slow']);
    expect(result.status).toBe('error');
    expect(Object.fromEntries(result.drills.map((drill) => [drill.database, drill.status]))).toEqual({
      'bh-rds-pass': 'passed',
      'bh-aurora-pass': 'passed',
      'bh-neon-pass': 'passed',
      'bh-rds-checkfail': 'failed',
      'bh-rds-restorefail': 'failed',
      'bh-rds-slow': 'failed',
      'bh-rds-denied': 'error',
    });
    for (const name of ['bh-rds-pass', 'bh-aurora-pass', 'bh-neon-pass']) {
      expect(reports[name]!.error, JSON.stringify(reports[name]!.error)).toBeUndefined();
      // The ledger read the migrations that travelled inside the Verify bundle; the version is the bundle's own.
      expect(reports[name]!.checks.map((check) => [check.check, check.status])).toEqual([
        ['connection', 'pass'],
        ['ledger', 'pass'],
        ['rowCounts', 'pass'],
        ['freshness', 'pass'],
      ]);
      expect(reports[name]!.toolVersion).toMatch(/^\d+\.\d+\.\d+/);
      // The measured RPO says what measured it (for Neon the only RPO that tells: its claimed one is about 0).
      expect(reports[name]!.rpo).toMatchObject({ measuredLagSeconds: expect.any(Number), measuredBy: 'the newest users.created_at in the copy (freshness check)' });
    }
    // Every RDS and Aurora drill records its source's resource id (the bad day's lookup of retained backups).
    expect(reports['bh-rds-pass']!.source?.resourceId).toBe(rds.sourceInstance.resourceId);
    expect(reports['bh-aurora-pass']!.source?.resourceId).toBe(rds.sourceCluster.resourceId);
    expect(reports['bh-rds-checkfail']!.checks).toEqual([expect.objectContaining({ check: 'connection', status: 'pass' }), expect.objectContaining({ check: 'rowCounts', status: 'fail' })]);
    expect(reports['bh-rds-restorefail']!.error).toMatchObject({ step: 'wait', kind: 'backup', message: expect.stringContaining('incompatible-restore') });
    expect(reports['bh-rds-slow']!.error).toMatchObject({ step: 'wait', kind: 'backup', message: expect.stringMatching(/not ready after 1 s/) });
    expect(reports['bh-rds-denied']!.error).toMatchObject({ step: 'restore', name: 'AwsApiError', message: expect.stringMatching(/AWS denied RestoreDBInstanceToPointInTime/) });
    expect(reports['bh-rds-denied']!.copy).toMatchObject({ made: false, removed: false });
    for (const report of stored) {
      expect(report.trigger).toBe('schedule');
      if (report.database === 'bh-rds-denied') continue;
      expect(report.copy).toMatchObject({ removed: true, kept: false });
      await (report.provider === 'neon' ? neon.emulator.gone(report.copy.name!) : rds.emulator.gone(report.copy.name!));
    }
    expect(rds.emulator.instances.size + rds.emulator.clusters.size).toBe(2);
    // Copies went into the stack's subnet group and security group, which reached the bundles through the environment.
    const restores = rds.emulator.calls('RestoreDBInstanceToPointInTime').filter((call) => !call.error);
    expect(restores).toHaveLength(4);
    for (const call of restores) expect(call.params).toMatchObject({ DBSubnetGroupName: SUBNET_GROUP, 'VpcSecurityGroupIds.VpcSecurityGroupId.1': SECURITY_GROUP });
    // Report writes its metrics to its log as EMF, which CloudWatch Logs turns into metrics: a drill that did not pass is 0.
    const reportLogs = [...layout.functions.values()].find((fn) => fn.logicalId.startsWith('RestoreDrillReport'))!.logs;
    const emf = reportLogs.filter((line) => line.startsWith('{"_aws"')).map((line) => JSON.parse(line) as { Database: string; DrillSucceeded: number });
    expect(Object.fromEntries(emf.map((line) => [line.Database, line.DrillSucceeded]))).toEqual({
      'bh-rds-pass': 1,
      'bh-aurora-pass': 1,
      'bh-neon-pass': 1,
      'bh-rds-checkfail': 0,
      'bh-rds-restorefail': 0,
      'bh-rds-slow': 0,
      'bh-rds-denied': 0,
    });
    // Every request the bundles sent Neon, and every answer, held to Neon's OpenAPI file.
    expect(neon.emulator.specProblems).toEqual([]);
    // No function was refused a call it makes in a drill that was not meant to be refused.
    const refused = [...rds.emulator.requests, ...s3.requests].filter((request) => 'error' in request && (request.error === 'AccessDenied' || request.error === 'InvalidClientTokenId'));
    expect(refused.map((request) => JSON.stringify(request))).toEqual([expect.stringContaining('RestoreDBInstanceToPointInTime')]);
    // Report wrote the evidence page beside the reports, from them, and told Slack where it is (the key, not a bearer link).
    const page = objects.get('evidence/index.html') ?? '';
    for (const name of Object.keys(reports)) expect(page).toContain(name);
    expect(result.evidence).toBe(`s3://${BUCKET}/evidence/index.html`);
    expect(slack.accepted).toHaveLength(1);
    expect(JSON.stringify(slack.accepted[0])).toContain('bh-rds-denied');
    expect(JSON.stringify(slack.accepted[0])).toContain(`s3://${BUCKET}/evidence/index.html`);

    // An alarm changing state, as CloudWatch publishes it through the topic to the notifier: Slack gets it.
    const notifier = [...layout.functions.values()].find((fn) => fn.logicalId.includes('SlackNotifier'))!;
    const change = { AlarmName: 'RestoreDrill-bh-rds-denied-drill-failed', NewStateValue: 'ALARM', OldStateValue: 'OK', NewStateReason: 'Threshold Crossed', StateChangeTime: new Date().toISOString(), AlarmArn: `arn:aws:cloudwatch:${rds.emulator.region}:${rds.emulator.accountId}:alarm:RestoreDrill-bh-rds-denied-drill-failed` };
    await notifier.invoke({ Records: [{ EventSource: 'aws:sns', Sns: { Type: 'Notification', Subject: 'ALARM', Message: JSON.stringify(change) } }] });
    expect(slack.accepted).toHaveLength(2);
    expect(JSON.stringify(slack.accepted[1])).toContain('RestoreDrill-bh-rds-denied-drill-failed');
    // The janitor, on its schedule: nothing of ours is left to remove.
    const janitor = [...layout.functions.values()].find((fn) => fn.logicalId.startsWith('RestoreDrillJanitor'))!;
    expect(await janitor.invoke({})).toMatchObject({ removed: [], failed: [], deferred: [] });

    // The bucket is locked as the template says: each version of each report (and of the page) is retained, none was refused.
    expect(s3.requests.filter((request) => request.error === 'InvalidRequest')).toEqual([]);
    for (const key of objects.keys()) {
      const versions = s3.versionsOf(BUCKET, key);
      expect(versions.length, key).toBeGreaterThan(0);
      for (const version of versions) expect(version.retention, key).toEqual({ mode: 'GOVERNANCE', retainUntil: new Date(version.modified.getTime() + 400 * 86_400_000) });
    }

    // Every report in the bucket verifies with verify-report against the signing key's public half.
    const reportFiles = await Promise.all(
      [...s3.objects(BUCKET)].filter(([key]) => key.startsWith('reports/')).map(async ([key, text]) => {
        const file = join(outdir, key.replaceAll('/', '_'));
        await writeFile(file, text);
        return file;
      }),
    );
    const verified = await runCli(['verify-report', ...reportFiles, '--public-key', publicKeyFile], { via: 'source' });
    expect(verified.stdout).toContain(`${reportFiles.length} of ${reportFiles.length} intact`);
    expect(verified.code, verified.stdout).toBe(0);

    // The signing key refused (an SCP, a key policy, a deleted secret) to every function, cold started: the run says so.
    const refusedKey = new IamAuthority([...principals.values()].map((principal) => withDeny(principal, { Action: 'secretsmanager:GetSecretValue', Resource: signingArn })));
    rds.emulator.iam = refusedKey;
    s3.iam = refusedKey;
    await Promise.all([...layout.functions.values()].map((fn) => fn.stop()));
    const unsignedRun = (await layout.run({ mode: 'drill', trigger: 'schedule', databases: ['bh-rds-pass'] }, 50).result) as unknown as ReportOutput;
    const [unsignedKey] = unsignedRun.reportKeys;
    const unsigned = JSON.parse(s3.objects(BUCKET).get(unsignedKey!)!) as DrillReport;
    // Kept, with all it found (an auditor still sees the restore), unsigned, and its error says why; not a passed drill.
    expect(unsignedRun.drills).toEqual([{ database: 'bh-rds-pass', status: 'error', error: expect.stringMatching(/^the report is stored unsigned: cannot read the report signing key .*AccessDeniedException.*secretsmanager:GetSecretValue/) }]);
    expect(unsigned.signature).toBeUndefined();
    expect(unsigned.error).toMatchObject({ step: 'report', kind: 'tool', name: 'ReportSigningError' });
    expect(unsigned.checks.map((check) => check.status)).toEqual(['pass', 'pass', 'pass', 'pass']);
    expect(unsigned.copy).toMatchObject({ removed: true });
    const emfAfter = reportLogs.filter((line) => line.startsWith('{"_aws"')).map((line) => JSON.parse(line) as { Database: string; DrillSucceeded: number });
    expect(emfAfter.at(-1)).toMatchObject({ Database: 'bh-rds-pass', DrillSucceeded: 0 });
    expect(JSON.stringify(slack.accepted.at(-1))).toContain('stored unsigned');
    const unsignedFile = join(outdir, 'unsigned-report.json');
    await writeFile(unsignedFile, s3.objects(BUCKET).get(unsignedKey!)!);
    const verifiedUnsigned = await runCli(['verify-report', unsignedFile, '--public-key', publicKeyFile], { via: 'source' });
    expect(verifiedUnsigned.code).toBe(1);
    expect(verifiedUnsigned.stdout).toMatch(/^unsigned +\S+unsigned-report\.json \(bh-rds-pass, /);

    // No secret in the bucket, the execution's answer, Slack, or any function's log; nor the signing key.
    const logs = [...layout.functions.values()].flatMap((fn) => fn.logs);
    const keyBody = signingPem.split('\n')[1]!;
    for (const text of [...s3.objects(BUCKET).values(), JSON.stringify(result), JSON.stringify(unsignedRun), JSON.stringify(slack.accepted), ...logs]) {
      for (const secret of [NEON_API_KEY, ROLE_PASSWORD, SOURCE_PASSWORD, slack.token, keyBody]) expect(text).not.toContain(secret);
    }
  }, 420_000);
});
