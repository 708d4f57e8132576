import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowCountsConfigSchema } from '../../lib/checks/config.ts';
import { checkRowCounts, type RowCountsDetails } from '../../lib/checks/rowCounts.ts';
import { openSession, closeSession } from '../../lib/checks/sql.ts';
import type { CheckContext } from '../../lib/checks/types.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { testSource } from '../support/source.ts';
import { checkContext, createDatabase, withClient } from './helpers.ts';

let source: SourceCluster;
let db: pg.ClientConfig;

beforeAll(async () => {
  source = await testSource();
  db = await createDatabase(source, 'rowcounts');
  await withClient(db, async (c) => {
    await c.query(`
      create table orders (id int primary key, placed_at timestamptz not null);
      insert into orders select g, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute' from generate_series(1, 1000) g;
      create table "users; drop table x" (id int);
      insert into "users; drop table x" select generate_series(1, 7);
      create table x (id int);
      create table "we.ird" (id int);
      insert into "we.ird" select generate_series(1, 3);
      create schema "ünï";
      create table "ünï"."Tab""le ß" (id int, "at ""é""" timestamptz);
      insert into "ünï"."Tab""le ß" select g, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 hour' from generate_series(1, 5) g;
      create table empty (id int);
      create table measurements (id int, at timestamptz not null) partition by range (at);
      create table measurements_2025 partition of measurements for values from ('2025-01-01') to ('2026-01-01');
      create table measurements_2026 partition of measurements for values from ('2026-01-01') to ('2027-01-01');
      insert into measurements select g, timestamptz '2025-12-31 12:00:00+00' + g * interval '1 minute' from generate_series(1, 1440) g;
      create table big (id int, payload text);
      insert into big select g, repeat('x', 40) from generate_series(1, 200000) g;
      create table secrets (id int, pin text);
      insert into secrets values (1, 'secret-value-4711');
      create view bad_pins as select * from secrets where pin::int > 0;
    `);
    for (let i = 0; i < 30; i++) {
      await c.query(`create table small_${i} (id int); insert into small_${i} select generate_series(1, ${i + 1});`);
    }
    // As autovacuum would have by the time of a backup: the row counts' batching reads relpages.
    await c.query('analyze');
  });
});

afterAll(async () => {
  await source?.remove();
});

const rules = (input: unknown) => rowCountsConfigSchema.parse(input);
const run = async (input: unknown, context: Partial<CheckContext> = {}) => {
  const result = await checkRowCounts(checkContext(db, context), rules(input));
  return { result, details: result.details as RowCountsDetails };
};

describe('rowCounts', () => {
  it('counts tables exactly, hostile names included, without running anything in them', async () => {
    const { result, details } = await run([
      { table: 'orders', min: 1 },
      { table: 'users; drop table x', min: 7, max: 7 },
      { table: '"we.ird"', min: 3 },
      { table: 'ünï."Tab""le ß"', min: 5 },
      { table: 'public.measurements', min: 1440 },
    ]);

    expect(result.status).toBe('pass');
    expect(details.counts).toEqual({
      orders: 1000,
      'users; drop table x': 7,
      '"we.ird"': 3,
      'ünï."Tab""le ß"': 5,
      'public.measurements': 1440,
    });
    const [x] = await source.query<{ oid: string | null }>(`select to_regclass('public.x')::text as oid`, [], 'rowcounts');
    expect(x!.oid).toBe('x');
    expect(result.summary).toBe('5 tables counted, every rule holds');
  });

  it('fails min and max with the numbers, and a missing table with its name, while counting the rest', async () => {
    const { result, details } = await run([
      { table: 'orders', min: 1001 },
      { table: 'orders', max: 999 },
      { table: 'users; drop table y' },
      { table: 'ünï.nope' },
      { table: 'empty', min: 0, max: 0 },
    ]);

    expect(result.status).toBe('fail');
    expect(details.rules.map((r) => r.status)).toEqual(['fail', 'fail', 'fail', 'fail', 'pass']);
    expect(details.rules[0]!.summary).toBe('orders: 1000 rows, fewer than min 1001');
    expect(details.rules[1]!.summary).toBe('orders: 1000 rows, more than max 999');
    expect(details.rules[2]!.summary).toBe('users; drop table y: no such table in the copy');
    expect(details.rules[3]!.summary).toBe('ünï.nope: no such table in the copy');
    expect(details.counts).toEqual({ orders: 1000, empty: 0 });
    expect(result.summary).toContain('4 of 5 tables not passing');
  });

  it('compares with the previous drill by maxDropPercent', async () => {
    const { details } = await run(
      [
        { table: 'orders', maxDropPercent: 10 },
        { table: 'small_9', maxDropPercent: 10 },
        { table: 'small_8', maxDropPercent: 10 },
      ],
      { previousCounts: { orders: 1100, small_9: 20 } },
    );

    expect(details.rules[0]).toMatchObject({ status: 'pass', previousCount: 1100, dropPercent: 9.09 });
    expect(details.rules[1]).toMatchObject({ status: 'fail', previousCount: 20, dropPercent: 50 });
    expect(details.rules[1]!.summary).toContain("10 rows, 50% fewer than the previous drill's 20");
    expect(details.rules[2]).toMatchObject({ status: 'pass', previousCount: null, dropPercent: null });
  });

  it('counts small tables together in fewer queries, and each table once', async () => {
    const input = [...Array.from({ length: 30 }, (_, i) => ({ table: `small_${i}` })), { table: 'big' }, { table: 'public.big', min: 200000 }];

    const { result, details } = await run(input, { concurrency: 2 });

    expect(result.status).toBe('pass');
    for (let i = 0; i < 30; i++) expect(details.counts[`small_${i}`]).toBe(i + 1);
    expect(details.counts.big).toBe(200000);
    expect(details.counts['public.big']).toBe(200000);
    // 31 distinct tables, far fewer queries; still several, so that both sessions have work.
    expect(details.countQueries).toBeLessThan(20);
    expect(details.countQueries).toBeGreaterThanOrEqual(4);
  });

  it('turns a statement timeout into an error that names the table, and still counts the others', async () => {
    // A migration holding a lock makes count(*) wait; the wait counts towards statement_timeout.
    const locker = await openSession(db, { statementTimeoutMs: 60_000 });
    await locker.query('begin; lock table small_3, measurements in access exclusive mode');
    try {
      const { result, details } = await run(
        [{ table: 'small_2' }, { table: 'small_3' }, { table: 'small_4' }, { table: 'measurements' }],
        { statementTimeoutMs: 1000 },
      );

      expect(result.status).toBe('error');
      expect(details.rules.map((r) => r.status)).toEqual(['pass', 'error', 'pass', 'error']);
      expect(details.rules[1]!.summary).toBe('small_3: counting in the copy exceeded the statement_timeout of 1000 ms');
      expect(details.rules[1]!.error?.code).toBe('57014');
      expect(details.rules[3]!.summary).toBe('measurements: counting in the copy exceeded the statement_timeout of 1000 ms');
      expect(details.counts).toEqual({ small_2: 3, small_4: 5 });
    } finally {
      await locker.query('rollback');
      await closeSession(locker);
    }
  });

  it('keeps row values out of the result when Postgres puts them in an error message', async () => {
    const { result, details } = await run([{ table: 'bad_pins' }, { table: 'orders' }]);

    expect(result.status).toBe('error');
    expect(details.rules[0]!.error?.code).toBe('22P02');
    expect(JSON.stringify(result)).not.toContain('4711');
    expect(details.rules[1]!.status).toBe('pass');
  });

  it('asOf compares the rows up to the target on source and copy, and names a missing column', async () => {
    const target = new Date('2026-01-01T10:00:00Z');
    const { details } = await run(
      [
        { table: 'orders', asOf: { column: 'placed_at', marginSeconds: 60 } },
        { table: 'ünï."Tab""le ß"', asOf: { column: 'at "é"', marginSeconds: 0 } },
        { table: 'orders', asOf: { column: 'shipped_at', marginSeconds: 0 } },
        { table: 'orders', asOf: { column: 'id', marginSeconds: 0 } },
      ],
      { source: db, target },
    );

    expect(details.rules[0]).toMatchObject({
      status: 'pass',
      count: 1000,
      asOf: { column: 'placed_at', cutoff: '2026-01-01T09:59:00.000Z', sourceCount: 599, copyCount: 599 },
    });
    expect(details.rules[1]).toMatchObject({ status: 'pass', asOf: { sourceCount: 5, copyCount: 5 } });
    expect(details.rules[2]!.status).toBe('fail');
    expect(details.rules[2]!.summary).toContain('column "shipped_at" does not exist');
    expect(details.rules[3]!.status).toBe('error');
    expect(details.rules[3]!.summary).toContain('operator does not exist: integer <= timestamp with time zone');
  });

  it('asOf without a source connection is an error that says what to add', async () => {
    const { result, details } = await run([{ table: 'orders', asOf: { column: 'placed_at', marginSeconds: 0 } }]);

    expect(result.status).toBe('error');
    expect(details.rules[0]!.summary).toContain('no source connection was given');
  });

  it('gives every asOf rule an error, and does not hang, when the source cannot be reached', async () => {
    const unreachable = { ...db, host: '/nonexistent/socket-folder' };
    const input = Array.from({ length: 6 }, () => ({ table: 'orders', asOf: { column: 'placed_at', marginSeconds: 0 } }));

    const { result, details } = await run(input, { source: unreachable, concurrency: 2, target: new Date('2026-01-01T10:00:00Z') });

    expect(result.status).toBe('error');
    expect(details.rules.map((r) => r.status)).toEqual(Array(6).fill('error'));
    expect(details.rules[5]!.summary).toMatch(/^orders \(asOf placed_at\): counting in the source failed: .*ENOENT/);
    expect(details.rules[5]!.asOf).toMatchObject({ copyCount: 600, sourceCount: null });
    expect(details.counts).toEqual({ orders: 1000 });
  });

  it('opens source sessions whose transactions are read-only', async () => {
    const session = await openSession(db, { statementTimeoutMs: 5_000, readOnly: true });
    try {
      await expect(session.query('insert into empty values (1)')).rejects.toMatchObject({ code: '25006' });
    } finally {
      await closeSession(session);
    }
  });
});
