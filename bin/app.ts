import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { loadConfig } from '../lib/config/load.ts';
import { RestoreDrillStack } from '../lib/infra/restoreDrill.ts';

/**
 * What cdk.json runs: the stack from the same config file as the CLI, plus the cloud settings
 * (context `restore-drill:config` and `restore-drill:cloud`, paths relative to the working folder).
 */
const app = new App();
const configPath = String(app.node.tryGetContext('restore-drill:config') ?? 'restore-drill.config.json');
const cloudPath = String(app.node.tryGetContext('restore-drill:cloud') ?? 'restore-drill.cloud.json');
const stackName = String(app.node.tryGetContext('restore-drill:stackName') ?? 'RestoreDrill');

const { config } = await loadConfig(process.cwd(), configPath);
let settings: unknown;
try {
  settings = JSON.parse(await readFile(resolve(cloudPath), 'utf8'));
} catch (error) {
  throw new Error(`cannot read the cloud settings ${resolve(cloudPath)}: ${(error as Error).message}; set the context restore-drill:cloud in cdk.json`);
}
new RestoreDrillStack(app, stackName, {
  config,
  settings: settings as never,
  description: 'restore-drill: scheduled point-in-time restore drills of Postgres backups',
  ...(process.env.CDK_DEFAULT_ACCOUNT ? { env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION } } : {}),
});
