import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { signReport } from '../../lib/evidence/signing.ts';
import { reportKey } from '../../lib/report/s3Store.ts';
import type { DrillReport } from '../../lib/report/types.ts';
import { S3Emulator } from '../emulators/s3/emulator.ts';
import { IamAuthority } from '../support/iam/authority.ts';
import type { Principal } from '../support/iam/types.ts';
import { runCli, type CliResult } from '../support/cli.ts';
import { history } from './history.ts';

// `restore-drill evidence --bucket` as an auditor runs it: the CLI from the checkout, the SDK's usual
// credentials (an auditor's read-only role), the S3 stand-in with IAM enforced.

const BUCKET = 'rd-evidence-cli-reports';
const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const pem = (key: KeyObject, type: 'pkcs8' | 'spki') => key.export({ type, format: 'pem' }) as string;
const ours = generateKeyPairSync('ed25519');
const theirs = generateKeyPairSync('ed25519');

/** Reads the reports and nothing else: list under reports/, get under reports/. */
const auditor: Principal = {
  name: 'auditor',
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/Auditor/auditor`,
  accountId: ACCOUNT,
  accessKeyId: 'AKIAAUDITORREADONLY0',
  secretAccessKey: 'auditor-secret-access-key',
  identityPolicies: [
    {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${BUCKET}`, Condition: { StringLike: { 's3:prefix': 'reports/*' } } },
        { Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/reports/*` },
      ] as never,
    },
  ],
};

let dir: string;
let s3: S3Emulator;
let publicKeyFile: string;
const keys: Record<'intact' | 'altered' | 'otherKey' | 'unsigned', string> = { intact: '', altered: '', otherKey: '', unsigned: '' };

function evidence(args: string[]): Promise<CliResult> {
  return runCli(['evidence', '--bucket', BUCKET, '--region', REGION, ...args], {
    via: 'source',
    withoutEnv: /^AWS_/,
    env: { AWS_ENDPOINT_URL_S3: s3.url, AWS_ACCESS_KEY_ID: auditor.accessKeyId, AWS_SECRET_ACCESS_KEY: auditor.secretAccessKey },
  });
}

function put(report: DrillReport): string {
  const key = reportKey(report);
  s3.buckets.get(BUCKET)!.set(key, { body: Buffer.from(JSON.stringify(report, null, 2)), contentType: 'application/json', modified: new Date() });
  return key;
}

function putAt(key: string, report: DrillReport): string {
  s3.buckets.get(BUCKET)!.set(key, { body: Buffer.from(JSON.stringify(report, null, 2)), contentType: 'application/json', modified: new Date() });
  return key;
}

/** shop: one signed pass, two signed failures turned into unsigned passes (finding 6), the pass under two more keys (finding 7). */
const forgery = { passed: '', forged: [] as string[], replays: [] as string[] };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rd-evidence-cli-'));
  publicKeyFile = join(dir, 'signing.pub.pem');
  await writeFile(publicKeyFile, pem(ours.publicKey, 'spki'));
  s3 = new S3Emulator([BUCKET], { iam: new IamAuthority([auditor]) });
  await s3.start();
  const lastDay = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  const reports = history({ databases: ['app', 'billing'], days: 3, lastDay, skipRate: 0, failRate: 0, errorRate: 0 }).map((entry) => ({ ...entry.report, drillId: `d${entry.report.database.length}${entry.report.startedAt.slice(8, 10)}` }));
  const [first, second, third, fourth, ...rest] = reports;
  keys.intact = put(signReport(first!, ours.privateKey));
  // One byte of content changed after signing.
  const altered = signReport(second!, ours.privateKey);
  keys.altered = put({ ...altered, rpo: { ...altered.rpo, claimedSeconds: (altered.rpo.claimedSeconds ?? 0) + 1 } });
  keys.otherKey = put(signReport(third!, theirs.privateKey));
  keys.unsigned = put(fourth!);
  for (const report of rest) put(signReport(report, ours.privateKey));
  const shop = history({ databases: ['shop'], days: 3, lastDay, skipRate: 0, failRate: 0, errorRate: 0 }).map((entry, index) => signReport({ ...entry.report, drillId: `shop${index}`, status: index === 0 ? 'passed' : 'failed' }, ours.privateKey));
  forgery.passed = put(shop[0]!);
  forgery.forged = shop.slice(1).map((report) => {
    const { signature: _removed, ...content } = report;
    return put({ ...content, status: 'passed' });
  });
  forgery.replays = [0, 1].map((n) => putAt(`reports/shop/replayed-${n}.json`, shop[0]!));
});

afterAll(async () => {
  await s3?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('restore-drill evidence --bucket, through the CLI', () => {
  test('with the public key: the page is written, each report that does not verify is named, exit 1', async () => {
    const out = join(dir, 'checked.html');

    const result = await evidence(['--public-key', publicKeyFile, '--database', 'app', 'billing', '--out', out]);

    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toMatch(new RegExp(`^wrote ${out}: 2 database\\(s\\), 3 verified drill\\(s\\) of 6`));
    expect(result.stderr).toContain(`ALTERED                s3://${BUCKET}/${keys.altered}`);
    expect(result.stderr).toContain(`signed by another key  s3://${BUCKET}/${keys.otherKey}`);
    expect(result.stderr).toContain(`2 report(s) do not verify against the public key`);
    // Unsigned is not counted, but older than every signed report of its database it is no failed verification: reports from before signing was turned on are unsigned.
    expect(result.stderr).toContain('restore-drill: 1 report(s) are unsigned and not counted as verified drills');
    expect(result.stderr).not.toContain(keys.unsigned);
    expect(result.stderr).not.toContain(keys.intact);
    const page = await readFile(out, 'utf8');
    for (const name of ['app', 'billing']) expect(page).toContain(name);
    // Only reads, only under reports/, and IAM allowed each.
    expect(s3.requests.every((request) => request.method === 'GET' && !request.denied)).toBe(true);
  });

  test('with the public key: forged unsigned reports and replayed copies are not counted, each is named, exit 1', async () => {
    const out = join(dir, 'shop.html');

    const result = await evidence(['--public-key', publicKeyFile, '--database', 'shop', '--out', out]);

    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toContain(': 1 database(s), 1 verified drill(s) of 3');
    for (const key of forgery.forged) expect(result.stderr).toMatch(new RegExp(`unsigned after signing\\s+s3://${BUCKET}/${key} \\(shop, `));
    for (const key of forgery.replays) expect(result.stderr).toContain(`duplicate              s3://${BUCKET}/${key}: the same drill as s3://${BUCKET}/${forgery.passed}`);
    expect(result.stderr).toContain('2 unsigned report(s) are newer than a signed report of their database and do not say their signing failed');
    const page = (await readFile(out, 'utf8')).replace(/<[^>]+>/g, '');
    expect(page).toMatch(/shop: restored and verified 1 time between \d{4}-\d\d-\d\d and \d{4}-\d\d-\d\d \(1 verified drill\)/);
    expect(page).toContain('1 passed, 0 failed');
  });

  test('without a public key: nothing is checked, exit 0; every report intact: exit 0', async () => {
    const unchecked = await evidence(['--database', 'app', 'billing', '--out', join(dir, 'unchecked.html')]);
    const onlyBilling = await evidence(['--public-key', publicKeyFile, '--database', 'billing', '--out', join(dir, 'billing.html')]);

    expect(unchecked.code, unchecked.stderr).toBe(0);
    expect(unchecked.stderr).toBe('');
    expect(onlyBilling.code, onlyBilling.stderr).toBe(0);
  });

  test('a caller IAM refuses: the error names the bucket and the refusal, exit 3, no page', async () => {
    const out = join(dir, 'refused.html');
    const refused = await runCli(['evidence', '--bucket', BUCKET, '--region', REGION, '--out', out], {
      via: 'source',
      withoutEnv: /^AWS_/,
      env: { AWS_ENDPOINT_URL_S3: s3.url, AWS_ACCESS_KEY_ID: 'AKIANOBODY0000000000', AWS_SECRET_ACCESS_KEY: 'nobody' },
    });

    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(new RegExp(`^restore-drill: could not read the reports in s3://${BUCKET}/reports/: InvalidAccessKeyId: .*; nothing was written\n$`));
    await expect(readFile(out, 'utf8')).rejects.toThrow(/ENOENT/);
  });
});
