import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkRowCounts, countSessions, parallelWorkerBudget, type RowCountsDetails } from '../../lib/checks/rowCounts.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { testSource } from '../support/source.ts';
import { checkContext, createDatabase, withClient } from './helpers.ts';

// Issue 18: each table's exact count is taken the cheapest way the catalog allows, and the details say
// which: small tables batched, big ones with parallel workers, an index-only scan of a much smaller
// index where the visibility map allows it; otherwise (no such index, pages not all-visible, never
// vacuumed) a plain seq scan. Whatever the strategy, the count is count(*)'s.

let source: SourceCluster;
let db: pg.ClientConfig;

beforeAll(async () => {
  source = await testSource();
  db = await createDatabase(source, 'strategies');
  await withClient(db, async (c) => {
    await c.query(`
      -- Wide rows, a narrow primary key: the index is a small share of the heap (about 12 MB of heap).
      create table wide (id int primary key, filler char(200) not null default '');
      insert into wide (id) select generate_series(1, 50000);
      -- The same, but with pages no longer all-visible (updated after its vacuum, autovacuum kept away).
      create table wide_dirty (id int primary key, filler char(200) not null default '') with (autovacuum_enabled = off);
      insert into wide_dirty (id) select generate_series(1, 50000);
      -- Wide, no index at all.
      create table wide_noindex (id int, filler char(200) not null default '');
      insert into wide_noindex (id) select generate_series(1, 50000);
      -- Over 32 MB: parallel workers.
      create table large (id int, amount int, note text);
      insert into large select g, g % 97, 'note ' || g from generate_series(1, 700000) g;
    `);
    for (let i = 0; i < 60; i++) await c.query(`create table tiny_${i} (id int); insert into tiny_${i} select generate_series(1, ${i + 1})`);
    await c.query('vacuum analyze');
    await c.query('update wide_dirty set filler = \'x\' where id % 10 = 0');
    // ANALYZE (autovacuum's, a person's) brings pg_class.relallvisible to what the visibility map says now.
    await c.query('analyze wide_dirty');
    // Never vacuumed nor analyzed: its size is unknown to the catalog.
    await c.query('create table fresh (id int) with (autovacuum_enabled = off); insert into fresh select generate_series(1, 11)');
  });
}, 120_000);

afterAll(async () => {
  await source?.remove();
});

async function indexScans(table: string): Promise<{ seq: number; index: number }> {
  return withClient(db, async (c) => {
    const { rows } = await c.query<{ seq: string; idx: string }>('select seq_scan::text as seq, coalesce(idx_scan, 0)::text as idx from pg_stat_user_tables where relname = $1', [table]);
    return { seq: Number(rows[0]!.seq), index: Number(rows[0]!.idx) };
  });
}

describe('row count strategies', () => {
  test('each table gets the cheapest exact count the catalog allows, and the details name it', async () => {
    // Prepare
    const tiny = Array.from({ length: 60 }, (_, i) => `tiny_${i}`);
    const tables = ['wide', 'wide_dirty', 'wide_noindex', 'large', ...tiny, 'fresh'];
    const before = await indexScans('wide');

    // Act
    const result = await checkRowCounts(checkContext(db, { concurrency: 2 }), tables.map((table) => ({ table })));

    // Assess
    expect(result.status, result.summary).toBe('pass');
    const details = result.details as RowCountsDetails;
    expect(details.counts).toEqual({ wide: 50000, wide_dirty: 50000, wide_noindex: 50000, large: 700000, ...Object.fromEntries(tiny.map((table, i) => [table, i + 1])), fresh: 11 });
    const strategy = Object.fromEntries(details.rules.map((rule) => [rule.table, rule.strategy]));
    // Tables counted alone share the server's max_parallel_workers (8) among the 2 sessions: up to 4 workers each.
    expect(strategy.wide).toMatch(/^parallel index-only scan on public\.wide_pkey \(\d+ % of the heap's size, 100 % of its pages all-visible\)$/);
    expect(strategy.wide_dirty).toBe('parallel seq scan (up to 4 workers, as the planner sizes them)');
    expect(strategy.wide_noindex).toBe('parallel seq scan (up to 4 workers, as the planner sizes them)');
    expect(strategy.large).toBe('parallel seq scan (up to 4 workers, as the planner sizes them)');
    // 60 small tables over 2 sessions: 12 queries of 5 (six per session, so that neither is left with the tail).
    for (const table of tiny) expect(strategy[table]).toBe('batched (5 small tables in one query)');
    expect(details.countQueries).toBe(4 + 12 + 1);
    expect(strategy.fresh).toBe('parallel seq scan (up to 4 workers, as the planner sizes them, size unknown: never vacuumed or analyzed)');
    // The index-only count read the index, not the heap (the check's sessions have ended: their statistics are in).
    const after = await indexScans('wide');
    expect(after.index - before.index).toBeGreaterThanOrEqual(1);
    expect(after.seq - before.seq).toBe(0);
  });

  test('the index-only count is exact when rows were deleted after the catalog last counted all-visible pages', async () => {
    // Prepare: a table that qualified, then lost rows with no vacuum since (its catalog still says all-visible)
    await withClient(db, async (c) => {
      await c.query(`create table shrinking (id int primary key, filler char(200) not null default '') with (autovacuum_enabled = off);
        insert into shrinking (id) select generate_series(1, 50000);`);
      await c.query('vacuum analyze shrinking');
      await c.query('delete from shrinking where id <= 1000');
    });

    // Act
    const result = await checkRowCounts(checkContext(db), [{ table: 'shrinking', min: 1 }]);

    // Assess: the pages that lost rows are no longer all-visible: the scan visits them and counts the same as count(*)
    const details = result.details as RowCountsDetails;
    expect(details.rules[0]!.strategy).toMatch(/^parallel index-only scan on public\.shrinking_pkey/);
    expect(details.counts).toEqual({ shrinking: 49000 });
  });

  test('a server with few parallel workers: our sessions share them, never asking for more than it has (at least one each)', async () => {
    // Prepare: a database whose sessions see max_parallel_workers = 3, counted by 4 sessions
    await source.query('create database fewworkers');
    const few = source.clientConfig('fewworkers');
    await withClient(few, async (c) => {
      await c.query('alter database fewworkers set max_parallel_workers = 3');
      await c.query("create table large (id int, note text); insert into large select g, 'note ' || g from generate_series(1, 400000) g");
      await c.query('vacuum analyze large');
    });

    // Act
    const result = await checkRowCounts(checkContext(few, { concurrency: 4 }), [{ table: 'large' }]);

    // Assess
    const details = result.details as RowCountsDetails;
    expect(details.counts).toEqual({ large: 400000 });
    expect(details.rules[0]!.strategy).toBe('parallel seq scan (up to 1 worker, as the planner sizes them)');
  });

  test('a copy on this machine: parallel workers only from the cores our sessions leave idle, none when they take every core', async () => {
    // Act: 4 sessions on a 2-core machine, then on a 16-core one
    const busy = await checkRowCounts(checkContext(db, { concurrency: 4, copyCpus: 2 }), [{ table: 'large' }, { table: 'wide' }]);
    const roomy = await checkRowCounts(checkContext(db, { concurrency: 4, copyCpus: 16 }), [{ table: 'large' }, { table: 'wide' }]);

    // Assess: the same exact counts either way
    const [busyDetails, roomyDetails] = [busy.details as RowCountsDetails, roomy.details as RowCountsDetails];
    expect(busyDetails.counts).toEqual({ large: 700000, wide: 50000 });
    expect(roomyDetails.counts).toEqual(busyDetails.counts);
    expect(busyDetails.rules[0]!.strategy).toBe("seq scan (no parallel workers: our sessions take every core of the copy's machine)");
    expect(busyDetails.rules[1]!.strategy).toMatch(/^index-only scan on public\.wide_pkey/);
    // 16 cores for 4 sessions: 3 spare each, below the server's 8 shared by 4 (2 each), which stays the limit.
    expect(roomyDetails.rules[0]!.strategy).toBe('parallel seq scan (up to 2 workers, as the planner sizes them)');
  });

  test('a copy on this machine is counted with no more sessions than it has cores; elsewhere with concurrency sessions', async () => {
    // Prepare: a role that may hold two connections at once (a superuser's are never limited)
    await withClient(db, async (c) => {
      await c.query('create role two_sessions login connection limit 2');
      await c.query('grant select on all tables in schema public to two_sessions');
    });
    const asTwo = { ...db, user: 'two_sessions' };
    const tables = ['wide', 'wide_dirty', 'wide_noindex', 'large', ...Array.from({ length: 60 }, (_, i) => `tiny_${i}`)];

    // Act: concurrency 4 on a 2-core machine, then on a copy whose cores are unknown
    const onTwoCores = await checkRowCounts(checkContext(asTwo, { concurrency: 4, copyCpus: 2 }), tables.map((table) => ({ table })));
    // A closed session's backend leaves the server a moment after the client hangs up.
    await expect.poll(() => source.query<{ n: number }>("select count(*)::int as n from pg_stat_activity where usename = 'two_sessions'").then((rows) => rows[0]!.n)).toBe(0);
    const unknownCores = await checkRowCounts(checkContext(asTwo, { concurrency: 4 }), tables.map((table) => ({ table })));

    // Assess: two sessions did every count; four asked for a third connection the server refused
    expect(onTwoCores.summary).toBe(`${tables.length} tables counted, every rule holds`);
    expect(onTwoCores.details).toMatchObject({ concurrency: 4, sessions: 2, counts: { wide: 50000, large: 700000, tiny_59: 60 } });
    expect(unknownCores.status).toBe('error');
    expect(unknownCores.summary).toMatch(/too many connections for role "two_sessions"/);
    expect(countSessions(4, 2)).toBe(2);
    expect(countSessions(4, 16)).toBe(4);
    expect(countSessions(4, undefined)).toBe(4);
    expect(countSessions(1, 1)).toBe(1);
  });

  test('the worker budget: the cores left over where known, else the server\'s workers shared, never more than either', () => {
    expect(parallelWorkerBudget(8, 4, 2)).toBe(0);
    expect(parallelWorkerBudget(8, 4, 8)).toBe(1);
    expect(parallelWorkerBudget(32, 4, 16)).toBe(3);
    expect(parallelWorkerBudget(8, 4, 64)).toBe(2);
    expect(parallelWorkerBudget(8, 4, undefined)).toBe(2);
    expect(parallelWorkerBudget(null, 4, undefined)).toBe(2);
    expect(parallelWorkerBudget(3, 4, undefined)).toBe(1);
  });
});
