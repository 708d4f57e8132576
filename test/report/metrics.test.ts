import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { deliverRun, executionConsoleUrl } from '../../lib/report/deliver.ts';
import { appendEmfFile, drillMetrics, emfDocuments, publishEmf, putDrillMetrics } from '../../lib/report/metrics.ts';
import { writeReport } from '../../lib/report/store.ts';
import type { DrillReport } from '../../lib/report/types.ts';
import { failedReport, recordingServer, sampleReport } from './helpers.ts';

const ALL_METRICS = ['DrillSucceeded', 'RpoClaimedSeconds', 'DataLagSeconds', 'RestoreSeconds', 'VerifySeconds', 'RtoSeconds', 'ChecksFailed'];
const UNITS: Record<string, string> = { DrillSucceeded: 'Count', ChecksFailed: 'Count' };

/**
 * The EMF specification's structure (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
 * CloudWatch_Embedded_Metric_Format_Specification.html): a root `_aws` with an integer millisecond
 * `Timestamp` and `CloudWatchMetrics` directives, each with a `Namespace`, `Dimensions` as arrays of
 * dimension-set keys that are top-level string members, and `Metrics` of `{Name, Unit}` whose values
 * are top-level numbers (or arrays of numbers). Returns the problems found.
 */
function emfProblems(document: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const aws = document._aws as { Timestamp?: unknown; CloudWatchMetrics?: unknown } | undefined;
  if (typeof aws !== 'object' || aws === null) return ['no _aws object'];
  if (!Number.isInteger(aws.Timestamp)) problems.push('_aws.Timestamp is not an integer');
  if (!Array.isArray(aws.CloudWatchMetrics) || aws.CloudWatchMetrics.length === 0) return [...problems, 'no CloudWatchMetrics'];
  for (const directive of aws.CloudWatchMetrics as Record<string, unknown>[]) {
    if (typeof directive.Namespace !== 'string' || !/^[\w.\-/#:]{1,255}$/.test(directive.Namespace)) problems.push('bad Namespace');
    if (!Array.isArray(directive.Dimensions)) problems.push('Dimensions is not an array');
    for (const set of (directive.Dimensions ?? []) as unknown[]) {
      if (!Array.isArray(set) || set.length > 30) problems.push('a dimension set is not an array of at most 30');
      for (const key of set as unknown[]) if (typeof key !== 'string' || typeof document[key] !== 'string') problems.push(`dimension ${String(key)} has no string value`);
    }
    if (!Array.isArray(directive.Metrics) || directive.Metrics.length > 100) problems.push('Metrics is not an array of at most 100');
    for (const metric of (directive.Metrics ?? []) as Record<string, unknown>[]) {
      if (typeof metric.Name !== 'string' || metric.Name.length === 0 || metric.Name.length > 255) problems.push('a metric has no Name');
      if (metric.Unit !== undefined && !['Seconds', 'Count', 'Milliseconds', 'None'].includes(metric.Unit as string)) problems.push(`unit ${String(metric.Unit)}`);
      const value = document[metric.Name as string];
      if (typeof value !== 'number' && !(Array.isArray(value) && value.every((v) => typeof v === 'number'))) problems.push(`metric ${String(metric.Name)} has no numeric value`);
    }
  }
  return problems;
}

describe('the numbers of a drill', () => {
  test('each metric carries its report field; DrillSucceeded is 1 only for passed', () => {
    expect(drillMetrics(sampleReport())).toEqual([
      { name: 'DrillSucceeded', unit: 'Count', value: 1 },
      { name: 'RpoClaimedSeconds', unit: 'Seconds', value: 42.5 },
      { name: 'DataLagSeconds', unit: 'Seconds', value: 12.25 },
      { name: 'RestoreSeconds', unit: 'Seconds', value: 61 },
      { name: 'VerifySeconds', unit: 'Seconds', value: 4.5 },
      { name: 'RtoSeconds', unit: 'Seconds', value: 65.5 },
      { name: 'ChecksFailed', unit: 'Count', value: 0 },
    ]);
    const failed = drillMetrics(failedReport());
    expect(failed.find((metric) => metric.name === 'DrillSucceeded')!.value).toBe(0);
    expect(failed.find((metric) => metric.name === 'ChecksFailed')!.value).toBe(1);
    expect(failed.map((metric) => metric.name)).not.toContain('DataLagSeconds');
  });

  test('an errored drill is 0, with the numbers it did not reach left out', () => {
    const report = sampleReport({ status: 'error', rto: { targetSeconds: 3600, restoreSeconds: null, verifySeconds: null, totalSeconds: null, compliant: null }, checks: [] });
    expect(drillMetrics(report).map((metric) => `${metric.name}=${metric.value}`)).toEqual(['DrillSucceeded=0', 'RpoClaimedSeconds=42.5', 'DataLagSeconds=12.25', 'ChecksFailed=0']);
  });
});

describe('EMF', () => {
  test('one document per drill with the specification\'s structure, namespace RestoreDrill, dimension Database alone', () => {
    const documents = emfDocuments([sampleReport(), failedReport()]);
    expect(documents).toHaveLength(2);
    for (const document of documents) expect(emfProblems(document)).toEqual([]);
    const [app, billing] = documents as [Record<string, unknown>, Record<string, unknown>];
    expect(app._aws).toEqual({
      Timestamp: Date.parse('2026-11-25T19:01:10.000Z'),
      CloudWatchMetrics: [{ Namespace: 'RestoreDrill', Dimensions: [['Database']], Metrics: ALL_METRICS.map((name) => ({ Name: name, Unit: UNITS[name] ?? 'Seconds' })) }],
    });
    expect(app).toMatchObject({ Database: 'app', DrillSucceeded: 1, RpoClaimedSeconds: 42.5, DataLagSeconds: 12.25, RestoreSeconds: 61, VerifySeconds: 4.5, RtoSeconds: 65.5, ChecksFailed: 0 });
    expect(Object.keys(app).sort()).toEqual(['Database', '_aws', ...ALL_METRICS].sort());
    expect(billing).toMatchObject({ Database: 'billing', DrillSucceeded: 0, ChecksFailed: 1 });
    expect(billing).not.toHaveProperty('DataLagSeconds');
  });

  test('only a drill refused for its config before anything ran is no drill result; AWS refusing a call is one (DrillSucceeded 0)', () => {
    const refused = sampleReport({ status: 'error', error: { step: 'plan', message: 'target "x" is not valid', kind: 'input', name: 'ConfigError' } });
    expect(emfDocuments([refused])).toEqual([]);
    const denied = sampleReport({ status: 'error', error: { step: 'restore', message: 'AWS denied RestoreDBInstanceToPointInTime', kind: 'input', name: 'AwsApiError' } });
    const deniedAtPlan = sampleReport({ status: 'error', error: { step: 'plan', message: 'AWS denied DescribeDBInstances', kind: 'input', name: 'AwsApiError' } });
    expect(emfDocuments([denied, deniedAtPlan]).map((document) => document.DrillSucceeded)).toEqual([0, 0]);
  });

  test('Lambda: one JSON line per drill on the given stream', () => {
    const lines: string[] = [];
    expect(publishEmf([sampleReport()], (line) => lines.push(line))).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    expect(emfProblems(JSON.parse(lines[0]!) as Record<string, unknown>)).toEqual([]);
  });

  test('CLI: the file gets one parseable line per drill, appended run after run', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rd-emf-'));
    try {
      const file = join(dir, 'metrics', 'drills.emf.jsonl');
      await appendEmfFile(file, [sampleReport(), failedReport()]);
      await appendEmfFile(file, [sampleReport()]);
      const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
      expect(lines).toHaveLength(3);
      const documents = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(documents.flatMap(emfProblems)).toEqual([]);
      expect(documents.map((document) => document.Database)).toEqual(['app', 'billing', 'app']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('PutMetricData', () => {
  let cloudwatch: Awaited<ReturnType<typeof recordingServer>>;
  let status = 200;
  beforeEach(async () => {
    status = 200;
    cloudwatch = await recordingServer((_request, response) => {
      if (status === 200) response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end('{}');
      else response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-query-error': 'InvalidParameterValue;Sender' }).end(JSON.stringify({ __type: 'com.amazonaws.cloudwatch#InvalidParameterValueException', message: 'The value for parameter MetricData is invalid.' }));
    });
  });
  afterEach(async () => cloudwatch.close());

  const client = (options: { requestMinCompressionSizeBytes?: number } = {}) =>
    new CloudWatchClient({ endpoint: cloudwatch.url, region: 'eu-west-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'test-secret-key' }, maxAttempts: 1, ...options });

  interface JsonDatum {
    MetricName: string;
    Dimensions: { Name: string; Value: string }[];
    Timestamp: number;
    Unit: string;
    Value: number;
  }

  test('the SDK\'s AWS JSON 1.0 request carries every metric with its unit, dimension and the drill\'s time', async () => {
    const sent = await putDrillMetrics(client(), [sampleReport(), failedReport()]);

    expect(cloudwatch.requests).toHaveLength(1);
    const [request] = cloudwatch.requests;
    expect(request!.method).toBe('POST');
    expect(request!.headers['x-amz-target']).toBe('GraniteServiceVersion20100801.PutMetricData');
    expect(request!.headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(request!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/monitoring\/aws4_request/);
    const body = JSON.parse(request!.body) as { Namespace: string; MetricData: JsonDatum[] };
    expect(body.Namespace).toBe('RestoreDrill');
    expect(body.MetricData).toHaveLength(sent);
    expect(sent).toBe(7 + 6);
    const app = body.MetricData.filter((datum) => datum.Dimensions[0]!.Value === 'app');
    expect(app.map((datum) => [datum.MetricName, datum.Unit, datum.Value])).toEqual([
      ['DrillSucceeded', 'Count', 1],
      ['RpoClaimedSeconds', 'Seconds', 42.5],
      ['DataLagSeconds', 'Seconds', 12.25],
      ['RestoreSeconds', 'Seconds', 61],
      ['VerifySeconds', 'Seconds', 4.5],
      ['RtoSeconds', 'Seconds', 65.5],
      ['ChecksFailed', 'Count', 0],
    ]);
    for (const datum of body.MetricData) {
      expect(datum.Dimensions).toHaveLength(1);
      expect(datum.Dimensions[0]!.Name).toBe('Database');
      expect(datum.Timestamp).toBe(Date.parse('2026-11-25T19:01:10.000Z') / 1000);
    }
  });

  test('many drills: batches of at most 1000 data points, gzip-compressed as the SDK does for large bodies', async () => {
    const drills: DrillReport[] = Array.from({ length: 150 }, (_, index) => sampleReport({ database: `db-${index}` }));

    const sent = await putDrillMetrics(client(), drills);

    expect(sent).toBe(150 * 7);
    expect(cloudwatch.requests).toHaveLength(2);
    // The SDK gzips bodies from 10 KiB on (requestMinCompressionSizeBytes): the small second batch goes plain.
    expect(cloudwatch.requests.map((request) => [request.compressed, request.headers['content-encoding']])).toEqual([[true, 'gzip'], [false, undefined]]);
    const counts = cloudwatch.requests.map((request) => (JSON.parse(request.body) as { MetricData: unknown[] }).MetricData.length);
    expect(counts).toEqual([1000, 50]);
  });

  test('a refused PutMetricData is recorded in the reports and logged; the drills keep their status', async () => {
    status = 400;
    const dir = await mkdtemp(join(tmpdir(), 'rd-metrics-'));
    try {
      const drills = [sampleReport()];
      await writeReport(dir, drills[0]!);
      const log: string[] = [];

      const delivery = await deliverRun({ status: 'passed', drills }, { reportDir: dir, metrics: { kind: 'cloudwatch', client: client() }, log: (line) => log.push(line) });

      expect(delivery.metrics).toMatchObject({ ok: false, to: 'cloudwatch' });
      expect(delivery.metrics!.error).toContain('The value for parameter MetricData is invalid.');
      expect(log).toHaveLength(1);
      const [name] = (await import('node:fs/promises').then((fs) => fs.readdir(dir))).filter((file) => file.endsWith('.json'));
      const onDisk = JSON.parse(await readFile(join(dir, name!), 'utf8')) as DrillReport;
      expect(onDisk.status).toBe('passed');
      expect(onDisk.delivery?.metrics).toEqual(delivery.metrics);
      expect(JSON.stringify(onDisk)).not.toContain('test-secret-key');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('in Lambda', () => {
  test('deliverRun with emf-stdout writes one EMF line per drill and records it in the reports', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rd-lambda-'));
    try {
      const drills = [sampleReport(), failedReport()];
      const lines: string[] = [];

      const delivery = await deliverRun({ status: 'failed', drills }, { reportDir: dir, metrics: { kind: 'emf-stdout', write: (line) => lines.push(line) } });

      expect(delivery.metrics).toMatchObject({ ok: true, to: 'emf stdout' });
      expect(lines.map((line) => (JSON.parse(line) as { Database: string }).Database)).toEqual(['app', 'billing']);
      expect(lines.flatMap((line) => emfProblems(JSON.parse(line) as Record<string, unknown>))).toEqual([]);
      expect(drills.every((report) => report.delivery?.metrics?.ok)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the execution link points at the Step Functions console of the execution\'s region', () => {
    const arn = 'arn:aws:states:eu-west-1:123456789012:execution:RestoreDrill:run-1';
    expect(executionConsoleUrl(arn)).toBe(`https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${encodeURIComponent(arn)}`);
    expect(executionConsoleUrl('not an arn')).toBeUndefined();
  });
});

describe('saving reports elsewhere', () => {
  test('saveReport receives each report with its delivery, instead of the report folder', async () => {
    const saved: DrillReport[] = [];
    const drills = [sampleReport()];
    await deliverRun({ status: 'passed', drills }, { metrics: { kind: 'emf-stdout', write: () => {} }, saveReport: async (report) => saved.push(structuredClone(report)) });
    expect(saved).toHaveLength(1);
    expect(saved[0]!.delivery?.metrics).toMatchObject({ ok: true, to: 'emf stdout' });
  });
});
