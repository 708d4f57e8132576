import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshnessConfigSchema } from '../../lib/checks/config.ts';
import { checkFreshness, type FreshnessDetails } from '../../lib/checks/freshness.ts';
import type { CheckContext } from '../../lib/checks/types.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { testSource } from '../support/source.ts';
import { checkContext, createDatabase, withClient } from './helpers.ts';
import { newClient } from '../../lib/util/pgClient.ts';

let source: SourceCluster;
let db: pg.ClientConfig;
const target = new Date('2026-03-01T12:00:00Z');

beforeAll(async () => {
  source = await testSource();
  db = await createDatabase(source, 'freshness');
  await withClient(db, (c) =>
    c.query(`
      create table events (id int, created_at timestamptz, note text);
      insert into events values (1, '2026-03-01 11:50:00+00', 'a'), (2, '2026-03-01 11:58:30+00', 'b'), (3, null, 'c');
      create schema "sales; drop schema public";
      create table "sales; drop schema public"."Ördérs ""2026""" ("placed at" timestamp);
      insert into "sales; drop schema public"."Ördérs ""2026""" values ('2026-03-01 11:59:50');
      create table empty (id int, created_at timestamptz);
      create table no_values (id int, created_at timestamptz);
      insert into no_values values (1, null);
      create table future (created_at timestamptz);
      insert into future values ('2026-03-01 12:00:20+00');
      create table forever (created_at timestamptz);
      insert into forever values ('2026-03-01 11:00:00+00'), ('infinity');
    `),
  );
});

afterAll(async () => {
  await source?.remove();
});

const run = async (config: unknown, context: Partial<CheckContext> = {}) => {
  const result = await checkFreshness(checkContext(db, { target, rpoTargetSeconds: 300, ...context }), freshnessConfigSchema.parse(config));
  return { result, details: result.details as FreshnessDetails };
};

describe('freshness', () => {
  it('measures the data lag against the target, within the rpo target by default', async () => {
    const { result, details } = await run({ table: 'events', column: 'created_at' });

    expect(result.status).toBe('pass');
    expect(details.dataLagSeconds).toBe(90);
    expect(details.maxLagSeconds).toBe(300);
    expect(result.summary).toBe('events: data lag 90 s, within 300 s');
    expect(JSON.stringify(result)).not.toContain('11:58:30');
  });

  it('fails when the lag exceeds maxLagSeconds', async () => {
    const { result, details } = await run({ table: 'events', column: 'created_at', maxLagSeconds: 60 });

    expect(result.status).toBe('fail');
    expect(details.dataLagSeconds).toBe(90);
    expect(result.summary).toBe('events: data lag 90 s, more than the 60 s allowed');
  });

  it('reads hostile schema, table and column names, and a timestamp without time zone as UTC', async () => {
    const { result, details } = await run({ table: 'sales; drop schema public."Ördérs ""2026"""', column: 'placed at' });

    expect(result.status).toBe('pass');
    expect(details.dataLagSeconds).toBe(10);
    const [events] = await source.query<{ oid: string | null }>(`select to_regclass('public.events')::text as oid`, [], 'freshness');
    expect(events!.oid).toBe('events');
  });

  it('fails with a clear summary on an empty table and on a column with no values', async () => {
    const empty = await run({ table: 'empty', column: 'created_at' });
    const noValues = await run({ table: 'no_values', column: 'created_at' });

    expect(empty.result.status).toBe('fail');
    expect(empty.result.summary).toBe('empty is empty in the copy: no data to measure the RPO by');
    expect(noValues.result.status).toBe('fail');
    expect(noValues.result.summary).toContain('no_values.created_at is null in every row');
  });

  it('fails on an infinity timestamp rather than reporting a lag', async () => {
    const { result, details } = await run({ table: 'forever', column: 'created_at' });

    expect(result.status).toBe('fail');
    expect(details.dataLagSeconds).toBeNull();
    expect(result.summary).toContain("holds 'infinity'");
  });

  it('fails naming a missing table or column, and errors on a column that is not a timestamp', async () => {
    const missingTable = await run({ table: 'evnets', column: 'created_at' });
    const missingColumn = await run({ table: 'events', column: 'updated_at' });
    const notTime = await run({ table: 'events', column: 'id' });

    expect(missingTable.result.status).toBe('fail');
    expect(missingTable.result.summary).toContain('relation "evnets" does not exist');
    expect(missingColumn.result.status).toBe('fail');
    expect(missingColumn.result.summary).toContain('column "updated_at" does not exist');
    expect(notTime.result.status).toBe('error');
    expect(notTime.details.error?.code).toBe('42846');
  });

  it('reports data newer than the target as a negative lag, and the replay lag the provider knows', async () => {
    const { result, details } = await run(
      { table: 'future', column: 'created_at' },
      { lastReplayedAt: new Date('2026-03-01T11:59:58Z') },
    );

    expect(result.status).toBe('pass');
    expect(details.dataLagSeconds).toBe(-20);
    expect(result.summary).toContain('lies 20 s after the target');
    expect(details.lastReplayedAt).toBe('2026-03-01T11:59:58.000Z');
    expect(details.replayLagSeconds).toBe(2);
  });

  it('turns a statement timeout into an error naming the table', async () => {
    const locker = newClient(db);
    await locker.connect();
    await locker.query('begin; lock table events in access exclusive mode');
    try {
      const { result } = await run({ table: 'events', column: 'created_at' }, { statementTimeoutMs: 500 });

      expect(result.status).toBe('error');
      expect(result.summary).toBe('events: max(created_at) exceeded the statement_timeout of 500 ms');
    } finally {
      await locker.query('rollback');
      await locker.end();
    }
  });
});
