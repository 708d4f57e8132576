import type pg from 'pg';
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
  /**
   * The copy's newest commit and what dates it: the last commit replayed in recovery (exact, where the
   * server or the provider still knows it), else pg_last_committed_xact() where track_commit_timestamp
   * is on (it counts commits made after promotion too), else nothing here (the freshness check's column).
   */
  newestCommit?: { at: string; evidence: string; secondsBeforeTarget: number } | { at: null; evidence: string };
}

/**
 * Proves the copy answers queries as the checks' user, and says which server, timeline and replay
 * position the other checks looked at. Runs first, in every drill, with or without other checks.
 */
export async function checkConnection(context: CheckContext): Promise<CheckResult> {
  const client = await openSession(context.copy, { statementTimeoutMs: context.statementTimeoutMs });
  try {
    const { rows } = await client.query<{ version: string; num: string; in_recovery: boolean; replay: string | null; replayed: Date | null }>(
      `select version() as version, current_setting('server_version_num') as num, pg_is_in_recovery() as in_recovery,
              pg_last_wal_replay_lsn()::text as replay, pg_last_xact_replay_timestamp() as replayed`,
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
    details.newestCommit = await newestCommit(client, row.replayed ?? context.lastReplayedAt ?? null, context.target);
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
    const newest = details.newestCommit;
    // Only the replayed commit is exact: commits after promotion (a provider's own housekeeping) may follow the others.
    // `latest` replays whatever the archive holds by then, later than the window the plan read: only a time target bounds the copy.
    if (!context.targetIsLatest && newest.at !== null && newest.evidence.startsWith('pg_last_xact_replay_timestamp') && Date.parse(newest.at) > context.target.getTime()) {
      return {
        check: 'connection',
        status: 'fail',
        summary: `${server} answers, but its newest commit (${newest.at}) is after the target ${context.target.toISOString()}: the copy was restored past the point asked for`,
        details,
      };
    }
    return { check: 'connection', status: 'pass', summary: `${server}, promoted on ${timeline}, ${replayed}`, details };
  } finally {
    await closeSession(client);
  }
}

async function newestCommit(client: pg.Client, replayed: Date | null, target: Date): Promise<NonNullable<ConnectionDetails['newestCommit']>> {
  const dated = (at: Date, evidence: string) => ({ at: at.toISOString(), evidence, secondsBeforeTarget: Math.round(target.getTime() - at.getTime()) / 1000 });
  if (replayed) return dated(replayed, 'pg_last_xact_replay_timestamp(): the last commit replayed in recovery');
  try {
    const { rows } = await client.query<{ at: Date | null }>('select timestamp as at from pg_last_committed_xact()');
    if (rows[0]?.at) return dated(rows[0].at, 'pg_last_committed_xact() (track_commit_timestamp = on): commits after promotion count too');
  } catch {
    // 55000 when track_commit_timestamp is off: no commit times are kept.
  }
  return { at: null, evidence: 'none on the copy (no replay timestamp, track_commit_timestamp off): the freshness check\'s column dates the data' };
}
