import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { deliverRun } from '../../lib/report/deliver.ts';
import { memoryReportStore, s3ReportStore } from '../../lib/report/s3Store.ts';
import { writeReport } from '../../lib/report/store.ts';
import type { DrillReport } from '../../lib/report/types.ts';
import { sampleReport } from './helpers.ts';

// Issue 14, item 12: two runs of one database in the same second wrote one report file, and a
// failure was overwritten by a pass.
const SECOND = '2026-12-01T20:00:00';
const failure = () =>
  sampleReport({
    status: 'failed',
    startedAt: `${SECOND}.120Z`,
    copy: { name: 'rd-app-20261201200000-f41l', kept: false, removed: true },
    error: { step: 'wait', kind: 'backup', message: 'recovery ended before configured recovery target was reached' },
  });
const pass = () => sampleReport({ status: 'passed', startedAt: `${SECOND}.480Z`, copy: { name: 'rd-app-20261201200000-p4ss', kept: false, removed: true } });
/** Two drills whose copies drew the same random part in the same second: names must still differ. */
const twin = () => sampleReport({ status: 'error', startedAt: `${SECOND}.730Z`, copy: { name: 'rd-app-20261201200000-p4ss', kept: false, removed: false } });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rd-store-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function onDisk(): Promise<DrillReport[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.json')).sort();
  return Promise.all(names.map(async (name) => JSON.parse(await readFile(join(dir, name), 'utf8')) as DrillReport));
}

describe('report files', () => {
  test('two drills of one database in the same second write two files, named by the drill; neither overwrites the other', async () => {
    const first = await writeReport(dir, failure());
    const second = await writeReport(dir, pass());
    const third = await writeReport(dir, twin());

    expect(new Set([first, second, third]).size).toBe(3);
    expect(first).toBe(join(dir, 'app-20261201T200000Z-f41l.json'));
    expect(second).toBe(join(dir, 'app-20261201T200000Z-p4ss.json'));
    expect((await onDisk()).map((report) => report.status).sort()).toEqual(['error', 'failed', 'passed']);
    expect((await readdir(dir)).filter((name) => !name.endsWith('.json'))).toEqual([]);
  });

  test("a drill's own report is written again after delivery, in place; the other drill's stays as it was", async () => {
    const failed = failure();
    const passed = pass();
    await writeReport(dir, failed);
    await writeReport(dir, passed);

    await deliverRun({ status: 'failed', drills: [failed] }, { reportDir: dir, metrics: { kind: 'emf', file: join(dir, 'metrics', 'emf.jsonl') } });

    const reports = await onDisk();
    expect(reports).toHaveLength(2);
    expect(reports.find((report) => report.status === 'failed')!.delivery?.metrics).toMatchObject({ ok: true });
    expect(reports.find((report) => report.status === 'passed')!.delivery).toBeUndefined();
  });

  test('the same drill written twice at once by two writers: one file, never a torn one', async () => {
    const report = failure();
    const files = await Promise.all([writeReport(dir, report), writeReport(dir, report)]);
    expect(new Set(files).size).toBe(1);
    expect(await onDisk()).toHaveLength(1);
  });
});

describe('report keys in the bucket', () => {
  test('two drills in the same second get two keys; a report saved again keeps its key', async () => {
    const store = memoryReportStore();
    const failed = failure();
    const first = await store.put(failed);
    const second = await store.put(pass());
    const third = await store.put(twin());

    expect(new Set([first, second, third]).size).toBe(3);
    expect(first).toBe('reports/app/20261201T200000Z-f41l.json');
    expect(await store.put({ ...failed, delivery: { slack: { ok: true, to: 'slack', attempts: 1, at: `${SECOND}.900Z` } } })).toBe(first);
    expect((await store.get(first)).delivery?.slack?.ok).toBe(true);
    expect((await store.get(second)).status).toBe('passed');
    expect((await store.previous('app'))?.startedAt).toBe(`${SECOND}.480Z`);
  });

  test('the first write of a key is conditional (If-None-Match: *): a key taken by another drill is never overwritten', async () => {
    // Prepare: a bucket as S3 behaves with conditional writes (412 when the key exists)
    const objects = new Map<string, string>();
    const puts: { Key: string; IfNoneMatch?: string }[] = [];
    const client = {
      send: async (command: { constructor: { name: string }; input: { Key: string; Body?: string; IfNoneMatch?: string; Prefix?: string } }) => {
        const { input } = command;
        if (command.constructor.name === 'PutObjectCommand') {
          puts.push({ Key: input.Key, ...(input.IfNoneMatch ? { IfNoneMatch: input.IfNoneMatch } : {}) });
          if (input.IfNoneMatch === '*' && objects.has(input.Key)) throw Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), { name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
          objects.set(input.Key, input.Body!);
          return {};
        }
        if (command.constructor.name === 'GetObjectCommand') return { Body: { transformToString: async () => objects.get(input.Key)! } };
        return { Contents: [...objects.keys()].filter((key) => key.startsWith(input.Prefix ?? '')).map((Key) => ({ Key })), IsTruncated: false };
      },
    };
    const store = s3ReportStore('reports-bucket', { client: client as never });

    // Act
    const passed = pass();
    const first = await store.put(passed);
    const second = await store.put(twin());
    const again = await store.put(passed);

    // Assess
    expect(second).not.toBe(first);
    expect(again).toBe(first);
    expect(puts[0]).toEqual({ Key: first, IfNoneMatch: '*' });
    expect(puts.filter((put) => put.Key === first && put.IfNoneMatch === undefined)).toHaveLength(1);
    expect((JSON.parse(objects.get(first)!) as DrillReport).status).toBe('passed');
    expect((JSON.parse(objects.get(second)!) as DrillReport).status).toBe('error');
  });
});
