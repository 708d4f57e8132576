/**
 * Cold start of each Lambda function: the bundle esbuild makes with the stack's options (minified,
 * ESM, node24; the AWS SDK left to the runtime), its size, and the module init time of a fresh Node
 * process importing it (median of several). Writes the "## Lambda" section of bench/RESULTS.md.
 * Targets: at most 1 MB per bundle, init at most 200 ms. Run with `npm run bench:lambda`.
 */
import { execFile } from 'node:child_process';
import { mkdir, rm, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { loadConfig } from '../lib/config/load.ts';
import { packDeployment } from '../lib/config/deployment.ts';
import { writeDeploymentModule } from '../lib/infra/deploymentModule.ts';
import { lambdaBundling } from '../lib/infra/restoreDrill.ts';
import { writeResultsSection } from './results.ts';

const root = resolve(import.meta.dirname, '..');
const RESULTS = resolve(import.meta.dirname, 'RESULTS.md');
// Inside the repo, so that the bundles resolve the AWS SDK from node_modules as the runtime would provide it.
const out = resolve(root, 'node_modules/.cache/restore-drill-bench-lambda');
const FUNCTIONS = ['plan', 'start', 'poll', 'verify', 'cleanup', 'report', 'janitor', 'notifier'];
const RUNS = 7;
/** The SDK packages a function loads at its first call (the providers' are loaded by the drill's provider only: RDS shown). */
const FIRST_CALL_SDK: Record<string, string[]> = {
  start: ['@aws-sdk/client-rds'],
  poll: ['@aws-sdk/client-rds', '@aws-sdk/client-secrets-manager'],
  verify: ['@aws-sdk/client-s3', '@aws-sdk/client-rds', '@aws-sdk/client-secrets-manager'],
  cleanup: ['@aws-sdk/client-s3', '@aws-sdk/client-rds'],
  report: ['@aws-sdk/client-s3', '@aws-sdk/client-secrets-manager'],
  janitor: ['@aws-sdk/client-rds'],
  notifier: ['@aws-sdk/client-secrets-manager'],
};
const MAX_BYTES = 1024 * 1024;
const MAX_INIT_MS = 200;
const run = promisify(execFile);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main() {
  const options = lambdaBundling();
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  // The example config, compiled into each bundle as the stack does it (Verify with the migrations).
  const { config } = await loadConfig(resolve(root, 'examples/cloud'), 'restore-drill.config.json');
  const deployment = {
    withMigrations: writeDeploymentModule(out, packDeployment(config, { withMigrations: true })),
    withoutMigrations: writeDeploymentModule(out, packDeployment(config, { withMigrations: false })),
  };
  const env = {
    ...process.env,
    REPORTS_BUCKET: 'bench-bucket',
    SLACK_WEBHOOK_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:bench-AbCdEf',
    AWS_REGION: 'eu-west-1',
  };
  const rows: string[] = [];
  let met = true;
  for (const name of FUNCTIONS) {
    const outfile = resolve(out, `${name}.mjs`);
    await build({
      entryPoints: [resolve(root, 'functions', `${name}.ts`)],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: options.target,
      minify: true,
      external: options.externalModules,
      banner: { js: options.banner ?? '' },
      inject: [name === 'verify' ? deployment.withMigrations : deployment.withoutMigrations],
      logLevel: 'error',
    });
    const bytes = (await stat(outfile)).size;
    const times: number[] = [];
    const firstCalls: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      // Then what the first invocation adds: the SDK clients the function loads when it first needs them.
      const sdk = FIRST_CALL_SDK[name] ?? [];
      const script = `const t=performance.now();await import(${JSON.stringify(outfile)});const i=performance.now()-t;const u=performance.now();for(const m of ${JSON.stringify(sdk)})await import(m);process.stdout.write(i+' '+(performance.now()-u));`;
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env, cwd: root });
      const [init, first] = stdout.split(' ').map(Number);
      times.push(init!);
      firstCalls.push(first!);
    }
    const init = median(times);
    const ok = bytes <= MAX_BYTES && init <= MAX_INIT_MS;
    met &&= ok;
    rows.push(`| ${name} | ${(bytes / 1024).toFixed(0)} KB | ${init.toFixed(0)} ms | ${times.map((t) => t.toFixed(0)).join(', ')} | ${(FIRST_CALL_SDK[name] ?? []).map((m) => m.replace('@aws-sdk/', '')).join(', ') || 'none'}: +${median(firstCalls).toFixed(0)} ms | ${ok ? 'yes' : 'NO'} |`);
    console.log(rows.at(-1));
  }
  await rm(out, { recursive: true, force: true });
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const section = [
    '## Lambda',
    '',
    `Written by \`npm run bench:lambda\` (bench/lambda.ts) on ${when} UTC, Node ${process.versions.node}, ${(await import('node:os')).cpus().length} cores.`,
    'Each function bundled as the stack bundles it (esbuild, minified ESM, node24, AWS SDK v3 external: the',
    'runtime has it); init = a fresh Node process importing the bundle (module scope: the config unpacked),',
    `median of ${RUNS}. Targets: at most 1 MB, at most 200 ms. The AWS SDK clients are loaded at`,
    'first use, so their cost moves to the first invocation of a container: the last column shows it (for an',
    'RDS drill; a Neon drill loads no RDS client). Functions that never use a client never pay for it.',
    '',
    '| function | bundle | init (median) | runs (ms) | first call loads | within targets |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `all within targets: ${met ? 'yes' : 'NO'}`,
  ].join('\n');
  await writeResultsSection('## Lambda', section);
  console.log(`wrote the "## Lambda" section of ${RESULTS}`);
}


await main();
