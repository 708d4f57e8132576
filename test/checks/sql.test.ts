import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checksConfigSchema, sqlAssertionsConfigSchema } from '../../lib/checks/config.ts';
import { runChecks } from '../../lib/checks/runChecks.ts';
import { checkSqlAssertions, type SqlAssertionsDetails } from '../../lib/checks/sqlAssertions.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { testSource } from '../support/source.ts';
import { checkContext, createDatabase, withClient } from './helpers.ts';

let source: SourceCluster;
let db: pg.ClientConfig;

beforeAll(async () => {
  source = await testSource();
  db = await createDatabase(source, 'assertions');
  await withClient(db, (c) =>
    c.query(`
      create table accounts (id int primary key, email text not null, balance_cents bigint not null);
      insert into accounts select g, 'user' || g || '@example.com', g * 100 from generate_series(1, 50) g;
      create table ledger (id serial primary key, amount bigint);
    `),
  );
});

afterAll(async () => {
  await source?.remove();
});

const run = async (assertions: unknown, timeoutMs = 30_000) => {
  const result = await checkSqlAssertions(checkContext(db, { statementTimeoutMs: timeoutMs }), sqlAssertionsConfigSchema.parse(assertions));
  return { result, details: result.details as SqlAssertionsDetails };
};

describe('SQL assertions', () => {
  it('an assertion that holds passes; only the verdict and the number reach the report, never a row value', async () => {
    const { result, details } = await run([
      { name: 'every account has an email', query: `select count(*) from accounts where email is null`, expect: { equals: 0 } },
      { name: 'enough accounts', query: `select count(*) from accounts`, expect: { min: 10, max: 1000 } },
      { name: 'the rich ones', query: `select email from accounts where balance_cents >= 4800`, expect: { rows: 3 } },
    ]);

    expect(result.status).toBe('pass');
    expect(result.summary).toBe('3 assertions hold');
    expect(details.assertions).toEqual([
      { name: 'every account has an email', status: 'pass', summary: 'value 0, expected 0', value: 0 },
      { name: 'enough accounts', status: 'pass', summary: 'value 50, expected between 10 and 1000', value: 50 },
      { name: 'the rich ones', status: 'pass', summary: '3 rows, expected 3', rows: 3 },
    ]);
    expect(JSON.stringify(result)).not.toContain('@example.com');
  });

  it('an assertion that does not hold fails the check, naming it and the number', async () => {
    const { result, details } = await run([
      { name: 'no negative balances', query: `select count(*) from accounts where balance_cents < 0`, expect: { equals: 0 } },
      { name: 'at least a million accounts', query: `select count(*) from accounts`, expect: { min: 1000000 } },
      { name: 'one admin', query: `select email from accounts where email = 'admin@example.com'`, expect: { rows: 1 } },
    ]);

    expect(result.status).toBe('fail');
    expect(result.summary).toBe('2 of 3 assertions do not hold: at least a million accounts (value 50, expected at least 1000000); one admin (0 rows, expected 1)');
    expect(details.assertions.map((a) => a.status)).toEqual(['pass', 'fail', 'fail']);
  });

  it('a query that writes fails by its read-only transaction, says so, and writes nothing', async () => {
    const { result, details } = await run([
      { name: 'sneaky insert', query: `insert into ledger (amount) values (1) returning id`, expect: { rows: 1 } },
      { name: 'a second statement', query: `select 1; delete from accounts`, expect: { rows: 1 } },
      { name: 'a sequence', query: `select nextval('ledger_id_seq')`, expect: { min: 1 } },
    ]);

    expect(result.status).toBe('fail');
    expect(details.assertions.map((a) => [a.status, a.summary])).toEqual([
      ['fail', 'the query tried to write (25006: cannot execute INSERT in a read-only transaction): an assertion may only read'],
      ['fail', 'the query is more than one statement (42601: cannot insert multiple commands into a prepared statement): an assertion is one query'],
      ['fail', 'the query tried to write (25006: cannot execute nextval() in a read-only transaction): an assertion may only read'],
    ]);
    const [counts] = await withClient(db, async (c) => (await c.query<{ ledger: number; accounts: number }>('select (select count(*) from ledger)::int as ledger, (select count(*) from accounts)::int as accounts')).rows);
    expect(counts).toEqual({ ledger: 0, accounts: 50 });
  });

  it('a query over its statement timeout errors, naming the assertion; a value that is not a number cannot be compared', async () => {
    const { result, details } = await run(
      [
        { name: 'slow', query: `select count(*) from pg_sleep(2)`, expect: { equals: 1 } },
        { name: 'text', query: `select email from accounts where id = 1`, expect: { min: 1 } },
      ],
      300,
    );

    expect(result.status).toBe('error');
    expect(details.assertions.map((a) => [a.status, a.summary])).toEqual([
      ['error', 'did not finish within the statement timeout (300 ms)'],
      ['error', 'the first column of the first row is not a number: min/max/equals need one (or use rows)'],
    ]);
    expect(JSON.stringify(result)).not.toContain('user1@');
  });

  it('runs as checks.sql after the connection check, and the config refuses an assertion without an expectation', async () => {
    const config = checksConfigSchema.parse({ sql: [{ name: 'accounts', query: 'select count(*) from accounts', expect: { min: 1 } }] });

    const results = await runChecks({ copy: db, target: new Date(), rpoTargetSeconds: 60 }, config);

    expect(results.map((r) => [r.check, r.status])).toEqual([
      ['connection', 'pass'],
      ['sql', 'pass'],
    ]);
    expect(sqlAssertionsConfigSchema.safeParse([{ name: 'x', query: 'select 1', expect: {} }]).success).toBe(false);
    expect(sqlAssertionsConfigSchema.safeParse([{ name: 'x', query: 'select 1', expect: { rows: 1 } }, { name: 'x', query: 'select 2', expect: { rows: 1 } }]).success).toBe(false);
  });
});
