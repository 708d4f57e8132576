/**
 * `npm run emulator:neon`: the Neon API emulator on its own, for trying the CLI against it. It makes
 * a source (PostgreSQL 15 with WAL archiving, the demo's Drizzle migrations in neondb and a few rows,
 * a base backup), serves it as the default branch `main` of a Neon project, writes a config file,
 * and runs until Ctrl-C, which removes everything it made. NEON_EMULATOR_PORT picks the port (default 4520).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { install, onShutdown } from '../../../lib/shutdown.ts';
import { NEON_API_KEY, neonDatabaseConfig, neonWorld } from './world.ts';

install();
const port = Number(process.env.NEON_EMULATOR_PORT ?? 4520);
const world = await neonWorld({ port, log: (line) => process.stderr.write(`[neon] ${line}\n`) });
onShutdown(() => world.remove());
const configFile = join(world.project, 'restore-drill.config.json');
const keyFile = join(world.project, 'neon-api-key');
await writeFile(keyFile, NEON_API_KEY, { mode: 0o600 });
await writeFile(configFile, JSON.stringify({ rpoTargetSeconds: 3600, rtoTargetSeconds: 600, databases: [neonDatabaseConfig(world, 'app')], report: { dir: './reports' } }, null, 2));
process.stdout.write(
  [
    `Neon API emulator on ${world.emulator.apiBaseUrl} (project ${world.emulator.projectId}, default branch main ${world.emulator.defaultBranch.id})`,
    'It accepts one API key, kept in a file (a key is never printed):',
    `  export NEON_API_KEY="$(cat ${keyFile})"`,
    `  npx restore-drill window --config ${configFile} --database app`,
    `  npx restore-drill run --config ${configFile}`,
    `  npx restore-drill restore --config ${configFile} --database app --target -30s --keep --keep-for 1m`,
    `  npx restore-drill janitor --config ${configFile} --dry-run`,
    'Ctrl-C stops it and removes the source and every branch.',
    '',
  ].join('\n'),
);
