import type { S3Reader } from './sources.ts';

/** Where the cloud keeps the evidence page, beside the reports it is made from. */
export const EVIDENCE_KEY = 'evidence/index.html';
/** The period the cloud's page covers. */
export const EVIDENCE_PERIOD_DAYS = 90;

/**
 * The evidence page of the last 90 days, made from the bucket's reports and written back to it
 * (Report runs this after every execution). Returns where it is, as `s3://<bucket>/evidence/index.html`:
 * the Slack message names the key rather than a presigned URL, which would be a bearer link to the
 * drill history for anyone who sees the channel.
 */
export async function publishEvidence(client: S3Reader, bucket: string, now: Date): Promise<string> {
  const [{ readReportsFromBucket }, { buildEvidence }, { renderEvidence }, { PutObjectCommand }] = await Promise.all([
    import('./sources.ts'),
    import('./model.ts'),
    import('./page.ts'),
    import('@aws-sdk/client-s3'),
  ]);
  const period = { since: new Date(now.getTime() - EVIDENCE_PERIOD_DAYS * 86_400_000), until: now };
  const loaded = await readReportsFromBucket(client, bucket, { since: period.since });
  const source = `the bucket s3://${bucket}/reports/`;
  const evidence = buildEvidence({ reports: loaded.reports, unreadable: loaded.unreadable, knownDatabases: loaded.databases, period, now, source });
  const html = await renderEvidence(evidence);
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: EVIDENCE_KEY, Body: html, ContentType: 'text/html; charset=utf-8' }));
  return `s3://${bucket}/${EVIDENCE_KEY}`;
}
