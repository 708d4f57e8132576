import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DrillReport } from '../report/types.ts';
import type { EvidenceReport } from './model.ts';

export interface LoadedReports {
  reports: EvidenceReport[];
  unreadable: { origin: string; reason: string }[];
  /** Every database with a report in the listing, fetched or not (reports before `since` are not fetched). */
  databases?: string[];
}

function parse(text: string, origin: string, into: LoadedReports): void {
  try {
    into.reports.push({ report: JSON.parse(text) as DrillReport, origin });
  } catch (error) {
    into.unreadable.push({ origin, reason: `not JSON: ${(error as Error).message}` });
  }
}

/** Every `*.json` in the report folder (what writeReport writes); a missing folder has no reports. */
export async function readReportsFromDir(dir: string): Promise<LoadedReports> {
  const loaded: LoadedReports = { reports: [], unreadable: [] };
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  for (const name of names.filter((file) => file.endsWith('.json')).sort()) {
    const file = join(dir, name);
    parse(await readFile(file, 'utf8'), file, loaded);
  }
  return loaded;
}

/** The two S3 calls the page needs, as the SDK's S3Client makes them: tests and the CLI hand in their client. */
export interface S3Reader {
  send(command: unknown): Promise<unknown>;
}

/** The stamp of a key `reports/<database>/<yyyymmddThhmmssZ>.json` as a time, or undefined. */
function keyTime(key: string): number | undefined {
  const match = /\/(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z(?:-[a-z0-9]+)?\.json$/.exec(key);
  return match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]), Number(match[4]), Number(match[5]), Number(match[6])) : undefined;
}

/**
 * The reports in the bucket under `reports/` (or `reports/<database>/` for each database named), read
 * through the given client. Keys carry the drill's start (reportKey), so objects from before `since`
 * are not fetched. `concurrency` GetObject calls are in flight at once.
 */
export async function readReportsFromBucket(
  client: S3Reader,
  bucket: string,
  options: { databases?: readonly string[] | undefined; since?: Date | undefined; concurrency?: number } = {},
): Promise<LoadedReports> {
  const { ListObjectsV2Command, GetObjectCommand } = await import('@aws-sdk/client-s3');
  const prefixes = options.databases?.length ? options.databases.map((name) => `reports/${name}/`) : ['reports/'];
  const keys: string[] = [];
  const databases = new Set<string>();
  for (const prefix of prefixes) {
    let token: string | undefined;
    do {
      const page = (await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }))) as import('@aws-sdk/client-s3').ListObjectsV2CommandOutput;
      for (const object of page.Contents ?? []) {
        if (!object.Key?.endsWith('.json')) continue;
        const database = /^reports\/([^/]+)\//.exec(object.Key)?.[1];
        if (database) databases.add(database);
        const time = keyTime(object.Key);
        // A second of slack: keys drop the start's milliseconds.
        if (options.since && time !== undefined && time + 1000 < options.since.getTime()) continue;
        keys.push(object.Key);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
  keys.sort();
  const loaded: LoadedReports = { reports: [], unreadable: [], databases: [...databases].sort() };
  const texts = new Array<string | undefined>(keys.length);
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const index = next++;
      const object = (await client.send(new GetObjectCommand({ Bucket: bucket, Key: keys[index] }))) as import('@aws-sdk/client-s3').GetObjectCommandOutput;
      texts[index] = object.Body ? await object.Body.transformToString() : '';
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 8, keys.length) }, worker));
  keys.forEach((key, index) => parse(texts[index] ?? '', `s3://${bucket}/${key}`, loaded));
  return loaded;
}
