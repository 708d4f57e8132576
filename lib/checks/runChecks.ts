import type { ChecksConfig } from './config.ts';
import { checkConnection } from './connection.ts';
import { isolateCopy, type IsolationDetails } from './foreign.ts';
import { checkFreshness } from './freshness.ts';
import { checkIntegrity } from './integrity.ts';
import { checkLedger } from './ledger.ts';
import { checkRowCounts } from './rowCounts.ts';
import { checkSchema } from './schema.ts';
import { safeError } from './sql.ts';
import { checkSqlAssertions } from './sqlAssertions.ts';
import type { CheckContext, CheckResult } from './types.ts';

export type RunChecksContext = Omit<CheckContext, 'statementTimeoutMs' | 'concurrency'>;

/**
 * Runs the connection check first, always (a drill with no checks configured still proves the copy
 * answers), then isolation (foreign.ts: the copy's foreign servers and dblink disabled; reported only
 * where the copy has foreign servers, foreign tables or dblink), then every configured check against
 * the copy, all at once, and returns one result per check: connection, isolation, then config order
 * (ledger, rowCounts, freshness, integrity, sql, schema). A check that throws becomes an `error` result;
 * it never stops the others. A copy that did not answer, or could still reach another server, runs no other check.
 */
export async function runChecks(context: RunChecksContext, config: ChecksConfig, options: { deadline?: Date | undefined } = {}): Promise<CheckResult[]> {
  const full: CheckContext = { ...context, statementTimeoutMs: config.statementTimeoutMs, concurrency: config.concurrency };
  const runs: { check: string; run: () => Promise<CheckResult> }[] = [];
  if (config.ledger) runs.push({ check: 'ledger', run: () => checkLedger(full, config.ledger!) });
  if (config.rowCounts) runs.push({ check: 'rowCounts', run: () => checkRowCounts(full, config.rowCounts!) });
  if (config.freshness) runs.push({ check: 'freshness', run: () => checkFreshness(full, config.freshness!) });
  if (config.integrity) runs.push({ check: 'integrity', run: () => checkIntegrity(full, config.integrity!) });
  if (config.sql) runs.push({ check: 'sql', run: () => checkSqlAssertions(full, config.sql!) });
  if (config.schema) runs.push({ check: 'schema', run: () => checkSchema(full, config.schema!, config.ledger) });
  const connection = await guarded('connection', () => checkConnection(full), options.deadline);
  const notRun = (why: string) => runs.map(({ check }): CheckResult => ({ check, status: 'error', summary: `the ${check} check could not finish: not run, ${why}`, details: {} }));
  if (connection.status === 'error') return [connection, ...notRun(`the copy did not answer the connection check (${connection.summary.replace(/^the connection check could not finish: /, '')})`)];
  // Before any check that reads data: the copy's foreign servers and dblink would read production.
  const isolation = await guarded('isolation', () => isolateCopy(full), options.deadline);
  if (isolation.status !== 'pass') return [connection, isolation, ...notRun('the copy could still reach another server (see the isolation check)')];
  const isolated = isolation.details as IsolationDetails;
  full.foreignTables = Object.fromEntries(isolated.foreignTables.map(({ oid, table, server }) => [oid, { table, server }]));
  // Reported where there was something to disable or skip; a copy without any has nothing to say here.
  const reported = isolated.servers.length > 0 || isolated.foreignTables.length > 0 || isolated.dblink.installed || isolated.dblink.functions.length > 0 || isolated.subscriptions.length > 0 || isolated.eventTriggers.length > 0 ? [isolation] : [];
  return [connection, ...reported, ...(await Promise.all(runs.map(({ check, run }) => guarded(check, run, options.deadline))))];
}

async function guarded(check: string, run: () => Promise<CheckResult>, deadline: Date | undefined): Promise<CheckResult> {
  try {
    return await (deadline ? beforeDeadline(check, run(), deadline) : run());
  } catch (error) {
    const safe = safeError(error);
    return { check, status: 'error', summary: `the ${check} check could not finish: ${safe.message}`, details: { error: safe } };
  }
}

/**
 * A check still running at the deadline (a Lambda function's time limit) becomes an error, so that
 * the results that did arrive are reported instead of the whole step being cut off.
 */
async function beforeDeadline(check: string, work: Promise<CheckResult>, deadline: Date): Promise<CheckResult> {
  const leftMs = Math.max(0, deadline.getTime() - Date.now());
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({
          check,
          status: 'error',
          summary: `the ${check} check had not finished when the time left (${Math.round(leftMs / 1000)} s) ran out: lower checks.statementTimeoutMs, raise checks.concurrency or check fewer tables`,
          details: { deadline: deadline.toISOString() },
        }),
      leftMs,
    );
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
