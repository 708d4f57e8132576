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
   * server or the provider still knows it), else the newest commit timestamp from before the copy was
   * asked for where track_commit_timestamp is on (commits the copy made itself come later), else
   * pg_last_committed_xact() (when that moment is unknown: it counts commits after promotion too), else
   * nothing here (the freshness check's column).
   */
  newestCommit?: { at: string; evidence: string; secondsBeforeTarget: number } | { at: null; evidence: string };
  /**
   * Whether the newest commit was held against the target: for RDS instances, whose source commits at
   * least every 5 minutes (RDS's own heartbeat), so a quiet source cannot pass for a short copy. A local
   * copy is judged by the engine's exact replay position instead; Aurora and Neon sources may be quiet.
   */
  completeness?: { judged: true; toleranceSeconds: number; shortBySeconds: number } | { judged: false; why: string };
  /** The copy's clock minus the drill's, as the checks began (network latency included). */
  clockSkewSeconds?: number;
}

/** Clocks further apart than this (NTP keeps servers within milliseconds) make commit times unfit to hold against the drill's target. */
const MAX_CLOCK_SKEW_SECONDS = 60;

/**
 * Providers whose sources are never quiet for long, with how long at most: RDS for PostgreSQL writes a
 * heartbeat to its rdsadmin database every 5 minutes (a commit, cluster-wide), plus a minute for its
 * timing and the copy's clock.
 */
const QUIET_AT_MOST_SECONDS: Readonly<Record<string, number>> = { rds: 360 };
/** Commits scanned back from the copy's next transaction id for the newest one before the copy was asked for. */
const COMMIT_SCAN_XIDS = 100_000;

/**
 * Proves the copy answers queries as the checks' user, and says which server, timeline and replay
 * position the other checks looked at. Runs first, in every drill, with or without other checks.
 */
export async function checkConnection(context: CheckContext): Promise<CheckResult> {
  const client = await openSession(context.copy, { statementTimeoutMs: context.statementTimeoutMs });
  try {
    const { rows } = await client.query<{ version: string; num: string; in_recovery: boolean; replay: string | null; replayed: Date | null; server_now: Date }>(
      `select version() as version, current_setting('server_version_num') as num, pg_is_in_recovery() as in_recovery,
              pg_last_wal_replay_lsn()::text as replay, pg_last_xact_replay_timestamp() as replayed, clock_timestamp() as server_now`,
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
    details.newestCommit = await newestCommit(client, row.replayed ?? context.lastReplayedAt ?? null, context.target, context.copyRequestedAt);
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
    if (context.checksStartedAt) details.clockSkewSeconds = Math.round(row.server_now.getTime() - context.checksStartedAt.getTime()) / 1000;
    details.completeness = completenessOf(newest, context, details.clockSkewSeconds);
    const judged = details.completeness;
    if (judged.judged && judged.shortBySeconds > judged.toleranceSeconds && newest.at !== null) {
      return {
        check: 'connection',
        status: 'fail',
        summary:
          `${server} answers, but its newest commit (${newest.at}, ${newest.evidence.split(':')[0]}) lies ${judged.shortBySeconds} s before the target ${context.target.toISOString()}, ` +
          `more than the ${judged.toleranceSeconds} s allowed: the copy stops short of the point asked for (its source commits at least every ${QUIET_AT_MOST_SECONDS[context.provider!]} s)`,
        details,
      };
    }
    const lag = newest.at !== null && !judged.judged && context.provider !== 'local' && context.provider !== undefined
      ? `; newest commit ${(newest as { secondsBeforeTarget: number }).secondsBeforeTarget} s before the target (${newest.evidence.split(' (')[0]!.split(':')[0]}), not judged: ${judged.why}`
      : '';
    return { check: 'connection', status: 'pass', summary: `${server}, promoted on ${timeline}, ${replayed}${lag}`, details };
  } finally {
    await closeSession(client);
  }
}

async function newestCommit(client: pg.Client, replayed: Date | null, target: Date, copyRequestedAt: Date | undefined): Promise<NonNullable<ConnectionDetails['newestCommit']>> {
  const dated = (at: Date, evidence: string) => ({ at: at.toISOString(), evidence, secondsBeforeTarget: Math.round(target.getTime() - at.getTime()) / 1000 });
  if (replayed) return dated(replayed, 'pg_last_xact_replay_timestamp(): the last commit replayed in recovery');
  try {
    if (copyRequestedAt) {
      const at = await newestCommitBefore(client, copyRequestedAt);
      if (at) {
        return dated(
          at,
          `commit timestamps (track_commit_timestamp = on): the newest commit before the copy was asked for (${copyRequestedAt.toISOString()}); ` +
            'commits the copy made itself after promotion (the provider\'s, ours) come later and are left out',
        );
      }
      return {
        at: null,
        evidence: `commit timestamps (track_commit_timestamp = on): no commit before the copy was asked for among its last ${COMMIT_SCAN_XIDS} transaction ids; the freshness check's column dates the data`,
      };
    } else {
      const { rows } = await client.query<{ at: Date | null }>('select timestamp as at from pg_last_committed_xact()');
      if (rows[0]?.at) return dated(rows[0].at, 'pg_last_committed_xact() (track_commit_timestamp = on): commits after promotion count too');
    }
  } catch {
    // 55000 when track_commit_timestamp is off: no commit times are kept.
  }
  return { at: null, evidence: 'none on the copy (no replay timestamp, track_commit_timestamp off): the freshness check\'s column dates the data' };
}

/**
 * The newest commit timestamp before `bound`, among the last COMMIT_SCAN_XIDS transaction ids: the copy's
 * own commits (after promotion) are the newest ids and are left out by their time. Reads the next id from
 * a snapshot, which assigns none (txid_current() would).
 */
async function newestCommitBefore(client: pg.Client, bound: Date): Promise<Date | null> {
  const { rows } = await client.query<{ at: Date | null }>(
    `with next as (select txid_snapshot_xmax(txid_current_snapshot()) as xid)
     select max(ts) as at
       from (select pg_xact_commit_timestamp(((next.xid - g) % 4294967296)::text::xid) as ts
               from next, generate_series(1::int8, least($2::int8, next.xid - 1)) as g
              where (next.xid - g) % 4294967296 >= 3) commits
      where ts < $1`,
    [bound, COMMIT_SCAN_XIDS],
  );
  return rows[0]?.at ?? null;
}

function completenessOf(newest: NonNullable<ConnectionDetails['newestCommit']>, context: CheckContext, skew: number | undefined): NonNullable<ConnectionDetails['completeness']> {
  if (context.provider === undefined || context.provider === 'local') return { judged: false, why: 'the engine compares where replay ended with where it had to end' };
  if (newest.at === null) return { judged: false, why: 'no commit time on the copy: the freshness check\'s column measures it' };
  if (skew !== undefined && Math.abs(skew) > MAX_CLOCK_SKEW_SECONDS) {
    return { judged: false, why: `the copy's clock is ${skew} s from the drill's: its commit times cannot be held against the target` };
  }
  const quiet = QUIET_AT_MOST_SECONDS[context.provider];
  if (quiet === undefined) return { judged: false, why: `a ${context.provider} source may write nothing for longer than the RPO target, which looks the same; checks.freshness on a table written often measures it` };
  return { judged: true, toleranceSeconds: Math.max(context.rpoTargetSeconds, quiet), shortBySeconds: Math.max(0, newest.secondsBeforeTarget) };
}
