import { afterAll, beforeAll, expect, test } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import type { RestoreDrillConfig } from '../../lib/config/schema.ts';
import { drillTasks } from '../../lib/drill/tasks.ts';
import { providerFor } from '../../lib/providers/index.ts';
import { memoryReportStore } from '../../lib/report/s3Store.ts';
import { NEON_API_KEY, neonDatabaseConfig, neonWorld, type NeonWorld } from '../emulators/neon/world.ts';
import { leftoverCopies, useOwnScratch } from '../emulators/rds/world.ts';

// The Neon side of a lost Start: Neon made the branch, the Start function ended before its answer came back.
useOwnScratch('lost-start-neon-test');
process.env.NEON_API_KEY = NEON_API_KEY;

let world: NeonWorld;
let config: RestoreDrillConfig;

beforeAll(async () => {
  world = await neonWorld();
  config = await validateConfig({ rpoTargetSeconds: 3600, databases: [neonDatabaseConfig(world, 'neon-lost')] }, world.project);
}, 120_000);

afterAll(async () => {
  if (!world) return;
  const { specProblems } = world.emulator;
  await world.remove();
  expect(specProblems, JSON.stringify(specProblems, null, 1)).toEqual([]);
  expect(await leftoverCopies()).toEqual([]);
});

test('Cleanup finds the branch a lost Start made, by its planned name and our annotation, removes it, and the report says so (red-team finding)', async () => {
  const store = memoryReportStore();
  const tasks = drillTasks({ config, store, providerFor: (database) => providerFor(database, { neon: { retry: { baseDelayMs: 5, maxDelayMs: 200, attempts: 150 } } }), log: () => {}, lostCopyWaitMs: 1000 });
  const { drills } = await tasks.plan({});
  const planned = drills[0]!;
  const name = planned.report.copy.name!;
  await tasks.start(planned);
  expect(world.emulator.branchNamed(name)).toBeDefined();

  const summary = await tasks.cleanup({ ...planned, failure: { Error: 'Sandbox.Timedout', Cause: 'Task timed out after 120.00 seconds' } });

  const report = await store.get(summary.reportKey!);
  expect(report.copy).toMatchObject({ name, removed: true, fate: 'removed' });
  expect(report.copy.note).toMatch(/Start's answer was lost.*found by its planned name/);
  expect(world.emulator.branchNamed(name)).toBeUndefined();
}, 120_000);
