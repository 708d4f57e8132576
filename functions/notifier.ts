import type { SnsEvent } from '../lib/report/alarm.ts';
import { cachedWebhookUrl, notifyAlarmChanges } from '../lib/report/notifier.ts';
import { requiredEnv } from '../lib/util/env.ts';
import { secretStrings } from '../lib/util/secrets.ts';

const readSecret = secretStrings();
const webhookUrl = cachedWebhookUrl(() => readSecret(requiredEnv('SLACK_WEBHOOK_SECRET_ARN')));

/** SNS (alarm actions) to Slack. */
export async function handler(event: SnsEvent): Promise<void> {
  await notifyAlarmChanges(event, {
    webhookUrl,
    runbookUrl: process.env.RUNBOOK_URL || undefined,
    post: { attemptTimeoutMs: 5_000, maxAttempts: 3 },
    log: (line) => console.error(line),
  });
}
