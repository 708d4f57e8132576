import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { RestoreDrillConfig } from '../config/schema.ts';
import { ConfigError } from '../errors.ts';
import { appendEmfFile, publishEmf, putDrillMetrics, reportsWithMetrics } from './metrics.ts';
import { postToSlack, slackMessage, type PostOptions, type SlackLinks } from './slack.ts';
import { writeReport } from './store.ts';
import type { DeliveryOutcome, DrillReport, RunResult } from './types.ts';

/** `emf-stdout` is Lambda's: CloudWatch Logs turns the EMF lines into metrics. */
export type MetricsSink = { kind: 'cloudwatch'; client?: CloudWatchClient } | { kind: 'emf'; file: string } | { kind: 'emf-stdout'; write?: (line: string) => void };

export interface DeliveryOptions {
  /** Where the run's reports were written; they are written again with their `delivery`. */
  reportDir?: string;
  /** Or how a report is saved again (S3 in the cloud); used instead of reportDir. */
  saveReport?: (report: DrillReport) => Promise<unknown>;
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
    const to = sink.kind === 'emf' ? `emf ${sink.file}` : sink.kind === 'emf-stdout' ? 'emf stdout' : 'cloudwatch';
    try {
      if (sink.kind === 'emf') await appendEmfFile(sink.file, result.drills);
      else if (sink.kind === 'emf-stdout') publishEmf(result.drills, sink.write);
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
      if (options.saveReport) await options.saveReport(report);
      else if (options.reportDir) await writeReport(options.reportDir, report);
    }
  }
  return delivery;
}

export const SLACK_WEBHOOK_ENV = 'SLACK_WEBHOOK_URL';

/**
 * The CLI's `--metrics cloudwatch|emf FILE` and `--slack`, checked before any drill starts. The
 * webhook URL comes only from the environment: a command-line argument or a config value would end
 * up in shell history and repositories. CloudWatch is reached as the AWS SDK is configured (region,
 * credentials, and AWS_ENDPOINT_URL_CLOUDWATCH for another endpoint).
 */
export function cliDelivery(
  flags: { metrics?: readonly string[] | undefined; slack?: boolean | undefined },
  config: Pick<RestoreDrillConfig, 'slack'>,
  reportDir: string,
  options: { env?: NodeJS.ProcessEnv; log?: (line: string) => void; cloudWatch?: () => CloudWatchClient } = {},
): DeliveryOptions {
  const env = options.env ?? process.env;
  const delivery: DeliveryOptions = { reportDir, ...(options.log ? { log: options.log } : {}) };
  if (flags.metrics) {
    const [kind, file, ...rest] = flags.metrics;
    if (kind === 'cloudwatch' && file === undefined) {
      delivery.metrics = { kind: 'cloudwatch', ...(options.cloudWatch ? { client: options.cloudWatch() } : {}) };
    } else if (kind === 'emf' && file !== undefined && rest.length === 0) {
      delivery.metrics = { kind: 'emf', file };
    } else {
      throw new ConfigError(`--metrics ${flags.metrics.join(' ')} is not valid: expected --metrics cloudwatch or --metrics emf FILE`);
    }
  }
  if (flags.slack) {
    const webhookUrl = env[SLACK_WEBHOOK_ENV];
    if (!webhookUrl) throw new ConfigError(`--slack needs the webhook URL in ${SLACK_WEBHOOK_ENV}, which is not set`);
    if (!/^https?:\/\//.test(webhookUrl)) throw new ConfigError(`${SLACK_WEBHOOK_ENV} is not an http(s) URL (its value is not shown: it is a secret)`);
    delivery.slack = { webhookUrl, links: { runbookUrl: config.slack.runbookUrl }, post: { attemptTimeoutMs: config.slack.timeoutSeconds * 1000 } };
  }
  return delivery;
}

/** The Step Functions console page of an execution, for the Slack message's link. */
export function executionConsoleUrl(executionArn: string): string | undefined {
  const [, partition, service, region] = executionArn.split(':');
  if (service !== 'states' || !region) return undefined;
  const host = partition === 'aws-cn' ? `${region}.console.amazonaws.cn` : partition === 'aws-us-gov' ? `${region}.console.amazonaws-us-gov.com` : `${region}.console.aws.amazon.com`;
  return `https://${host}/states/home?region=${region}#/v2/executions/details/${encodeURIComponent(executionArn)}`;
}
