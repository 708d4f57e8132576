/**
 * What the cloud adds to a drill beyond the restore itself: one RDS drill through the state machine
 * that CDK synthesises, each Task run by the real esbuild bundle laid out as Lambda lays it out, IAM
 * enforced by the emulators (the harness of test/infra/bundledHandlers.test.ts), the RDS emulator
 * doing a real restore with the local engine. Timed: the execution, the restore itself (the copy's
 * record appearing in the emulator until it is `available`), and each task.
 *
 *   npm run bench:cloud        (BENCH_RUNS=3 executions per stack, BENCH_POLL_MS=10000,60000 the stacks' pollIntervalSeconds in ms, BENCH_NO_WRITE=1 prints only)
 *
 * Writes the "## Cloud overhead" section of bench/RESULTS.md. Not a test: it measures and says whether
 * the overhead is within one poll interval.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { validateConfig } from '../lib/config/load.ts';
import type { ReportOutput } from '../lib/drill/tasks.ts';
import { POLL_INTERVAL_SECONDS } from '../lib/infra/cloudSettings.ts';
import { RestoreDrillStack } from '../lib/infra/restoreDrill.ts';
import type { DrillReport } from '../lib/report/types.ts';
import { databaseConfig, rdsWorld, useFakeAwsCredentials, useOwnScratch } from '../test/emulators/rds/world.ts';
import { S3Emulator } from '../test/emulators/s3/emulator.ts';
import { stackOnStandIns, stackTokenResolver, taskHandlers } from '../test/support/lambda/stack.ts';
import { writeResultsSection } from './results.ts';

useOwnScratch('bench-cloud');
useFakeAwsCredentials();

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** The stack's shortest pollIntervalSeconds (10 s) and its default (60 s). */
const POLLS_MS = (process.env.BENCH_POLL_MS ?? `${POLL_INTERVAL_SECONDS.min * 1000},${POLL_INTERVAL_SECONDS.default * 1000}`).split(',').map(Number);
const BUCKET = 'restore-drill-reports-bench';
const log = (text: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 23)}] ${text}\n`);


interface Span {
  state: string;
  start: number;
  end: number;
}

interface Execution {
  totalMs: number;
  restoreMs: number;
  /** The copy `available` until the Poll that found it ready began: the wait for the next poll. */
  pollLagMs: number;
  spans: Span[];
  report: DrillReport;
}

const world = await rdsWorld();
const s3 = new S3Emulator([BUCKET]);
await s3.start();
const outdirs: string[] = [];
const removeLayouts: (() => Promise<void>)[] = [];
try {
  const resolveToken = stackTokenResolver({ bucket: BUCKET, subnetGroup: 'drill-subnets', securityGroup: 'sg-0drill000000000001' });
  const database = databaseConfig(world, 'rds', { name: 'bench-cloud' }) as { provider: Record<string, unknown> };
  delete database.provider.subnetGroup;
  delete database.provider.securityGroupIds;
  const config = await validateConfig({ rpoTargetSeconds: 3600, rtoTargetSeconds: 600, databases: [database] }, world.project);
  const byInterval = new Map<number, Execution[]>();
  const cold = new Map<number, Execution>();
  // A stack per interval, and no wait overridden: each Wait waits what the stack and the tasks ask for.
  for (const pollMs of POLLS_MS) {
    const outdir = await mkdtemp(join(tmpdir(), 'rd-bench-cloud-'));
    outdirs.push(outdir);
    const app = new App({ outdir });
    const stack = new RestoreDrillStack(app, `BenchCloud${pollMs / 1000}`, {
      config,
      settings: {
        schedules: [{ name: 'nightly', expression: 'cron(0 3 * * ? *)' }],
        vpc: { vpcId: 'vpc-0123abcd', subnetIds: ['subnet-0123abcd', 'subnet-0456abcd'], availabilityZones: ['us-east-1a', 'us-east-1b'] },
        mapConcurrency: 1,
        pollIntervalSeconds: pollMs / 1000,
      },
    });
    const layout = await stackOnStandIns(app, stack, { outdir, resolve: resolveToken, emulators: { aws: world.emulator, s3 } });
    removeLayouts.push(layout.remove);
    // One untimed execution first: the sandboxes' first invocations load their bundles (Lambda's cold starts); it is reported apart.
    for (let run = 0; run <= RUNS; run++) {
      const execution = await executeOnce(layout);
      log(`${run === 0 ? 'cold' : `run ${run}`}, pollIntervalSeconds ${pollMs / 1000}: ${execution.totalMs} ms in all, restore ${execution.restoreMs} ms, overhead ${execution.totalMs - execution.restoreMs} ms; ` +
        execution.spans.map((span) => `${span.state} ${span.end - span.start}`).join(', '));
      if (run === 0) cold.set(pollMs, execution);
      else byInterval.set(pollMs, [...(byInterval.get(pollMs) ?? []), execution]);
    }
  }
  const section = report(byInterval, cold);
  process.stdout.write(`\n${section}\n`);
  if (process.env.BENCH_NO_WRITE !== '1') await writeResultsSection('## Cloud overhead', section);
} finally {
  for (const remove of removeLayouts) await remove();
  await Promise.all([world.remove(), s3.stop()]);
  for (const outdir of outdirs) await rm(outdir, { recursive: true, force: true });
}

/** One drill execution, timed task by task, and the restore itself as the emulator's records show it. */
async function executeOnce(layout: Awaited<ReturnType<typeof stackOnStandIns>>): Promise<Execution> {
  const spans: Span[] = [];
  const handlers = Object.fromEntries(
    Object.entries(taskHandlers(layout.definition, layout.functions)).map(([state, handler]) => [
      state,
      async (input: unknown) => {
        const start = Date.now();
        try {
          return await handler(input);
        } finally {
          spans.push({ state, start, end: Date.now() });
        }
      },
    ]),
  );
  // The restore itself, on the emulator's own records: the copy appears (RestoreDBInstanceToPointInTime) until it is available.
  let appeared: number | undefined;
  let available: number | undefined;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      for (const [id, record] of world.emulator.instances) {
        if (!id.startsWith('rd-')) continue;
        appeared ??= Date.now();
        if (available === undefined && record.status === 'available') available = Date.now();
      }
      await new Promise((done) => setTimeout(done, 2));
    }
  })();
  const started = Date.now();
  const result = (await layout.machine.run({ mode: 'drill', trigger: 'schedule' }, { overrides: { taskResourceLocalHandlers: handlers as never } }).result) as unknown as ReportOutput;
  const totalMs = Date.now() - started;
  watching = false;
  await watcher;
  const report = [...s3.objects(BUCKET)]
    .filter(([key]) => key.startsWith('reports/'))
    .map(([, text]) => JSON.parse(text) as DrillReport)
    .find((r) => r.startedAt >= new Date(started).toISOString());
  if (result.drills[0]?.status !== 'passed' || !report) throw new Error(`the drill did not pass: ${JSON.stringify(result.drills)}`);
  if (appeared === undefined || available === undefined) throw new Error('the copy was never seen available in the emulator');
  const readyPoll = spans.filter((span) => span.state === 'Poll' && span.end >= available!).sort((a, b) => a.start - b.start)[0];
  for (const id of [...world.emulator.instances.keys()].filter((name) => name.startsWith('rd-'))) await world.emulator.gone(id, 60_000);
  return { totalMs, restoreMs: available - appeared, pollLagMs: readyPoll ? Math.max(0, readyPoll.start - available) : 0, spans, report };
}

function report(byInterval: Map<number, Execution[]>, cold: Map<number, Execution>): string {
  const med = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  };
  const taskMs = (execution: Execution, state: string) => execution.spans.filter((span) => span.state === state).reduce((sum, span) => sum + span.end - span.start, 0);
  const all = [...byInterval.values()].flat();
  const states = [...new Set(all.flatMap((execution) => execution.spans.map((span) => span.state)))];
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const lines = [
    '## Cloud overhead',
    '',
    `Written by \`npm run bench:cloud\` (bench/cloud.ts) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${cpus().length} cores, Node ${process.version}.`,
    'One RDS drill (checks: connection, ledger, rowCounts, freshness) through the synthesised state machine, each Task run by its',
    'esbuild bundle laid out as Lambda lays it out, IAM enforced, the RDS emulator restoring for real with the local engine (readiness:',
    `3 reads 0.05 s apart, as the tests configure it). A stack per pollIntervalSeconds, no wait overridden (each Wait waits what Start or Poll`,
    `asked for: half the restore's time so far, at least 1 s, at most the interval). Median of ${RUNS} executions per stack after one cold execution`,
    '(each sandbox loads its bundle on its first invocation, as a Lambda cold start). "The restore itself" is the copy\'s record in the',
    'emulator from its creation until `available`; the overhead is the rest of the execution: the wait for the poll after the copy was',
    'available, and the drill\'s own work (plan, start, polls, verify, cleanup, report, the state machine).',
    '',
  ];
  for (const [pollMs, executions] of byInterval) {
    const overhead = med(executions.map((e) => e.totalMs - e.restoreMs));
    const lag = med(executions.map((e) => e.pollLagMs));
    lines.push(
      `- pollIntervalSeconds ${pollMs / 1000}: cloud overhead: ${s(overhead)} beyond the restore itself (target at most one poll interval: ${overhead <= pollMs ? 'met' : 'NOT met'}); ` +
        `${s(lag)} of it waiting for the next poll, ${s(overhead - lag)} the drill's own work; execution ${s(med(executions.map((e) => e.totalMs)))}, restore itself ${s(med(executions.map((e) => e.restoreMs)))}`,
    );
  }
  lines.push(
    ...[...cold].map(([pollMs, execution]) => `- the cold execution, pollIntervalSeconds ${pollMs / 1000}: ${s(execution.totalMs)} in all, overhead ${s(execution.totalMs - execution.restoreMs)}`),
    `- in production pollIntervalSeconds is ${POLL_INTERVAL_SECONDS.min} to ${POLL_INTERVAL_SECONDS.max} (default ${POLL_INTERVAL_SECONDS.default}); a restore of minutes reaches it after a few polls, and is noticed at most half its time late. RDS readiness reads the copy 3 times 5 s apart inside the Poll that finds it available (10 s more there than here)`,
    '',
    '| task | invocations | time per execution (median, warm) | cold execution |',
    '|---|---|---|---|',
    ...states.map((state) => `| ${state} | ${med(all.map((e) => e.spans.filter((span) => span.state === state).length))} | ${s(med(all.map((e) => taskMs(e, state))))} | ${s(taskMs(cold.values().next().value!, state))} |`),
    '',
  );
  return lines.join('\n');
}
