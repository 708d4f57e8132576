/**
 * `npm run emulator:rds`: the RDS emulator on its own, for trying the CLI against it. It makes a
 * source (PostgreSQL 15 with WAL archiving, the demo's Drizzle migrations and a few rows, a base
 * backup), serves it as the RDS instance `app-prod` and the Aurora cluster `app-aurora`, writes a
 * config file for both, and runs until Ctrl-C, which removes everything it made.
 * RDS_EMULATOR_PORT picks the port (default 4510).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { install, onShutdown } from '../../../lib/shutdown.ts';
import { databaseConfig, rdsWorld } from './world.ts';

install();
const port = Number(process.env.RDS_EMULATOR_PORT ?? 4510);
const world = await rdsWorld({ port, log: (line) => process.stderr.write(`[rds] ${line}\n`) });
onShutdown(() => world.remove());
const configFile = join(world.project, 'restore-drill.config.json');
const app = databaseConfig(world, 'rds');
const aurora = { ...databaseConfig(world, 'aurora'), name: 'app-aurora' };
await writeFile(configFile, JSON.stringify({ rpoTargetSeconds: 3600, rtoTargetSeconds: 600, databases: [app, aurora], report: { dir: './reports' } }, null, 2));
process.stdout.write(
  [
    `RDS API emulator on ${world.emulator.url} (instance app-prod, Aurora cluster app-aurora, secret ${world.secretArn})`,
    'IAM is enforced: calls signed with the CLI user\'s key run under examples/iam/cli-policy.json:',
    '  export AWS_ACCESS_KEY_ID=AKIAEMULATOR000000000 AWS_SECRET_ACCESS_KEY=emulator AWS_REGION=us-east-1',
    `  npx restore-drill window --config ${configFile} --database app`,
    `  npx restore-drill run --config ${configFile}`,
    `  npx restore-drill restore --config ${configFile} --database app --target latest --keep --keep-for 1m`,
    `  npx restore-drill janitor --config ${configFile} --dry-run`,
    'Ctrl-C stops it and removes the source and every copy.',
    '',
  ].join('\n'),
);
