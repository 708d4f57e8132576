import { S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { RestoreDrillConfig } from '../config/schema.ts';
import { webhookUrlFromSecret } from '../report/notifier.ts';
import { s3ReportStore } from '../report/s3Store.ts';
import { requiredEnv } from '../util/env.ts';
import type { TaskDependencies } from './tasks.ts';

/** The environment the stack gives every drill function. */
export const CONFIG_ENV = 'RESTORE_DRILL_CONFIG';
export const REPORTS_BUCKET_ENV = 'REPORTS_BUCKET';
export const SLACK_SECRET_ENV = 'SLACK_WEBHOOK_SECRET_ARN';

/** Built once per Lambda container (module scope): the config, the S3 store, the secrets each function may read. */
export function lambdaDependencies(env: NodeJS.ProcessEnv = process.env): TaskDependencies {
  const config = JSON.parse(requiredEnv(CONFIG_ENV, env)) as RestoreDrillConfig;
  const secrets = new SecretsManagerClient({});
  const secretString = async (arn: string) => (await secrets.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString;
  const slackArn = env[SLACK_SECRET_ENV];
  return {
    config,
    store: s3ReportStore(new S3Client({}), requiredEnv(REPORTS_BUCKET_ENV, env)),
    providerOptions: { durable: true },
    sourcePassword: async (database) => {
      const arn = database.source?.passwordSecretArn;
      if (!arn) return undefined;
      const text = (await secretString(arn)) ?? '';
      // An RDS-managed secret is JSON with a password field; a plain secret is the password itself.
      try {
        const parsed = JSON.parse(text) as { password?: string };
        if (typeof parsed.password === 'string') return parsed.password;
      } catch {
        // not JSON: the password itself
      }
      return text;
    },
    metrics: { kind: 'emf-stdout' },
    ...(slackArn ? { slackWebhookUrl: async () => webhookUrlFromSecret((await secretString(slackArn)) ?? '') } : {}),
    log: (line) => console.error(line),
  };
}
