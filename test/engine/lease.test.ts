import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { dropCopy, runJanitor } from '../../lib/janitor.ts';
import { MARKER_FILE } from '../../lib/providers/local/engine.ts';
import { scratchFolders } from '../../lib/providers/local/scratch.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { copyFolders, copyServers } from '../support/leftovers.ts';
import { longVerifyDrill } from '../support/longVerifyDrill.ts';
import { testSource } from '../support/source.ts';

let source: SourceCluster;

beforeAll(async () => {
  source = await testSource();
  await source.query('create table events (id int primary key)');
  await source.takeBaseBackup('base-1');
  await source.query('insert into events select generate_series(1, 100)');
  await source.switchWal();
});

afterAll(async () => {
  await source?.remove();
});


test('a live drill keeps its copy leased: a janitor run past the copy\'s first expiry, during a long verify, leaves it alone, and the drill removes it itself (issue 14 item 10)', async () => {
  const run = longVerifyDrill(source, 'lease', 6);
  let finished = false;
  void run.drill.finally(() => (finished = true));
  await run.verifyBegins;
  const name = run.state().report.copy.name!;
  const firstExpiry = new Date(run.state().expiresAt!);
  const janitorClock = new Date(firstExpiry.getTime() + 1000);
  // The lease the marker holds, renewed while the drill lives: awaited until it reaches past the janitor's clock.
  const marker = join(scratchFolders.copies(), name, MARKER_FILE);
  const leaseUntil = async () => {
    const text = await readFile(marker, 'utf8').catch(() => '{}');
    return new Date((JSON.parse(text) as { leaseUntil?: string }).leaseUntil ?? 0);
  };
  while (!finished && (await leaseUntil()) <= janitorClock) await delay(20);
  expect(finished, 'the drill ended before its lease was renewed').toBe(false);

  const janitor = await runJanitor(run.config, { providerFor: () => run.provider, now: () => janitorClock });

  expect(janitor.removed.map((copy) => copy.name)).not.toContain(name);
  expect(janitor.kept.map((copy) => copy.name)).toContain(name);
  const { report } = await run.drill;
  expect(report.checks.find((check) => check.check === 'sql')?.status).toBe('pass');
  expect(report.status).toBe('passed');
  expect(report.copy).toMatchObject({ name, removed: true, fate: 'removed' });
  expect(await copyFolders('lease')).toEqual([]);
});

test('a copy removed under a running drill (drop, the janitor) is reported as gone, never as removed by the drill (issue 14 item 10)', async () => {
  const run = longVerifyDrill(source, 'lease', 60);
  await run.verifyBegins;
  const name = run.state().report.copy.name!;

  await dropCopy(name);
  const { report } = await run.drill;

  expect(report.copy.removed).toBe(false);
  expect(report.copy.fate).toBe('gone');
  expect(report.copy.note).toMatch(/already gone/);
  // Not a failed cleanup: there was nothing left to remove. The check that lost its copy says so.
  expect(report.copy.removeError).toBeUndefined();
  expect(report.checks.find((check) => check.check === 'sql')?.status).toBe('error');
  expect(await copyFolders('lease')).toEqual([]);
  expect(await copyServers('lease')).toEqual([]);
});
