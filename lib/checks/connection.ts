import { closeSession, openSession, safeError, type SafeError } from './sql.ts';
import type { CheckContext, CheckResult } from './types.ts';

export interface ConnectionDetails {
  /** `select version()`, as the server says it. */
  version: string;
  /** server_version_num, e.g. 150010. */
  serverVersionNum: number;
  inRecovery: boolean;
  /** The timeline the copy writes on (a promoted copy starts one of its own), null where the role may not read it. */
  timeline: number | null;
  /**
   * pg_last_wal_replay_lsn(): where recovery stopped replaying. It stays put after promotion, and is
   * null on a server that has restarted since (RDS restarts a restored instance) or was never in recovery.
   */
  replayLsn: string | null;
  /** pg_current_wal_lsn() on a promoted copy. */
  currentLsn: string | null;
  /** Why the timeline could not be read (a role without the right to read pg_control). */
  timelineError?: SafeError;
}

/**
 * Proves the copy answers queries as the checks' user, and says which server, timeline and replay
 * position the other checks looked at. Runs first, in every drill, with or without other checks.
 */
export async function checkConnection(context: CheckContext): Promise<CheckResult> {
  const client = await openSession(context.copy, { statementTimeoutMs: context.statementTimeoutMs });
  try {
    const { rows } = await client.query<{ version: string; num: string; in_recovery: boolean; replay: string | null }>(
      `select version() as version, current_setting('server_version_num') as num, pg_is_in_recovery() as in_recovery,
              pg_last_wal_replay_lsn()::text as replay`,
    );
    const row = rows[0]!;
    const details: ConnectionDetails = {
      version: row.version,
      serverVersionNum: Number(row.num),
      inRecovery: row.in_recovery,
      timeline: null,
      replayLsn: row.replay,
      currentLsn: null,
    };
    try {
      // pg_current_wal_lsn() and pg_walfile_name() refuse to run in recovery; the checkpoint's timeline is what's left there.
      const sql = row.in_recovery
        ? `select timeline_id::int as timeline, null::text as current from pg_control_checkpoint()`
        : `select ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int as timeline, pg_current_wal_lsn()::text as current`;
      const { rows: position } = await client.query<{ timeline: number; current: string | null }>(sql);
      details.timeline = position[0]?.timeline ?? null;
      details.currentLsn = position[0]?.current ?? null;
    } catch (error) {
      // A role without the right to read pg_control (some managed services): the connection itself is proven.
      details.timelineError = safeError(error);
    }
    const server = /^PostgreSQL \S+/.exec(row.version)?.[0] ?? row.version;
    const timeline = details.timeline === null ? 'timeline unknown' : `timeline ${details.timeline}`;
    const replayed = details.replayLsn ? `replayed to ${details.replayLsn}` : 'replay position unknown (the server was not in recovery since it started)';
    if (row.in_recovery) {
      return {
        check: 'connection',
        status: 'fail',
        summary: `${server} answers but is still in recovery (read-only, ${timeline}, ${replayed}): the copy was never promoted`,
        details,
      };
    }
    return { check: 'connection', status: 'pass', summary: `${server}, promoted on ${timeline}, ${replayed}`, details };
  } finally {
    await closeSession(client);
  }
}
