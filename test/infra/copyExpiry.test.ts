import { expect, test } from 'vitest';
import { configSchema } from '../../lib/config/schema.ts';
import { CLEANUP_REMOVAL_WAIT_MS } from '../../lib/drill/lambdaDependencies.ts';
import { drillTasks } from '../../lib/drill/tasks.ts';
import { VERIFY_TIMEOUT_SECONDS } from '../../lib/infra/cloudSettings.ts';
import { memoryReportStore } from '../../lib/report/s3Store.ts';
import type { RestoreProvider } from '../../lib/providers/types.ts';

/** A provider that records the expiry its copy is tagged with (RDS's restore-drill:expires-at, Neon's annotation and expires_at). */
function recordingProvider(kind: string) {
  const asked: Date[] = [];
  const provider: RestoreProvider = {
    kind,
    window: async () => ({ earliest: new Date('2026-11-01T00:00:00Z'), latest: new Date('2026-11-25T11:59:00Z') }),
    start: async ({ copyName, expiresAt }) => {
      asked.push(expiresAt);
      return { name: copyName };
    },
    poll: async () => ({ state: 'pending' }),
    destroy: async () => undefined,
    copyNameOf: (handle) => (handle as { name: string }).name,
  };
  return { provider, asked };
}

test.each(['rds', 'neon'])("a %s copy's expiry tag covers its database's restore timeout, the Verify and Cleanup functions' limits and their retries (issue 14 item 10)", async (kind) => {
  const now = new Date('2026-11-25T12:00:00Z');
  // A database given a longer restore timeout than the default: the expiry must follow the database's own.
  const config = configSchema.parse({
    restoreTimeoutSeconds: 3600,
    databases: [{ name: 'slow-db', restoreTimeoutSeconds: 7200, provider: { kind: 'local', baseBackups: './b', walArchive: './w' } }],
  });
  const { provider, asked } = recordingProvider(kind);
  const tasks = drillTasks({ config, store: memoryReportStore(), providerFor: () => provider, now: () => now });

  const { drills } = await tasks.plan({});
  const started = await tasks.start(drills[0]!);

  expect(started.report.error).toBeUndefined();
  const lifetimeSeconds = (asked[0]!.getTime() - now.getTime()) / 1000;
  const needed = 7200 + VERIFY_TIMEOUT_SECONDS + CLEANUP_REMOVAL_WAIT_MS / 1000 + 120;
  expect(lifetimeSeconds).toBeGreaterThan(needed);
  expect(started.expiresAt).toBe(asked[0]!.toISOString());
});

test('a kept copy (restore --keep) expires when its user said, no later', async () => {
  const now = new Date('2026-11-25T12:00:00Z');
  const config = configSchema.parse({ databases: [{ name: 'kept-db', provider: { kind: 'local', baseBackups: './b', walArchive: './w' } }] });
  const { provider, asked } = recordingProvider('rds');
  const tasks = drillTasks({ config, store: memoryReportStore(), providerFor: () => provider, now: () => now });

  const { drills } = await tasks.plan({ mode: 'restore', database: 'kept-db', keepForSeconds: 7200 });
  await tasks.start(drills[0]!);

  expect(asked[0]!.toISOString()).toBe('2026-11-25T14:00:00.000Z');
});

test("the lifetime's budgets are the stack's own limits (a change to one must change the other)", async () => {
  const { VERIFY_LIMIT_SECONDS, CLEANUP_LIMIT_SECONDS } = await import('../../lib/drill/copyLifetime.ts');
  expect(VERIFY_LIMIT_SECONDS).toBe(VERIFY_TIMEOUT_SECONDS);
  expect(CLEANUP_LIMIT_SECONDS).toBe(CLEANUP_REMOVAL_WAIT_MS / 1000 + 120);
});
