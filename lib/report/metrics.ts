import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { CloudWatchClient, MetricDatum } from '@aws-sdk/client-cloudwatch';
import { isRefusal } from '../errors.ts';
import { redactDeep } from '../util/redact.ts';
import type { DrillReport } from './types.ts';

/** The names of the design's table "One name for each number"; the alarms and dashboard use the same. */
export const METRICS_NAMESPACE = 'RestoreDrill';
export const DATABASE_DIMENSION = 'Database';
export const METRIC_NAMES = {
  drillSucceeded: 'DrillSucceeded',
  rpoClaimedSeconds: 'RpoClaimedSeconds',
  dataLagSeconds: 'DataLagSeconds',
  restoreSeconds: 'RestoreSeconds',
  verifySeconds: 'VerifySeconds',
  rtoSeconds: 'RtoSeconds',
  checksFailed: 'ChecksFailed',
} as const;

export type MetricName = (typeof METRIC_NAMES)[keyof typeof METRIC_NAMES];

export interface DrillMetric {
  name: MetricName;
  unit: 'Count' | 'Seconds';
  value: number;
}

/** A drill's numbers as metrics; a number the drill did not get to (null) is left out, not sent as 0. */
export function drillMetrics(report: DrillReport): DrillMetric[] {
  const seconds = (name: MetricName, value: number | null): DrillMetric[] => (value === null ? [] : [{ name, unit: 'Seconds', value }]);
  return [
    { name: METRIC_NAMES.drillSucceeded, unit: 'Count', value: report.status === 'passed' ? 1 : 0 },
    ...seconds(METRIC_NAMES.rpoClaimedSeconds, report.rpo.claimedSeconds),
    ...seconds(METRIC_NAMES.dataLagSeconds, report.rpo.measuredLagSeconds),
    ...seconds(METRIC_NAMES.restoreSeconds, report.rto.restoreSeconds),
    ...seconds(METRIC_NAMES.verifySeconds, report.rto.verifySeconds),
    ...seconds(METRIC_NAMES.rtoSeconds, report.rto.totalSeconds),
    { name: METRIC_NAMES.checksFailed, unit: 'Count', value: report.checks.filter((check) => check.status !== 'pass').length },
  ];
}

/** Every drill is a result, except one refused for its config before anything ran (isRefusal). */
export function reportsWithMetrics(reports: readonly DrillReport[]): DrillReport[] {
  return reports.filter((report) => !isRefusal(report.error));
}

/**
 * One EMF document per drill, made by Powertools Metrics, stamped with the drill's end. Powertools
 * adds a `service` dimension by default; it is cleared so that the metrics carry `Database` alone,
 * which is what the alarms look for.
 */
export function emfDocuments(reports: readonly DrillReport[], namespace = METRICS_NAMESPACE): Record<string, unknown>[] {
  return reportsWithMetrics(reports).map((report) => {
    const metrics = new Metrics({ namespace });
    metrics.clearDefaultDimensions();
    metrics.addDimension(DATABASE_DIMENSION, report.database);
    for (const metric of drillMetrics(report)) metrics.addMetric(metric.name, MetricUnit[metric.unit], metric.value);
    metrics.setTimestamp(new Date(report.finishedAt));
    const document = metrics.serializeMetrics() as unknown as Record<string, unknown>;
    metrics.clearMetrics();
    return redactDeep(document);
  });
}

/** In Lambda: one EMF line per drill on stdout, which CloudWatch Logs turns into metrics. */
export function publishEmf(reports: readonly DrillReport[], write: (line: string) => void = (line) => process.stdout.write(line)): number {
  const documents = emfDocuments(reports);
  for (const document of documents) write(`${JSON.stringify(document)}\n`);
  return documents.length;
}

/** From the CLI (`--metrics emf FILE`): appends one EMF line per drill, for the CloudWatch agent to pick up. */
export async function appendEmfFile(file: string, reports: readonly DrillReport[]): Promise<number> {
  const documents = emfDocuments(reports);
  if (documents.length === 0) return 0;
  await mkdir(dirname(file), { recursive: true });
  await appendFile(file, documents.map((document) => `${JSON.stringify(document)}\n`).join(''));
  return documents.length;
}

// PutMetricData takes at most 1000 data points per call.
const PUT_BATCH = 1000;

/**
 * From the CLI (`--metrics cloudwatch`): the same metrics through PutMetricData. The SDK is loaded
 * here, not with the module: Lambda functions, which write EMF, never load it.
 */
export async function putDrillMetrics(client: CloudWatchClient | undefined, reports: readonly DrillReport[], namespace = METRICS_NAMESPACE): Promise<number> {
  const { CloudWatchClient, PutMetricDataCommand } = await import('@aws-sdk/client-cloudwatch');
  const cloudWatch = client ?? new CloudWatchClient({});
  const data: MetricDatum[] = reportsWithMetrics(reports).flatMap((report) =>
    drillMetrics(report).map((metric) => ({
      MetricName: metric.name,
      Dimensions: [{ Name: DATABASE_DIMENSION, Value: report.database }],
      Timestamp: new Date(report.finishedAt),
      Unit: metric.unit,
      Value: metric.value,
    })),
  );
  for (let start = 0; start < data.length; start += PUT_BATCH) {
    await cloudWatch.send(new PutMetricDataCommand({ Namespace: namespace, MetricData: data.slice(start, start + PUT_BATCH) }));
  }
  return data.length;
}
