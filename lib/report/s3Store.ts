import type { S3Client } from '@aws-sdk/client-s3';
import { firstDrillId, newDrillId, reportStamp, sameDrill } from './drillId.ts';
import { targetNoLaterThan } from './store.ts';
import { recordUnsigned } from '../evidence/secretSigning.ts';
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

/**
 * `reports/<database>/<startedAt>-<drillId>.json`: keys sort by time within a database, and two drills
 * of one second get two keys. A report without a drillId (written before it existed) had the time alone.
 */
export function reportKey(report: Pick<DrillReport, 'database' | 'startedAt' | 'drillId'>): string {
  return `reports/${report.database}/${reportStamp(report.startedAt)}${report.drillId ? `-${report.drillId}` : ''}.json`;
}

/** Keys drawn before giving up: each taken key is another drill's. */
const KEY_ATTEMPTS = 8;

/**
 * Saves a report under its own key: the first save of a drill creates the key only where none is
 * (`exists` answers for a store that cannot create conditionally), drawing another drillId while the
 * key is another drill's; later saves (after delivery) replace the drill's own object.
 */
async function putOwn(
  report: DrillReport,
  write: (key: string, exclusive: boolean) => Promise<'written' | 'taken'>,
  stored: (key: string) => Promise<Partial<DrillReport> | undefined>,
): Promise<string> {
  const first = report.drillId === undefined;
  report.drillId ??= firstDrillId(report);
  for (let attempt = 1; ; attempt++) {
    const key = reportKey(report);
    if (!first || (await write(key, true)) === 'written') {
      if (!first) await write(key, false);
      return key;
    }
    // Taken: by this drill's own earlier save (a retried task that lost the id it had drawn), or another drill.
    if (sameDrill(await stored(key), report)) {
      await write(key, false);
      return key;
    }
    if (attempt >= KEY_ATTEMPTS) throw new Error(`no free report key after ${attempt} tries (last ${key})`);
    report.drillId = newDrillId();
  }
}

export interface S3ReportStoreOptions {
  /** @default a client as the AWS SDK is configured (the function's role and region) */
  client?: S3Client;
  /**
   * Signs each report before it is written (the cloud's key from Secrets Manager). A report that cannot
   * be signed is written unsigned, with the reason as its error (recordUnsigned).
   * @default reports are written unsigned
   */
  sign?: (report: DrillReport) => Promise<DrillReport>;
}

/** In the bucket; the SDK is loaded at the first call (Plan, Start and Poll never touch the bucket). */
export function s3ReportStore(bucket: string, options: S3ReportStoreOptions = {}): ReportStore {
  let loaded: Promise<{ sdk: typeof import('@aws-sdk/client-s3'); client: import('@aws-sdk/client-s3').S3Client }> | undefined;
  const s3 = () => (loaded ??= import('@aws-sdk/client-s3').then((sdk) => ({ sdk, client: options.client ?? new sdk.S3Client({}) })));
  const get = async (key: string): Promise<DrillReport> => {
    const { sdk, client } = await s3();
    const object = await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse(await object.Body!.transformToString()) as DrillReport;
  };
  // Redacted, then signed: the signature covers exactly what is stored. Signed per write: the drillId may change between attempts.
  const stored = async (report: DrillReport): Promise<DrillReport> => {
    if (!options.sign) return redactDeep(report);
    try {
      return await options.sign(redactDeep(report));
    } catch (error) {
      recordUnsigned(report, error);
      return redactDeep(report);
    }
  };
  return {
    async put(report) {
      const { sdk, client } = await s3();
      return putOwn(
        report,
        async (key, exclusive) => {
          try {
            // S3 conditional writes: If-None-Match: * creates the key only where there is none (412 otherwise).
            await client.send(
              new sdk.PutObjectCommand({ Bucket: bucket, Key: key, Body: `${JSON.stringify(await stored(report), null, 2)}\n`, ContentType: 'application/json', ...(exclusive ? { IfNoneMatch: '*' } : {}) }),
            );
            return 'written';
          } catch (error) {
            if (exclusive && isKeyTaken(error)) return 'taken';
            throw error;
          }
        },
        (key) => get(key).catch(() => undefined),
      );
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
      return putOwn(
        report,
        async (key, exclusive) => {
          if (exclusive && reports.has(key)) return 'taken';
          reports.set(key, redactDeep(structuredClone(report)));
          return 'written';
        },
        async (key) => reports.get(key),
      );
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

/** 412 PreconditionFailed: the key exists; 409 ConditionalRequestConflict: another conditional write of it is in flight. */
function isKeyTaken(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const name = (error as { name?: string }).name;
  return status === 412 || status === 409 || name === 'PreconditionFailed' || name === 'ConditionalRequestConflict';
}
