import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RestoreDrillConfig } from '../../lib/config/schema.ts';
import { RestoreDrillStack } from '../../lib/infra/restoreDrill.ts';
import { s3ReportStore } from '../../lib/report/s3Store.ts';
import { S3Emulator, type S3BucketSettings } from '../emulators/s3/emulator.ts';
import { CfnSchemas } from '../support/awsData/index.ts';
import { IamAuthority } from '../support/iam/authority.ts';
import type { Principal } from '../support/iam/types.ts';
import { sampleReport } from '../report/helpers.ts';
import { loadCloudExample } from '../support/cloudExample.ts';

// The reports bucket with S3 Object Lock: the template as CloudFormation's schema and S3 take it, and
// the S3 stand-in refusing what S3 refuses for a locked object version (so our writes are proved to
// work against a locked bucket, and nothing of ours can delete a report before its retention ends).

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const DAY_MS = 86_400_000;
let config: RestoreDrillConfig;
let settings: Record<string, unknown>;
let outdir: string;

beforeAll(async () => {
  ({ config, settings } = await loadCloudExample());
  outdir = await mkdtemp(join(tmpdir(), 'rd-object-lock-'));
});
afterAll(async () => {
  if (outdir) await rm(outdir, { recursive: true, force: true });
});

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

function bucketOf(extra: Record<string, unknown>): { properties: Record<string, unknown>; resources: Resources } {
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new RestoreDrillStack(app, 'Locked', { config, settings: { ...settings, ...extra } as never, env: { account: ACCOUNT, region: REGION } });
  const resources = Template.fromStack(stack).toJSON().Resources as Resources;
  const [, bucket] = Object.entries(resources).find(([id, resource]) => resource.Type === 'AWS::S3::Bucket' && id.startsWith('RestoreDrillReports'))!;
  return { properties: bucket.Properties, resources };
}

describe('the reports bucket with Object Lock', () => {
  const schemas = new CfnSchemas();

  test('governance by default: Object Lock on, every version retained reportRetentionDays, versioned, valid for CloudFormation; lifecycle never deletes a version before its retention ends', () => {
    const { properties } = bucketOf({ reportObjectLock: {}, reportRetentionDays: 400 });

    expect(properties).toMatchObject({
      ObjectLockEnabled: true,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 400 } } },
      VersioningConfiguration: { Status: 'Enabled' },
    });
    const [rule] = (properties.LifecycleConfiguration as { Rules: { ExpirationInDays?: number; NoncurrentVersionExpiration?: { NoncurrentDays: number } }[] }).Rules;
    // A version replaced on its first day becomes noncurrent then; it is locked until 400 days after it was written.
    expect(rule).toMatchObject({ ExpirationInDays: 400, NoncurrentVersionExpiration: { NoncurrentDays: 400 } });
    expect(schemas.propertiesProblems('AWS::S3::Bucket', properties)).toEqual([]);
    expect(S3Emulator.bucketSettingsOf(properties)).toEqual({ versioned: true, objectLock: { mode: 'GOVERNANCE', days: 400 } });
  });

  test('compliance by choice; without the setting no lock (and the old lifecycle); a mode S3 does not have is refused by name', () => {
    const compliance = bucketOf({ reportObjectLock: { mode: 'compliance' }, reportRetentionDays: 30 }).properties;
    const unlocked = bucketOf({}).properties;
    const wrong = (() => {
      try {
        bucketOf({ reportObjectLock: { mode: 'legal-hold' } });
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    })();

    expect(compliance.ObjectLockConfiguration).toEqual({ ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 30 } } });
    expect(schemas.propertiesProblems('AWS::S3::Bucket', compliance)).toEqual([]);
    expect(unlocked.ObjectLockEnabled).toBeUndefined();
    expect(unlocked.ObjectLockConfiguration).toBeUndefined();
    expect((unlocked.LifecycleConfiguration as { Rules: { NoncurrentVersionExpiration?: { NoncurrentDays: number } }[] }).Rules[0]!.NoncurrentVersionExpiration).toEqual({ NoncurrentDays: 30 });
    expect(wrong).toMatch(/reportObjectLock\.mode.*"governance".*"compliance"/);
  });

  test('no function may delete a report or bypass a retention: no s3:Delete* nor s3:BypassGovernanceRetention in any role', () => {
    const { resources } = bucketOf({ reportObjectLock: {} });
    const actions = Object.values(resources)
      .filter((resource) => resource.Type === 'AWS::IAM::Policy')
      .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: { Action: string | string[] }[] }).Statement.flatMap((statement) => [statement.Action].flat()));
    expect(actions.filter((action) => /^s3:(Delete|Bypass|PutObjectRetention|PutBucketObjectLock)/.test(action) || action === 's3:*')).toEqual([]);
  });
});

describe('the S3 stand-in enforces Object Lock as S3 does', () => {
  const BUCKET = 'rd-locked-reports';
  const GOVERNED = 'rd-governed-reports';
  let clock = Date.parse('2026-12-01T03:00:00Z');
  const principal = (name: string, accessKeyId: string, actions: string[]): Principal => ({
    name,
    arn: `arn:aws:iam::${ACCOUNT}:user/${name}`,
    accountId: ACCOUNT,
    accessKeyId,
    secretAccessKey: `${name}-secret`,
    identityPolicies: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: ['arn:aws:s3:::*', 'arn:aws:s3:::*/*'] }] as never }],
  });
  const writer = principal('writer', 'AKIAREPORTWRITER0000', ['s3:PutObject', 's3:GetObject', 's3:GetObjectVersion', 's3:ListBucket', 's3:DeleteObject', 's3:DeleteObjectVersion']);
  const admin = principal('admin', 'AKIABUCKETADMIN00000', ['s3:*']);
  const s3 = new S3Emulator([BUCKET, GOVERNED], {
    iam: new IamAuthority([writer, admin]),
    now: () => new Date(clock),
    buckets: { [BUCKET]: { versioned: true, objectLock: { mode: 'COMPLIANCE', days: 30 } }, [GOVERNED]: { versioned: true, objectLock: { mode: 'GOVERNANCE', days: 30 } } } satisfies Record<string, S3BucketSettings>,
  });
  const clientOf = (who: Principal) => new S3Client({ region: REGION, endpoint: s3.url, forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: who.accessKeyId, secretAccessKey: who.secretAccessKey } });
  const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (error: { name: string; message: string; $metadata?: { httpStatusCode?: number } }) => ({ name: error.name, status: error.$metadata?.httpStatusCode, message: error.message }));

  beforeAll(() => s3.start());
  afterAll(() => s3.stop());

  test('a write without a checksum (Content-MD5 or x-amz-checksum-*) is refused by a bucket with default retention; the SDK\'s checksummed write is taken, and retained', async () => {
    const { status, body } = await unsignedSdklessPut(s3.url, BUCKET, 'reports/app/raw.json', '{}', writer);

    const written = await clientOf(writer).send(new PutObjectCommand({ Bucket: BUCKET, Key: 'reports/app/sdk.json', Body: '{}' }));

    expect(status).toBe(400);
    expect(body).toMatch(/<Code>InvalidRequest<\/Code><Message>Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters<\/Message>/);
    expect(written.VersionId).toEqual(expect.any(String));
    expect(s3.versionsOf(BUCKET, 'reports/app/sdk.json')).toEqual([expect.objectContaining({ versionId: written.VersionId, retention: { mode: 'COMPLIANCE', retainUntil: new Date(clock + 30 * DAY_MS) } })]);
  });

  test('compliance: a new version and a delete marker are taken; no one deletes a retained version, the bucket\'s admin with the bypass neither; after the retention it can go', async () => {
    const key = 'reports/app/20261201T030000Z-c1.json';
    const first = await clientOf(writer).send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'first' }));
    const second = await clientOf(writer).send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'second' }));
    const current = await (await clientOf(writer).send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToString();
    const older = await (await clientOf(writer).send(new GetObjectCommand({ Bucket: BUCKET, Key: key, VersionId: first.VersionId }))).Body!.transformToString();

    const marker = await clientOf(writer).send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    const gone = await failure(clientOf(writer).send(new GetObjectCommand({ Bucket: BUCKET, Key: key })));
    const byWriter = await failure(clientOf(writer).send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key, VersionId: first.VersionId })));
    const byAdmin = await failure(clientOf(admin).send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key, VersionId: second.VersionId, BypassGovernanceRetention: true })));
    clock += 31 * DAY_MS;
    const afterRetention = await clientOf(writer).send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key, VersionId: first.VersionId }));

    expect([current, older]).toEqual(['second', 'first']);
    expect(marker.DeleteMarker).toBe(true);
    expect(gone).toMatchObject({ name: 'NoSuchKey', status: 404 });
    expect(byWriter).toMatchObject({ name: 'AccessDenied', status: 403, message: expect.stringMatching(/protected by Object Lock/) });
    expect(byAdmin).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(afterRetention.VersionId).toBe(first.VersionId);
    expect(s3.versionsOf(BUCKET, key).map((version) => (version.deleteMarker ? 'marker' : version.body.toString()))).toEqual(['second', 'marker']);
  });

  test('governance: a retained version goes only with x-amz-bypass-governance-retention and s3:BypassGovernanceRetention', async () => {
    const key = 'reports/app/20261201T030000Z-g1.json';
    const { VersionId } = await clientOf(writer).send(new PutObjectCommand({ Bucket: GOVERNED, Key: key, Body: 'report' }));

    const withoutHeader = await failure(clientOf(admin).send(new DeleteObjectCommand({ Bucket: GOVERNED, Key: key, VersionId })));
    const withoutPermission = await failure(clientOf(writer).send(new DeleteObjectCommand({ Bucket: GOVERNED, Key: key, VersionId, BypassGovernanceRetention: true })));
    const bypassed = await clientOf(admin).send(new DeleteObjectCommand({ Bucket: GOVERNED, Key: key, VersionId, BypassGovernanceRetention: true }));

    expect(withoutHeader).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(withoutPermission).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(bypassed.VersionId).toBe(VersionId);
    expect(s3.versionsOf(GOVERNED, key)).toEqual([]);
  });

  test('the report store\'s writes work on a locked bucket: the exclusive first write, the rewrite after delivery (a new version, each retained), and a key another drill holds', async () => {
    const store = s3ReportStore(BUCKET, { client: clientOf(writer) });
    const base = sampleReport();
    const report = { ...base, copy: { ...base.copy, name: 'rd-app-20261201030000-lk01' } };

    const key = await store.put(report);
    await store.put({ ...report, delivery: { slack: { ok: true, to: 'slack', attempts: 1, at: report.finishedAt } } });
    const other = await store.put({ ...base, status: 'failed', copy: { ...base.copy, name: 'rd-app-20261201030001-lk01' } });

    const versions = s3.versionsOf(BUCKET, key);
    expect(versions).toHaveLength(2);
    for (const version of versions) expect(version.retention).toEqual({ mode: 'COMPLIANCE', retainUntil: new Date(version.modified.getTime() + 30 * DAY_MS) });
    expect(JSON.parse(versions.at(-1)!.body.toString()).delivery.slack.ok).toBe(true);
    expect(other).not.toBe(key);
  });
});

/** A PutObject signed as the SDK signs (the stand-in reads the caller from the Authorization header) but with no checksum header at all. */
function unsignedSdklessPut(url: string, bucket: string, key: string, body: string, who: Principal): Promise<{ status: number; body: string }> {
  const target = new URL(`/${bucket}/${key}`, url);
  const date = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const authorization = `AWS4-HMAC-SHA256 Credential=${who.accessKeyId}/${date.slice(0, 8)}/${REGION}/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=${createHash('sha256').update(body).digest('hex')}`;
  return new Promise((resolve, reject) => {
    const outgoing = request(target, { method: 'PUT', headers: { authorization, 'x-amz-date': date, 'content-length': Buffer.byteLength(body) } }, (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
    });
    outgoing.once('error', reject);
    outgoing.end(body);
  });
}
