import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { appendEmfFile, putDrillMetrics, reportsWithMetrics } from './metrics.ts';
import { postToSlack, slackMessage, type PostOptions, type SlackLinks } from './slack.ts';
import { writeReport } from './store.ts';
import type { DeliveryOutcome, RunResult } from './types.ts';

export type MetricsSink = { kind: 'cloudwatch'; client: CloudWatchClient } | { kind: 'emf'; file: string };

export interface DeliveryOptions {
  /** Where the run's reports were written; they are written again with their `delivery`. */
  reportDir: string;
  metrics?: MetricsSink | undefined;
  slack?: { webhookUrl: string; links?: SlackLinks; post?: PostOptions } | undefined;
  /** Where a failed delivery is told (the CLI: stderr). */
  log?: (line: string) => void;
  now?: () => Date;
}

export interface RunDelivery {
  metrics?: DeliveryOutcome;
  slack?: DeliveryOutcome;
}

/**
 * Hands a finished run on: metrics, then one Slack message. The reports were written before this
 * starts, so a delivery that hangs or fails loses nothing; each report is then written again with
 * what became of its deliveries. Never throws for a failed delivery, and never changes a drill's status.
 */
export async function deliverRun(result: RunResult, options: DeliveryOptions): Promise<RunDelivery> {
  const now = options.now ?? (() => new Date());
  const log = options.log ?? (() => {});
  const delivery: RunDelivery = {};
  if (options.metrics) {
    const sink = options.metrics;
    const to = sink.kind === 'emf' ? `emf ${sink.file}` : 'cloudwatch';
    try {
      if (sink.kind === 'emf') await appendEmfFile(sink.file, result.drills);
      else await putDrillMetrics(sink.client, result.drills);
      delivery.metrics = { ok: true, to, attempts: 1, at: now().toISOString() };
    } catch (error) {
      delivery.metrics = { ok: false, to, attempts: 1, error: `${(error as Error).name}: ${(error as Error).message}`, at: now().toISOString() };
      log(`metrics (${to}) not delivered: ${delivery.metrics.error}`);
    }
  }
  if (options.slack) {
    delivery.slack = await postToSlack(options.slack.webhookUrl, slackMessage(result, options.slack.links), { now, ...options.slack.post });
    if (!delivery.slack.ok) log(`Slack message not delivered after ${delivery.slack.attempts} attempt(s): ${delivery.slack.error}`);
  }
  if (delivery.metrics || delivery.slack) {
    for (const report of reportsWithMetrics(result.drills)) {
      report.delivery = { ...report.delivery, ...delivery };
      await writeReport(options.reportDir, report);
    }
  }
  return delivery;
}
