import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SnsEvent } from '../lib/report/alarm.ts';
import { notifyAlarmChanges, webhookUrlFromSecret } from '../lib/report/notifier.ts';
import { requiredEnv } from '../lib/util/env.ts';

const secrets = new SecretsManagerClient({});
let webhookUrl: Promise<string> | undefined;

function cachedWebhookUrl(): Promise<string> {
  webhookUrl ??= secrets
    .send(new GetSecretValueCommand({ SecretId: requiredEnv('SLACK_WEBHOOK_SECRET_ARN') }))
    .then((secret) => webhookUrlFromSecret(secret.SecretString ?? ''))
    .catch((error: unknown) => {
      webhookUrl = undefined;
      throw error;
    });
  return webhookUrl;
}

/** SNS (alarm actions) to Slack. */
export async function handler(event: SnsEvent): Promise<void> {
  await notifyAlarmChanges(event, {
    webhookUrl: cachedWebhookUrl,
    runbookUrl: process.env.RUNBOOK_URL || undefined,
    post: { attemptTimeoutMs: 5_000, maxAttempts: 3 },
    log: (line) => console.error(line),
  });
}
