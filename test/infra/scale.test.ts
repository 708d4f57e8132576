import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import type { ReportOutput } from '../../lib/drill/tasks.ts';
import { RestoreDrillStack } from '../../lib/infra/restoreDrill.ts';
import type { DrillReport } from '../../lib/report/types.ts';
import { CLUSTER_LIFECYCLES, INSTANCE_LIFECYCLES } from '../emulators/rds/behaviour.ts';
import { databaseConfig, leftoverCopies, rdsWorld, SOURCE_PASSWORD, useFakeAwsCredentials, useOwnScratch, type RdsWorld } from '../emulators/rds/world.ts';
import { S3Emulator } from '../emulators/s3/emulator.ts';
import { stackOnStandIns, stackTokenResolver } from '../support/lambda/stack.ts';

// 50 RDS databases in one scheduled run, through the synthesised state machine over the real bundles,
// laid out as Lambda runs them, IAM enforced on every call (the harness of bundledHandlers.test.ts),
// with RDS as production has it: seeded status lifecycles with flaps, NotFound right after a create,
// and Throttling on a share of all calls. The emulator's copies of one source at one point share one
// local restore (shareRestores), each with its own endpoint: 50 real restores would be 50 Postgres
// servers on two cores; one shared server still answers every check of every copy.
useOwnScratch('scale-test');
useFakeAwsCredentials();

const DATABASES = 50;
const MAP_CONCURRENCY = 10;
/** A realistic rate: RDS's control plane throttles bursts; 4% of calls, each retried by the SDK. */
const THROTTLE_RATE = 0.04;
/** Step Functions Standard: an execution's history holds at most 25,000 events. */
const HISTORY_LIMIT = 25_000;
const BUCKET = 'restore-drill-reports-scale';
let world: RdsWorld;
let s3: S3Emulator;
let outdir: string;
let removeLayout: (() => Promise<void>) | undefined;


beforeAll(async () => {
  world = await rdsWorld({
    shareRestores: true,
    behaviour: { seed: 12, instanceLifecycles: Object.values(INSTANCE_LIFECYCLES), clusterLifecycles: Object.values(CLUSTER_LIFECYCLES), notFoundAfterCreate: 1, pageSize: 20 },
  });
  s3 = new S3Emulator([BUCKET]);
  await s3.start();
  outdir = await mkdtemp(join(tmpdir(), 'rd-scale-'));
}, 180_000);

afterAll(async () => {
  await removeLayout?.();
  await Promise.all([world?.remove(), s3?.stop()]);
  if (outdir) await rm(outdir, { recursive: true, force: true });
  expect(await leftoverCopies()).toEqual([]);
});

const resolveToken = stackTokenResolver({ bucket: BUCKET, subnetGroup: 'drill-subnets', securityGroup: 'sg-0drill000000000001' });


/** The errors a drill may end with here, by name: each says what happened (AwsApiError names the AWS code). */
const NAMED_ERRORS = new Set(['AwsApiError', 'RestoreFailedError', 'RestoreTimeoutError', 'RemovalDeferredError']);

describe('scale', () => {
  test(`${DATABASES} RDS databases in one run, Throttling on ${THROTTLE_RATE * 100}% of calls: every drill passed or a named error, every copy removed, the history well under ${HISTORY_LIMIT} events`, async () => {
    // Prepare
    const databases = Array.from({ length: DATABASES }, (_, i) => {
      const database = databaseConfig(world, 'rds', { name: `sc-${String(i + 1).padStart(2, '0')}`, restoreTimeoutSeconds: 120 }) as { provider: Record<string, unknown> };
      delete database.provider.subnetGroup;
      delete database.provider.securityGroupIds;
      return database;
    });
    const config = await validateConfig({ rpoTargetSeconds: 3600, rtoTargetSeconds: 600, databases }, world.project);
    const app = new App({ outdir });
    const stack = new RestoreDrillStack(app, 'Scale', {
      config,
      settings: {
        schedules: [{ name: 'nightly', expression: 'cron(0 3 * * ? *)' }],
        vpc: { vpcId: 'vpc-0123abcd', subnetIds: ['subnet-0123abcd', 'subnet-0456abcd'], availabilityZones: ['us-east-1a', 'us-east-1b'] },
        mapConcurrency: MAP_CONCURRENCY,
      },
    });
    const layout = await stackOnStandIns(app, stack, { outdir, resolve: resolveToken, emulators: { aws: world.emulator, s3 } });
    removeLayout = layout.remove;
    world.emulator.faults.throttleRate = THROTTLE_RATE;
    const startedAt = Date.now();

    // Act
    const execution = layout.run({ mode: 'drill', trigger: 'schedule' }, 20);
    const events: { type: string; state?: { name: string; type?: string } }[] = [];
    const collecting = (async () => {
      for await (const event of execution.eventLogs) events.push(event as never);
    })();
    const result = (await execution.result) as unknown as ReportOutput;
    await collecting;
    const seconds = (Date.now() - startedAt) / 1000;
    world.emulator.faults.throttleRate = 0;

    // Assess: every drill has a report and an outcome that names itself.
    const stored = [...s3.objects(BUCKET)].filter(([key]) => key.startsWith('reports/')).map(([, text]) => JSON.parse(text) as DrillReport);
    expect(stored).toHaveLength(DATABASES);
    expect(result.drills).toHaveLength(DATABASES);
    const outcomes = new Map<string, number>();
    for (const report of stored) {
      const failing = report.checks.filter((check) => check.status !== 'pass').map((check) => `${check.check} ${check.status}: ${check.summary.slice(0, 160)}`);
      const outcome = report.status === 'passed' ? 'passed' : `${report.status}: ${report.error?.name ?? '(no error name)'} ${report.error?.message.slice(0, 120) ?? ''} ${failing.join('; ')}`;
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      if (report.status !== 'passed') expect(NAMED_ERRORS.has(report.error?.name ?? ''), outcome).toBe(true);
    }
    // The throttling is there, and the SDK's retries absorb nearly all of it.
    expect(world.emulator.throttled).toBeGreaterThan(0);
    expect(outcomes.get('passed') ?? 0).toBeGreaterThanOrEqual(DATABASES - 2);
    // Every copy removed: only the source is left, and the janitor finds nothing of ours.
    for (const report of stored) if (report.copy.name && report.copy.made !== false) await world.emulator.gone(report.copy.name, 60_000);
    expect([...world.emulator.instances.keys()].filter((id) => id.startsWith('rd-'))).toEqual([]);
    const janitor = [...layout.functions.values()].find((fn) => fn.logicalId.startsWith('RestoreDrillJanitor'))!;
    expect(await janitor.invoke({})).toMatchObject({ removed: [], failed: [] });
    // The history: aws-local-stepfunctions logs a state's entry and exit; Step Functions also logs a
    // Task's Scheduled, Started and Succeeded/Failed (three more per attempt) and each Map iteration's start and end.
    const tasks = events.filter((event) => event.type === 'StateEntered' && event.state?.type === 'Task').length;
    const retries = events.filter((event) => event.type === 'StateRetried').length;
    const history = events.length + 3 * (tasks + retries);
    const polls = events.filter((event) => event.type === 'StateEntered' && event.state?.name === 'Poll').length;
    // What the same run writes in production, where a restore takes many polls: each more poll is a
    // Wait (2 events), the Poll task (5) and the Choice (2).
    const pollsAnHour = 3600 / 60;
    const projected = history + DATABASES * Math.max(0, pollsAnHour - polls / DATABASES) * 9;
    console.log(
      `scale: ${DATABASES} drills in ${seconds.toFixed(1)} s; ${world.emulator.requests.length} RDS calls, ${world.emulator.throttled} throttled; ` +
        `${events.length} local events, about ${history} Step Functions history events (limit ${HISTORY_LIMIT}); ${polls} polls; outcomes ${JSON.stringify(Object.fromEntries(outcomes))}; ` +
        `with ${pollsAnHour} polls a drill (1 h restores, pollIntervalSeconds 60) about ${Math.round(projected)} events`,
    );
    expect(history).toBeLessThan(HISTORY_LIMIT / 2);
    // No secret in the bucket or the execution's answer.
    for (const text of [...s3.objects(BUCKET).values(), JSON.stringify(result)]) expect(text).not.toContain(SOURCE_PASSWORD);
  }, 240_000);
});
