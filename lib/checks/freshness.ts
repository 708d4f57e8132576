import type { FreshnessConfig } from './config.ts';
import { closeSession, isStatementTimeout, isUndefinedObject, openSession, qualifiedTable, quoteIdent, safeError, type SafeError } from './sql.ts';
import type { CheckContext, CheckResult } from './types.ts';
import type pg from 'pg';

export interface FreshnessDetails {
  table: string;
  column: string;
  target: string;
  maxLagSeconds: number;
  /** Target minus the newest value of the column in the copy: the measured RPO. Negative when the newest value lies after the target. */
  dataLagSeconds: number | null;
  /** The copy's last replayed commit, where the provider or the copy itself tells it. */
  lastReplayedAt: string | null;
  /** Target minus lastReplayedAt. */
  replayLagSeconds: number | null;
  error?: SafeError;
  /** Why the column was not read: a foreign table's rows live on another server (the copy never reaches out). */
  skipped?: string;
}

/**
 * The measured RPO: how far the newest data in the copy lies behind the target. Only the lag is
 * reported, not the newest value itself.
 */
export async function checkFreshness(context: CheckContext, config: FreshnessConfig): Promise<CheckResult> {
  const maxLagSeconds = config.maxLagSeconds ?? context.rpoTargetSeconds;
  const details: FreshnessDetails = {
    table: config.table,
    column: config.column,
    target: context.target.toISOString(),
    maxLagSeconds,
    dataLagSeconds: null,
    lastReplayedAt: context.lastReplayedAt ? context.lastReplayedAt.toISOString() : null,
    replayLagSeconds: null,
  };
  const result = (status: CheckResult['status'], summary: string): CheckResult => ({ check: 'freshness', status, summary, details });
  let sql: string;
  try {
    sql = `select (select max(${quoteIdent(config.column)})::timestamptz from ${qualifiedTable(config.table)}) as newest,
                  exists (select from ${qualifiedTable(config.table)}) as has_rows,
                  pg_last_xact_replay_timestamp() as replayed`;
  } catch (error) {
    return result('fail', `${config.table}: ${(error as Error).message}`);
  }

  const client = await openSession(context.copy, { statementTimeoutMs: context.statementTimeoutMs });
  let row: { newest: unknown; has_rows: boolean; replayed: Date | null };
  try {
    const foreign = await foreignTableOf(client, config.table, context);
    if (foreign) {
      details.skipped = 'foreign table';
      return result('pass', `${config.table}: skipped, a foreign table${foreign.server ? ` (server ${foreign.server})` : ''}: its rows live outside the copy and cannot date it (no measured RPO)`);
    }
    row = (await client.query<typeof row>(sql)).rows[0]!;
  } catch (error) {
    details.error = safeError(error);
    if (isUndefinedObject(error)) return result('fail', `${config.table}.${config.column}: ${details.error.message} (in the copy)`);
    if (isStatementTimeout(error)) return result('error', `${config.table}: max(${config.column}) exceeded the statement_timeout of ${context.statementTimeoutMs} ms`);
    return result('error', `${config.table}: reading max(${config.column}) failed: ${details.error.message}`);
  } finally {
    await closeSession(client);
  }

  if (!details.lastReplayedAt && row.replayed instanceof Date) details.lastReplayedAt = row.replayed.toISOString();
  if (details.lastReplayedAt) details.replayLagSeconds = (context.target.getTime() - Date.parse(details.lastReplayedAt)) / 1000;
  if (!row.has_rows) return result('fail', `${config.table} is empty in the copy: no data to measure the RPO by`);
  if (row.newest === null) return result('fail', `${config.table}.${config.column} is null in every row of the copy: no data to measure the RPO by`);
  if (typeof row.newest === 'number') {
    // node-postgres reads 'infinity' as Infinity.
    return result('fail', `${config.table}.${config.column} holds 'infinity': the newest value says nothing about the data's age`);
  }
  if (!(row.newest instanceof Date)) {
    return result('error', `${config.table}.${config.column} is not a timestamp or date column; freshness needs one`);
  }
  const lag = (context.target.getTime() - row.newest.getTime()) / 1000;
  details.dataLagSeconds = lag;
  const lagText = lag < 0 ? `newest ${config.column} lies ${-lag} s after the target (is it a write time?)` : `data lag ${lag} s`;
  if (lag > maxLagSeconds) return result('fail', `${config.table}: ${lagText}, more than the ${maxLagSeconds} s allowed`);
  return result('pass', `${config.table}: ${lagText}, within ${maxLagSeconds} s`);
}

/** The table as a foreign table of the copy (by the isolation step's list, or its kind), else undefined. */
async function foreignTableOf(client: pg.Client, table: string, context: CheckContext): Promise<{ server: string | null } | undefined> {
  const { rows } = await client.query<{ relkind: string; oid: string }>(`select c.relkind::text as relkind, c.oid::int8::text as oid from pg_class c where c.oid = to_regclass($1)`, [qualifiedTable(table)]);
  const found = rows[0];
  if (!found) return undefined;
  const listed = context.foreignTables?.[found.oid];
  if (listed) return { server: listed.server };
  return found.relkind === 'f' ? { server: null } : undefined;
}
