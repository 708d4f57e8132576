import { SLACK_WEBHOOK_ENV } from '../report/deliver.ts';
import { rememberSecret } from '../util/redact.ts';
import type { RestoreDrillConfig } from './schema.ts';

/** The AWS SDK's secret variables: never echoed, whichever text an SDK error puts them in. */
const AWS_SECRET_ENV = ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'];

/**
 * The environment variables the config names as secrets (a source's passwordEnv, Neon's API key and
 * checks password) and the tool's own (the Slack webhook, AWS credentials): their values are
 * remembered by the shared redactor, so no outward text holds them even where no pattern would see them.
 */
export function secretEnvironmentNames(config: Pick<RestoreDrillConfig, 'databases'>): string[] {
  const names = new Set<string>([SLACK_WEBHOOK_ENV, ...AWS_SECRET_ENV]);
  for (const database of config.databases) {
    if (database.source?.passwordEnv) names.add(database.source.passwordEnv);
    if (database.provider.kind === 'pgbackrest' && database.provider.repoCipherPass && 'env' in database.provider.repoCipherPass) names.add(database.provider.repoCipherPass.env);
    if (database.provider.kind === 'neon') {
      if ('env' in database.provider.apiKey) names.add(database.provider.apiKey.env);
      if (database.provider.password && 'env' in database.provider.password) names.add(database.provider.password.env);
    }
  }
  return [...names];
}

export function rememberConfiguredSecrets(config: Pick<RestoreDrillConfig, 'databases'>, env: NodeJS.ProcessEnv = process.env): void {
  for (const name of secretEnvironmentNames(config)) rememberSecret(env[name]);
}
