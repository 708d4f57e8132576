import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unpackDeployment, type DeploymentBundle } from '../config/deployment.ts';
import type { RestoreDrillConfig } from '../config/schema.ts';
import { ConfigError } from '../errors.ts';
import { cachedWebhookUrl } from '../report/notifier.ts';
import { reportSignerFromEnv } from '../evidence/secretSigning.ts';
import { s3ReportStore } from '../report/s3Store.ts';
import { requiredEnv } from '../util/env.ts';
import { secretStrings } from '../util/secrets.ts';
import type { TaskDependencies } from './tasks.ts';

/** The environment the stack gives every drill function. */
export const REPORTS_BUCKET_ENV = 'REPORTS_BUCKET';
export const SLACK_SECRET_ENV = 'SLACK_WEBHOOK_SECRET_ARN';
/** The stack's subnet group and security group for copies: known only at deploy time, so not in the bundle. */
export const COPY_SUBNET_GROUP_ENV = 'RESTORE_DRILL_COPY_SUBNET_GROUP';
export const COPY_SECURITY_GROUPS_ENV = 'RESTORE_DRILL_COPY_SECURITY_GROUPS';

/**
 * How long Cleanup waits for a delete that RDS refuses in the copy's current state; the Cleanup
 * function's time limit is this plus two minutes. The janitor does not wait: its next run tries again.
 */
export const CLEANUP_REMOVAL_WAIT_MS = 180_000;

/** Put into each function's bundle by the stack (esbuild `inject`); undefined anywhere else. */
declare const __RESTORE_DRILL_DEPLOYMENT__: DeploymentBundle | undefined;

/**
 * The config this function was deployed with, its files written under the temp folder, and the
 * stack's copy network filled in for RDS and Aurora databases that name none.
 */
export function deployedConfig(env: NodeJS.ProcessEnv = process.env, bundle = typeof __RESTORE_DRILL_DEPLOYMENT__ === 'undefined' ? undefined : __RESTORE_DRILL_DEPLOYMENT__): RestoreDrillConfig {
  if (!bundle) throw new ConfigError('this function was bundled without its config: deploy it with the RestoreDrill construct, which compiles the config into each function');
  const config = unpackDeployment(bundle, join(tmpdir(), 'restore-drill'));
  const subnetGroup = env[COPY_SUBNET_GROUP_ENV];
  const securityGroupIds = env[COPY_SECURITY_GROUPS_ENV]?.split(',').filter(Boolean);
  for (const database of config.databases) {
    const provider = database.provider;
    if (provider.kind !== 'rds' && provider.kind !== 'aurora') continue;
    provider.subnetGroup ??= subnetGroup;
    if (!provider.securityGroupIds?.length && securityGroupIds?.length) provider.securityGroupIds = securityGroupIds;
  }
  return config;
}

/** Built once per Lambda container (module scope): the config, the S3 store, the secrets each function may read. */
export function lambdaDependencies(env: NodeJS.ProcessEnv = process.env): TaskDependencies {
  const config = deployedConfig(env);
  const secretString = secretStrings();
  const slackArn = env[SLACK_SECRET_ENV];
  return {
    config,
    // Signed in every function the stack gave the signing key (each one that writes reports).
    store: s3ReportStore(requiredEnv(REPORTS_BUCKET_ENV, env), { sign: reportSignerFromEnv(env) }),
    providerOptions: { durable: true, aws: { removalWaitMs: CLEANUP_REMOVAL_WAIT_MS } },
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
    ...(slackArn ? { slackWebhookUrl: cachedWebhookUrl(() => secretString(slackArn)) } : {}),
    log: (line) => console.error(line),
  };
}
