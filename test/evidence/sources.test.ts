import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readReportsFromBucket, readReportsFromDir } from '../../lib/evidence/sources.ts';
import { signReport } from '../../lib/evidence/signing.ts';
import { reportKey } from '../../lib/report/s3Store.ts';
import { S3Emulator } from '../emulators/s3/emulator.ts';
import { IamAuthority } from '../support/iam/authority.ts';
import type { Principal } from '../support/iam/types.ts';
import { runCli, type CliResult } from '../support/cli.ts';
import { history } from './history.ts';

const BUCKET = 'reports-bucket';
const REGION = 'eu-west-1';

/** Whoever makes the page from the bucket needs only to list and read reports/. */
const auditor: Principal = {
  name: 'auditor',
  arn: 'arn:aws:iam::123456789012:user/auditor',
  accountId: '123456789012',
  accessKeyId: 'AKIAEVIDENCEREADER00',
  secretAccessKey: 'auditor-secret-access-key',
  identityPolicies: [
    {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/reports/*` },
        { Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${BUCKET}`, Condition: { StringLike: { 's3:prefix': 'reports/*' } } },
      ],
    },
  ],
};
const writer: Principal = { ...auditor, name: 'writer', arn: 'arn:aws:iam::123456789012:user/writer', accessKeyId: 'AKIAEVIDENCEWRITER00', identityPolicies: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:PutObject', Resource: `arn:aws:s3:::${BUCKET}/*` }] }] };

const s3 = new S3Emulator([BUCKET], { iam: new IamAuthority([auditor, writer]) });
const clientOf = (principal: Principal) => new S3Client({ region: REGION, endpoint: s3.url, forcePathStyle: true, credentials: { accessKeyId: principal.accessKeyId, secretAccessKey: principal.secretAccessKey }, maxAttempts: 1 });
const reports = history({ databases: ['app', 'billing'], days: 20, lastDay: '2026-11-30' }).map((entry) => entry.report);
let dir: string;

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCli(args, { via: 'source', env, cwd: dir });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rd-evidence-sources-'));
  await s3.start();
  const put = clientOf(writer);
  for (const report of reports) await put.send(new PutObjectCommand({ Bucket: BUCKET, Key: reportKey(report), Body: JSON.stringify(report) }));
  await put.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'reports/app/20261130T230000Z.json', Body: 'not json {' }));
  await put.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'evidence/index.html', Body: '<html>' }));
  // A key as reportKey writes it for a drill with an id: older than the period, so never fetched.
  await put.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'reports/app/20261101T000000Z-ab12.json', Body: JSON.stringify({ ...reports[0], startedAt: '2026-11-01T00:00:00.000Z', drillId: 'ab12' }) }));
});

afterAll(async () => {
  await s3.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('reading reports', () => {
  test('from the bucket, through the client handed in, with list and read on reports/ only; older keys are not fetched', async () => {
    const since = new Date('2026-11-25T00:00:00Z');

    const loaded = await readReportsFromBucket(clientOf(auditor), BUCKET, { since });

    const expected = reports.filter((report) => report.startedAt >= '2026-11-25');
    expect(loaded.reports.map((entry) => entry.report).sort((a, b) => (a.database + a.startedAt < b.database + b.startedAt ? -1 : 1))).toEqual(expected.sort((a, b) => (a.database + a.startedAt < b.database + b.startedAt ? -1 : 1)));
    expect(loaded.reports[0]!.origin).toMatch(/^s3:\/\/reports-bucket\/reports\/app\/2026112\dT\d{6}Z\.json$/);
    expect(loaded.unreadable).toEqual([{ origin: 's3://reports-bucket/reports/app/20261130T230000Z.json', reason: expect.stringMatching(/^not JSON/) }]);
    expect(loaded.databases).toEqual(['app', 'billing']);
    const fetched = s3.requests.filter((request) => request.method === 'GET' && request.key !== '').map((request) => /\/(\d{8})T\d{6}Z(?:-[a-z0-9]+)?\.json$/.exec(request.key)?.[1]);
    expect(fetched).toHaveLength(expected.length + 1);
    expect(fetched.every((day) => day !== undefined && day >= '20261125')).toBe(true);
  });

  test('from the bucket for the databases named: only their prefixes are listed', async () => {
    const loaded = await readReportsFromBucket(clientOf(auditor), BUCKET, { databases: ['billing'] });

    expect(new Set(loaded.reports.map((entry) => entry.report.database))).toEqual(new Set(['billing']));
    expect(loaded.reports).toHaveLength(reports.filter((report) => report.database === 'billing').length);
  });

  test('from a folder: every .json, a file that is not JSON named, a missing folder empty', async () => {
    const folder = join(dir, 'folder');
    await mkdir(folder);
    await writeFile(join(folder, 'app-1.json'), JSON.stringify(reports[0]));
    await writeFile(join(folder, 'broken.json'), '{');
    await writeFile(join(folder, 'notes.txt'), 'x');

    const loaded = await readReportsFromDir(folder);

    expect(loaded.reports).toEqual([{ report: reports[0], origin: join(folder, 'app-1.json') }]);
    expect(loaded.unreadable).toEqual([{ origin: join(folder, 'broken.json'), reason: expect.stringMatching(/^not JSON/) }]);
    expect(await readReportsFromDir(join(dir, 'none'))).toEqual({ reports: [], unreadable: [] });
  });
});

describe('restore-drill evidence', () => {
  test('from a report folder, with a stated schedule and a public key: the page is written and the run says what it read', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const folder = join(dir, 'drill-reports');
    await mkdir(folder, { recursive: true });
    // Drills run at 03:00 UTC: the last one yesterday, so none lies in the future whenever the test runs (today's, run before 03:00, would).
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const recent = history({ databases: ['app'], days: 5, lastDay: yesterday, skipRate: 0 });
    for (const [index, entry] of recent.entries()) {
      const report = index === 0 ? entry.report : signReport(entry.report, privateKey);
      await writeFile(join(folder, `app-${index}.json`), JSON.stringify(report));
    }
    await writeFile(join(dir, 'key.pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }) as string);

    const result = await cli(['evidence', '--report-dir', folder, '--since', '7d', '--expect-every', '1d', '--public-key', 'key.pub.pem', '--out', 'page.html']);

    // An unsigned report is no failed verification (exit 0), but it is not counted.
    expect(result.stderr).toBe('restore-drill: 1 report(s) are unsigned and not counted as verified drills (written before signing was turned on, or when the key could not be read: such a report says why in its error); the page names them\n');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^wrote page\.html: 1 database\(s\), 4 verified drill\(s\) of 5 since \S+ from the folder \S+drill-reports\n$/);
    const html = await readFile(join(dir, 'page.html'), 'utf8');
    expect(html).toContain('(from --expect-every)');
    expect(html).toMatch(/Reports: \d signature intact, 1 unsigned\./);
  });

  test('bad input is refused with the option and what it expects (exit 2)', async () => {
    const result = await cli(['evidence', '--report-dir', dir, '--since', 'ninety days']);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--since "ninety days" is not valid: expected a whole number followed by s, m, h or d');
  });
});
