import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { emfDocuments } from '../../lib/report/metrics.ts';
import { memoryReportStore } from '../../lib/report/s3Store.ts';
import { postToSlack, slackMessage } from '../../lib/report/slack.ts';
import { writeReport } from '../../lib/report/store.ts';
import { forgetSecrets, redactDeep, redactSecrets, rememberSecret } from '../../lib/util/redact.ts';
import { text } from '../../lib/evidence/escape.ts';
import { recordingServer, sampleReport } from './helpers.ts';

// Each secret form of issue 14, item 6, as it reached the report, stdout and Slack.
const PASS = 'Pw-3c9f1e77aa';
const FORMS: [string, string, string][] = [
  ['a restore command with curl -u user:pass', `curl -fsS -u drill:${PASS} https://wal.example.com/%f -o %p`, `curl -fsS -u drill:[redacted] https://wal.example.com/%f -o %p`],
  ['--user=user:pass', `wget --user=drill:${PASS} x`, `wget --user=drill:[redacted] x`],
  ['--password', `wget --http-password '${PASS}' x`, `wget --http-password '[redacted]' x`],
  ['a source.host holding a connection string', `getaddrinfo ENOTFOUND postgres://ro:${PASS}@db.internal:5432/app`, 'getaddrinfo ENOTFOUND postgres://ro:[redacted]@db.internal:5432/app'],
  ['user:pass@host without a scheme', `rsync ro:${PASS}@backup.internal:/wal`, 'rsync ro:[redacted]@backup.internal:/wal'],
  ['password=', `host=db password=${PASS} user=x`, 'host=db password=[redacted] user=x'],
  ['"password": "..." in JSON', `{"password": "${PASS}"}`, '{"password": "[redacted]"}'],
  ['password:value', `password:${PASS}`, 'password:[redacted]'],
  ['PGPASSWORD=', `PGPASSWORD=${PASS} pg_dump`, 'PGPASSWORD=[redacted] pg_dump'],
  ['a query token', `https://wal.example.com/seg?token=${PASS}&x=1`, 'https://wal.example.com/seg?token=[redacted]&x=1'],
  ['a presigned S3 URL', `https://b.s3.amazonaws.com/k?X-Amz-Security-Token=${PASS}&X-Amz-Signature=${PASS}`, 'https://b.s3.amazonaws.com/k?X-Amz-Security-Token=[redacted]&X-Amz-Signature=[redacted]'],
  ['a webhook path on any host', `POST http://127.0.0.1:4000/services/T0ABC/B0DEF/${PASS.replace('-', '')} failed`, 'POST http://127.0.0.1:4000/services/[redacted] failed'],
  ['a Slack webhook', `https://hooks.slack.com/services/T0/B0/${PASS}`, 'https://hooks.slack.com/[redacted]'],
  ['an AWS access key id', 'AKIAIOSFODNN7EXAMPLE used', '[redacted] used'],
  ['an AWS secret access key setting', `aws_secret_access_key = ${PASS}`, 'aws_secret_access_key = [redacted]'],
  ['a bearer token', `Authorization: Bearer ${PASS}`, 'Authorization: Bearer [redacted]'],
];

afterEach(() => forgetSecrets());

describe('the shared redactor', () => {
  test.each(FORMS)('%s', (_form, input, expected) => {
    expect(redactSecrets(input)).toBe(expected);
    expect(redactSecrets(input)).not.toContain(PASS);
  });

  test('leaves ordinary text alone: times, hashes, copy names, check summaries', () => {
    for (const plain of [
      'target 2026-11-25T14:59:59.000Z (2026-11-25 14:59:59+00)',
      '1 hash mismatch: 0003_add_index (sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08)',
      'rd-app-20261125150102-x7k2 removed',
      'users: 3 rows (min 2); asOf created_at <= 2026-11-25 14:59:59+00: 3 on the source, 3 on the copy',
      'password authentication failed for user "drill"',
      'slack.webhookUrl: the webhook URL is a secret: set SLACK_WEBHOOK_URL in the environment',
      'databases[0].provider.password: expected { "env": "CHECKS_PASSWORD" } or { "secretArn": "arn:aws:secretsmanager:..." }',
    ]) {
      expect(redactSecrets(plain)).toBe(plain);
    }
  });

  test('a remembered value is removed wherever it stands, also its URL path and path segments alone', () => {
    const webhook = 'https://hooks.example.com/services/T0SECRET/B0SECRET/hooktoken4f2a9c1d';
    rememberSecret(webhook);
    rememberSecret('s3cr3t-password');
    expect(redactSecrets('invalid_token hooktoken4f2a9c1d, then s3cr3t-password')).toBe('invalid_token [redacted], then [redacted]');
  });

  test('walks JSON values, strings only; the evidence page uses the same redactor', () => {
    const value = { error: { message: `curl -u a:${PASS} x` }, n: 3, list: [`password=${PASS}`, null] };
    expect(redactDeep(value)).toEqual({ error: { message: 'curl -u a:[redacted] x' }, n: 3, list: ['password=[redacted]', null] });
    // JSON text stays JSON (the CLI's --json output of cloud check goes through redactSecrets)
    expect(JSON.parse(redactSecrets(JSON.stringify({ password: PASS, url: `postgres://u:${PASS}@h/db` })))).toEqual({ password: '[redacted]', url: 'postgres://u:[redacted]@h/db' });
    rememberSecret('remembered-only-value');
    expect(text('see remembered-only-value')).toBe('see [redacted]');
  });
});

describe('every outward text of the report side', () => {
  const planted = () =>
    sampleReport({
      status: 'failed',
      error: { step: 'plan', kind: 'backup', message: `the restore command could not fetch WAL segment 000000010000000000000002: curl -fsS -u drill:${PASS} http://127.0.0.1:9/%f -o %p` },
      checks: [{ check: 'rowCounts', status: 'error', summary: `getaddrinfo ENOTFOUND postgres://ro:${PASS}@db:5432/app`, details: { error: `password=${PASS}` } }],
    });

  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  test('the report file, the S3 store, the Slack message and EMF hold no planted secret', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rd-redact-'));
    const file = await writeReport(dir, planted());
    const written = await readFile(file, 'utf8');
    expect(written).not.toContain(PASS);
    expect(JSON.parse(written)).toMatchObject({ error: { message: expect.stringContaining('-u drill:[redacted]') } });

    const store = memoryReportStore();
    const key = await store.put(planted());
    expect(JSON.stringify(await store.get(key))).not.toContain(PASS);

    expect(JSON.stringify(slackMessage({ status: 'failed', drills: [planted()] }))).not.toContain(PASS);
    expect(JSON.stringify(emfDocuments([planted()]))).not.toContain(PASS);
  });

  test("a Slack error text that echoes the webhook's token is not recorded with it", async () => {
    const token = 'hooktoken7b1e0c55d2';
    const slack = await recordingServer((_request, response) => response.writeHead(403).end(`invalid_token: ${token} (team T0SECRET)`));
    try {
      const outcome = await postToSlack(`${slack.url}/services/T0SECRET/B0SECRET/${token}`, slackMessage({ status: 'passed', drills: [sampleReport()] }), { maxAttempts: 1 });
      expect(outcome.ok).toBe(false);
      expect(outcome.error).toContain('Slack answered HTTP 403 invalid_token');
      expect(outcome.error).not.toContain(token);
    } finally {
      await slack.close();
    }
  });
});
