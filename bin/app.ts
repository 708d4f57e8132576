import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { loadConfig } from '../lib/config/load.ts';
import type { RestoreDrillConfig } from '../lib/config/schema.ts';
import { ConfigError } from '../lib/errors.ts';
import { awsRegionsOf, cloudSettingsSchema, settingsIssues } from '../lib/infra/cloudSettings.ts';
import { RestoreDrillStack } from '../lib/infra/restoreDrill.ts';

/**
 * What cdk.json runs: the stack from the same config file as the CLI, plus the cloud settings
 * (context `restore-drill:config` and `restore-drill:cloud`, paths relative to the working folder).
 * Problems in either file are printed together, without a stack trace, and exit 2.
 */
const app = new App();
const configPath = String(app.node.tryGetContext('restore-drill:config') ?? 'restore-drill.config.json');
const cloudPath = resolve(String(app.node.tryGetContext('restore-drill:cloud') ?? 'restore-drill.cloud.json'));
const stackName = String(app.node.tryGetContext('restore-drill:stackName') ?? 'RestoreDrill');

function refuse(problems: string[]): never {
  process.stderr.write(`restore-drill: the stack was not synthesised:\n${problems.join('\n')}\n`);
  process.exit(2);
}

let settings: unknown;
try {
  settings = JSON.parse(await readFile(cloudPath, 'utf8'));
} catch (error) {
  refuse([`cannot read the cloud settings ${cloudPath}: ${(error as Error).message}; name them with the context restore-drill:cloud in cdk.json or -c restore-drill:cloud=FILE`]);
}

let config: RestoreDrillConfig;
try {
  ({ config } = await loadConfig(process.cwd(), configPath));
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  const parsed = cloudSettingsSchema.safeParse(settings);
  const settingsProblems = parsed.success ? [] : settingsIssues(parsed.error.issues);
  refuse([error.message, ...(settingsProblems.length ? [`${cloudPath} has ${settingsProblems.length} problem(s):`, ...settingsProblems.map((line) => `  - ${line}`)] : [])]);
}

try {
  // RDS and Aurora copies are made next to their sources, in the stack's VPC: the stack goes to their region.
  const [region] = awsRegionsOf(config);
  new RestoreDrillStack(app, stackName, {
    config,
    settings: settings as never,
    description: 'restore-drill: scheduled point-in-time restore drills of Postgres backups',
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: region ?? process.env.CDK_DEFAULT_REGION },
  });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  refuse([error.message]);
}
