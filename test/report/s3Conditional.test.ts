import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { s3ReportStore } from '../../lib/report/s3Store.ts';
import { S3Emulator } from '../emulators/s3/emulator.ts';
import { ADMINISTRATOR_ACCESS_KEY_ID } from '../support/iam/cli.ts';
import { sampleReport } from './helpers.ts';

// S3's conditional writes as the stand-in answers them, and the report store over them: the first
// write of a report never replaces another drill's.
const BUCKET = 'conditional-writes';
const s3 = new S3Emulator([BUCKET]);
let client: S3Client;

beforeAll(async () => {
  await s3.start();
  client = new S3Client({ region: 'us-east-1', endpoint: s3.url, forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: ADMINISTRATOR_ACCESS_KEY_ID, secretAccessKey: 'x' } });
});
afterAll(() => s3.stop());

test('If-None-Match: * writes only a key that holds nothing (412 PreconditionFailed otherwise); the store then takes a fresh key', async () => {
  // Prepare: another drill's report already holds the key this one would take (its id is the copy name's random part).
  const base = sampleReport();
  const report = { ...base, copy: { ...base.copy, name: 'rd-app-20261125190000-ab12' } };
  const store = s3ReportStore(BUCKET, { client });
  const first = await store.put(report);

  // Act
  const refused = await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: first, Body: 'x', IfNoneMatch: '*' })).then(() => undefined, (error: unknown) => error as { name: string; $metadata: { httpStatusCode?: number } });
  // Another drill of the same second with the same random part: a different copy.
  const other = await store.put({ ...base, status: 'failed', copy: { ...base.copy, name: 'rd-app-20261125190001-ab12' } });

  // Assess
  expect(refused).toMatchObject({ name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
  expect(other).not.toBe(first);
  expect(JSON.parse(s3.objects(BUCKET).get(first)!)).toMatchObject({ status: report.status });
});
