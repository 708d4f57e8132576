import { targetNoLaterThan } from './store.ts';
import { redactDeep } from '../util/redact.ts';
import type { DrillReport } from './types.ts';

/** How many of the newest reports are read looking for one to compare row counts with. */
const PREVIOUS_LOOKBACK = 20;

/** Where the cloud keeps drill reports; the state machine carries only their keys. */
export interface ReportStore {
  /** Saves the report (again, after delivery) under its stable key; returns the key. */
  put(report: DrillReport): Promise<string>;
  get(key: string): Promise<DrillReport>;
  /** The newest report of a database (with targetAtMost: of a drill to that time or earlier), for the row-count drop rule. */
  previous(database: string, targetAtMost?: Date): Promise<DrillReport | undefined>;
}

/** `reports/<database>/<startedAt>.json`: keys sort by time within a database. */
export function reportKey(report: Pick<DrillReport, 'database' | 'startedAt'>): string {
  return `reports/${report.database}/${report.startedAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.json`;
}

/** In the bucket; the SDK is loaded at the first call (Plan, Start and Poll never touch the bucket). */
export function s3ReportStore(bucket: string): ReportStore {
  let loaded: Promise<{ sdk: typeof import('@aws-sdk/client-s3'); client: import('@aws-sdk/client-s3').S3Client }> | undefined;
  const s3 = () => (loaded ??= import('@aws-sdk/client-s3').then((sdk) => ({ sdk, client: new sdk.S3Client({}) })));
  const get = async (key: string): Promise<DrillReport> => {
    const { sdk, client } = await s3();
    const object = await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse(await object.Body!.transformToString()) as DrillReport;
  };
  return {
    async put(report) {
      const { sdk, client } = await s3();
      const key = reportKey(report);
      await client.send(new sdk.PutObjectCommand({ Bucket: bucket, Key: key, Body: `${JSON.stringify(redactDeep(report), null, 2)}\n`, ContentType: 'application/json' }));
      return key;
    },
    get,
    async previous(database, targetAtMost) {
      const { sdk, client } = await s3();
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: `reports/${database}/`, ContinuationToken: token }));
        for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      // Keys sort by start time: the newest drill whose target qualifies, among the last few.
      for (const key of keys.sort().reverse().slice(0, PREVIOUS_LOOKBACK)) {
        const report = await get(key);
        if (targetNoLaterThan(report, targetAtMost)) return report;
      }
      return undefined;
    },
  };
}

/** In memory (tests, the local state-machine runs). */
export function memoryReportStore(): ReportStore & { reports: Map<string, DrillReport> } {
  const reports = new Map<string, DrillReport>();
  return {
    reports,
    async put(report) {
      const key = reportKey(report);
      reports.set(key, redactDeep(structuredClone(report)));
      return key;
    },
    async get(key) {
      const report = reports.get(key);
      if (!report) throw new Error(`no report ${key}`);
      return structuredClone(report);
    },
    async previous(database, targetAtMost) {
      const keys = [...reports.keys()].filter((key) => key.startsWith(`reports/${database}/`)).sort().reverse();
      const key = keys.find((candidate) => targetNoLaterThan(reports.get(candidate)!, targetAtMost));
      return key ? structuredClone(reports.get(key)) : undefined;
    },
  };
}
