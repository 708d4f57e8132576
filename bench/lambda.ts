/**
 * Cold start of each Lambda function: the bundle esbuild makes with the stack's options (minified,
 * ESM, node24, the AWS SDK inside), its size, and the module init time of a fresh Node process
 * importing it from a folder outside the checkout, as Lambda lays it out (median of several).
 * Writes the "## Lambda" section of bench/RESULTS.md. Targets: at most 3 MB per bundle, init at most
 * 200 ms. Run with `npm run bench:lambda`.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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
// Outside the checkout: nothing above a bundle, as in /var/task.
const out = await mkdtemp(resolve(tmpdir(), 'restore-drill-bench-lambda-'));
const FUNCTIONS = ['plan', 'start', 'poll', 'verify', 'cleanup', 'report', 'janitor', 'notifier'];
const RUNS = 7;
// Lambda takes 50 MB zipped; the size matters for what it costs at init, which has its own target.
const MAX_BYTES = 3 * 1024 * 1024;
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
      define: options.define,
      banner: { js: options.banner ?? '' },
      inject: [name === 'verify' ? deployment.withMigrations : deployment.withoutMigrations],
      logLevel: 'error',
    });
    const bytes = (await stat(outfile)).size;
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const script = `const t=performance.now();await import(${JSON.stringify(outfile)});process.stdout.write(String(performance.now()-t));`;
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env, cwd: out });
      times.push(Number(stdout));
    }
    const init = median(times);
    const ok = bytes <= MAX_BYTES && init <= MAX_INIT_MS;
    met &&= ok;
    rows.push(`| ${name} | ${(bytes / 1024).toFixed(0)} KB | ${init.toFixed(0)} ms | ${times.map((t) => t.toFixed(0)).join(', ')} | ${ok ? 'yes' : 'NO'} |`);
    console.log(rows.at(-1));
  }
  await rm(out, { recursive: true, force: true });
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const section = [
    '## Lambda',
    '',
    `Written by \`npm run bench:lambda\` (bench/lambda.ts) on ${when} UTC, Node ${process.versions.node}, ${(await import('node:os')).cpus().length} cores.`,
    'Each function bundled as the stack bundles it (esbuild, minified ESM, node24, the AWS SDK v3 inside: the',
    "runtime's own SDK may be older than ours and drop request members it does not know); init = a fresh Node",
    'process importing the bundle from a folder outside the checkout (module scope: the config unpacked),',
    `median of ${RUNS}. Targets: at most 3 MB, at most 200 ms. The SDK clients inside the bundle are`,
    'evaluated at their first use (dynamic imports), so a function pays only for the clients it calls.',
    "Report is larger: it carries the evidence page's charting library (Vega), also loaded at first use.",
    '',
    '| function | bundle | init (median) | runs (ms) | within targets |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `all within targets: ${met ? 'yes' : 'NO'}`,
  ].join('\n');
  await writeResultsSection('## Lambda', section);
  console.log(`wrote the "## Lambda" section of ${RESULTS}`);
}


await main();
