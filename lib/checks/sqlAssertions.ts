import pg from 'pg';
import type { SqlAssertion } from './config.ts';
import { closeSession, isStatementTimeout, openSession, safeError } from './sql.ts';
import type { CheckContext, CheckResult, CheckStatus } from './types.ts';
import { worstStatus } from './types.ts';

export interface SqlAssertionResult {
  name: string;
  status: CheckStatus;
  summary: string;
  /** The number in the first column of the first row, for min/max/equals. */
  value?: number;
  /** How many rows the query returned, for `rows`. */
  rows?: number;
}

export interface SqlAssertionsDetails {
  assertions: SqlAssertionResult[];
}

/**
 * Runs each assertion on the copy in a READ ONLY transaction (rolled back) with the statement timeout,
 * as a prepared statement: one statement only, so that no `; commit; ...` can step out of the
 * transaction. Only the verdict and the number reach the report, never a row's values.
 */
export async function checkSqlAssertions(context: CheckContext, assertions: readonly SqlAssertion[]): Promise<CheckResult> {
  const client = await openSession(context.copy, { statementTimeoutMs: context.statementTimeoutMs });
  const results: SqlAssertionResult[] = [];
  try {
    for (const [index, assertion] of assertions.entries()) results.push(await runOne(client, assertion, index, context.statementTimeoutMs));
  } finally {
    await closeSession(client);
  }
  const status = worstStatus(results.map((result) => result.status));
  const bad = results.filter((result) => result.status !== 'pass');
  const summary =
    bad.length === 0
      ? `${results.length} assertion${results.length === 1 ? ' holds' : 's hold'}`
      : `${bad.length} of ${results.length} assertions ${bad.every((r) => r.status === 'error') ? 'could not be checked' : 'do not hold'}: ${bad.map((r) => `${r.name} (${r.summary})`).join('; ')}`;
  return { check: 'sql', status, summary, details: { assertions: results } satisfies SqlAssertionsDetails };
}

async function runOne(client: pg.Client, assertion: SqlAssertion, index: number, timeoutMs: number): Promise<SqlAssertionResult> {
  const { name, expect } = assertion;
  let result: pg.QueryResult;
  await client.query('begin transaction read only');
  try {
    // A named statement goes through the extended protocol, which takes exactly one statement.
    result = await client.query({ name: `restore-drill-sql-${index}`, text: assertion.query, rowMode: 'array' });
  } catch (error) {
    return { name, ...failureOf(error, timeoutMs) };
  } finally {
    await client.query('rollback').catch(() => undefined);
  }
  const rows = result.rows.length;
  const out: SqlAssertionResult = { name, status: 'pass', summary: '' };
  const problems: string[] = [];
  const said: string[] = [];
  if (expect.rows !== undefined) {
    out.rows = rows;
    said.push(`${rows} row${rows === 1 ? '' : 's'}, expected ${expect.rows}`);
    if (rows !== expect.rows) problems.push('rows');
  }
  if (expect.min !== undefined || expect.max !== undefined || expect.equals !== undefined) {
    const value = numberOf((result.rows[0] as unknown[] | undefined)?.[0]);
    if (value === undefined) {
      return {
        name,
        status: 'error',
        summary: rows === 0 ? 'the query returned no row: min/max/equals need one with a number' : 'the first column of the first row is not a number: min/max/equals need one (or use rows)',
      };
    }
    out.value = value;
    const wanted =
      expect.equals !== undefined
        ? `${expect.equals}`
        : expect.min !== undefined && expect.max !== undefined
          ? `between ${expect.min} and ${expect.max}`
          : expect.min !== undefined
            ? `at least ${expect.min}`
            : `at most ${expect.max}`;
    said.unshift(`value ${value}, expected ${wanted}`);
    if ((expect.equals !== undefined && value !== expect.equals) || (expect.min !== undefined && value < expect.min) || (expect.max !== undefined && value > expect.max)) {
      problems.push('value');
    }
  }
  out.status = problems.length ? 'fail' : 'pass';
  out.summary = said.join('; ');
  return out;
}

/** A count, sum or number as Postgres sends it (bigint and numeric arrive as text); anything else is not one. */
function numberOf(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : undefined;
  if (typeof raw === 'bigint') return Number(raw);
  if (typeof raw === 'string' && /^-?\d+(\.\d+)?$/.test(raw.trim())) return Number(raw);
  return undefined;
}

function failureOf(error: unknown, timeoutMs: number): { status: CheckStatus; summary: string } {
  if (isStatementTimeout(error)) return { status: 'error', summary: `did not finish within the statement timeout (${timeoutMs} ms)` };
  if (error instanceof pg.DatabaseError) {
    // 25006 read_only_sql_transaction: the transaction refused a write.
    if (error.code === '25006') return { status: 'fail', summary: `the query tried to write (25006: ${error.message}): an assertion may only read` };
    if (error.code === '42601' && /multiple commands/.test(error.message)) {
      return { status: 'fail', summary: `the query is more than one statement (42601: ${error.message}): an assertion is one query` };
    }
  }
  const safe = safeError(error);
  return { status: 'error', summary: `the query failed: ${safe.code ? `${safe.code}: ` : ''}${safe.message}` };
}
