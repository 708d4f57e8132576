import { StateMachine } from 'aws-local-stepfunctions';
import { expect, test } from 'vitest';
import { configSchema } from '../../lib/config/schema.ts';
import { drillTasks, type ReportOutput } from '../../lib/drill/tasks.ts';
import { nextPollWaitSeconds, type DrillState } from '../../lib/drill/steps.ts';
import type { RestoreProvider } from '../../lib/providers/types.ts';
import { memoryReportStore } from '../../lib/report/s3Store.ts';
import { synthesisedDefinition, SYNTHESISED_POLL_INTERVAL_SECONDS } from '../support/definition.ts';

const config = configSchema.parse({ databases: [{ name: 'poll-wait', provider: { kind: 'local', baseBackups: './b', walArchive: './w' } }] });

/** A copy that is ready at its `readyAt`-th poll; everything it is asked is recorded. */
function copyReadyAtPoll(readyAt: number) {
  let polls = 0;
  const provider: RestoreProvider = {
    kind: 'local',
    window: async () => ({ earliest: new Date(Date.now() - 86_400_000), latest: new Date(Date.now() - 60_000) }),
    start: async ({ copyName }) => ({ name: copyName }),
    poll: async () => (++polls >= readyAt ? { state: 'ready', connection: { host: '/nowhere', port: 5432, database: 'postgres', user: 'postgres', passwordFrom: 'none' }, lastReplayedAt: null } : { state: 'pending', detail: 'restoring' }),
    destroy: async () => undefined,
    copyNameOf: (handle) => (handle as { name: string }).name,
  };
  return provider;
}

/**
 * Runs the synthesised state machine with the real Plan, Start, Poll, Cleanup and Report tasks (Verify
 * passes the copy through: no checks here), recording what each Poll was handed and when.
 */
async function drill(provider: RestoreProvider, options: { now?: () => Date; waitForCopyMs?: number } = {}) {
  const tasks = drillTasks({ config, store: memoryReportStore(), providerFor: () => provider, metrics: { kind: 'emf-stdout', write: () => {} }, log: () => {}, ...(options.now ? { now: options.now } : {}) });
  const polls: { waitSeconds: number | undefined; at: number }[] = [];
  let startedAt = 0;
  const handlers = {
    Plan: tasks.plan,
    Start: async (state: DrillState) => {
      const started = await tasks.start(state);
      startedAt = Date.now();
      return started;
    },
    Poll: async (state: DrillState) => {
      polls.push({ waitSeconds: state.poll?.waitSeconds, at: Date.now() - startedAt });
      return tasks.poll(state);
    },
    Verify: async (state: DrillState) => ({ ...state, step: 'cleanup' }),
    Cleanup: tasks.cleanup,
    Report: tasks.report,
  };
  const machine = new StateMachine(synthesisedDefinition() as never, { validationOptions: { checkArn: false } });
  const waitTimeOverrides: Record<string, number> = options.waitForCopyMs === undefined ? {} : { WaitForCopy: options.waitForCopyMs };
  const result = (await machine.run({ mode: 'drill', trigger: 'schedule' }, { overrides: { taskResourceLocalHandlers: handlers as never, waitTimeOverrides } }).result) as unknown as ReportOutput;
  return { result, polls };
}

test('a copy ready within seconds is polled within seconds of Start, not one pollIntervalSeconds later', async () => {
  // No wait overridden: the Wait state really waits what Start and Poll asked for.
  const { result, polls } = await drill(copyReadyAtPoll(2));

  expect(result.drills).toEqual([expect.objectContaining({ database: 'poll-wait', status: 'passed' })]);
  expect(polls.map((poll) => poll.waitSeconds)).toEqual([1, 1]);
  expect(polls[0]!.at).toBeGreaterThanOrEqual(1000);
  // The interval the definition is synthesised with (60 s) would have put the first poll a minute after Start.
  expect(polls[1]!.at).toBeLessThan(SYNTHESISED_POLL_INTERVAL_SECONDS * 1000 / 4);
}, 30_000);

test('the waits grow with the restore and stop growing at pollIntervalSeconds', async () => {
  // A clock that moves 5 minutes per look: the restore seems long, and Poll asks for half of it.
  let clock = Date.parse('2026-12-01T03:00:00Z');
  const now = () => new Date((clock += 300_000));
  const { result, polls } = await drill(copyReadyAtPoll(4), { now, waitForCopyMs: 1 });

  expect(result.drills[0]!.status).toBe('passed');
  expect(polls.map((poll) => poll.waitSeconds)).toEqual([1, SYNTHESISED_POLL_INTERVAL_SECONDS, SYNTHESISED_POLL_INTERVAL_SECONDS, SYNTHESISED_POLL_INTERVAL_SECONDS]);
});

test('the wait before the next poll is half the restore so far, in whole seconds, at least 1', () => {
  expect([0, 0.4, 1, 2, 3, 9, 120, 7201].map(nextPollWaitSeconds)).toEqual([1, 1, 1, 1, 2, 5, 60, 3601]);
});
