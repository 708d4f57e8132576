import { alarmChangesOf, alarmMessage, type SnsEvent } from './alarm.ts';
import { postToSlack, type PostOptions } from './slack.ts';
import type { DeliveryOutcome } from './types.ts';

export class SlackDeliveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SlackDeliveryError';
  }
}

export interface NotifierDependencies {
  /** The webhook URL, read when first needed (Secrets Manager in the cloud). */
  webhookUrl: () => Promise<string>;
  runbookUrl?: string | undefined;
  post?: PostOptions;
  log?: (line: string) => void;
}

/**
 * Turns alarm changes delivered by SNS into Slack messages. Throws when one could not be posted, so
 * that Lambda's asynchronous retries try again; the error never holds the webhook URL.
 */
export async function notifyAlarmChanges(event: SnsEvent, dependencies: NotifierDependencies): Promise<DeliveryOutcome[]> {
  const changes = alarmChangesOf(event);
  if (changes.length === 0) return [];
  const webhookUrl = await dependencies.webhookUrl();
  const outcomes: DeliveryOutcome[] = [];
  for (const change of changes) {
    const outcome = await postToSlack(webhookUrl, alarmMessage(change, { runbookUrl: dependencies.runbookUrl }), dependencies.post);
    if (!outcome.ok) dependencies.log?.(`alarm ${change.AlarmName} (${change.NewStateValue}) not posted to Slack: ${outcome.error}`);
    outcomes.push(outcome);
  }
  const failed = outcomes.filter((outcome) => !outcome.ok);
  if (failed.length) throw new SlackDeliveryError(`${failed.length} of ${outcomes.length} alarm message(s) not posted to Slack: ${failed[0]!.error}`);
  return outcomes;
}

/** The secret holds the webhook URL, as a plain string or as JSON `{"webhookUrl": "..."}`. */
export function webhookUrlFromSecret(secretString: string): string {
  const trimmed = secretString.trim();
  if (trimmed.startsWith('{')) {
    const parsed = JSON.parse(trimmed) as { webhookUrl?: unknown };
    if (typeof parsed.webhookUrl !== 'string') throw new Error('the Slack secret is JSON without a "webhookUrl" string');
    return parsed.webhookUrl;
  }
  return trimmed;
}

/**
 * The webhook URL from its secret, read once per Lambda container and read again after a failure;
 * for the notifier and for the run's report alike.
 */
export function cachedWebhookUrl(readSecret: () => Promise<string | undefined>): () => Promise<string> {
  let cached: Promise<string> | undefined;
  return () => {
    cached ??= readSecret()
      .then((secret) => webhookUrlFromSecret(secret ?? ''))
      .catch((error: unknown) => {
        cached = undefined;
        throw error;
      });
    return cached;
  };
}
