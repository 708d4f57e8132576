import type pg from 'pg';

export type CheckStatus = 'pass' | 'fail' | 'error';

/** One configured check's outcome; `check` is its config key, the outcome of each rule sits in `details`. */
export interface CheckResult {
  check: string;
  status: CheckStatus;
  summary: string;
  details: unknown;
}

/** What every check is given besides its own config. */
export interface CheckContext {
  /** The restored copy. */
  copy: pg.ClientConfig;
  /** The production database, used read-only; rowCounts' `asOf` needs it. */
  source?: pg.ClientConfig | undefined;
  /** The point in time the copy was restored to. */
  target: Date;
  /** The target was `latest`: the copy may hold commits archived after the plan read the window. */
  targetIsLatest?: boolean | undefined;
  rpoTargetSeconds: number;
  statementTimeoutMs: number;
  /** Row-count queries in flight at once, per database. @default 4 */
  concurrency?: number | undefined;
  /** CPUs of the machine serving the copy, where known (a copy on this machine): parallel workers only where cores are left over. */
  copyCpus?: number | undefined;
  /** The previous drill's counts (its rowCounts details' `counts`), by table as configured. */
  previousCounts?: Readonly<Record<string, number>> | undefined;
  /** The copy's last replayed commit, where the provider knows it (before any restart of the copy). */
  lastReplayedAt?: Date | null | undefined;
  /** When the drill asked the provider for the copy: commits after it are the copy's own (the provider's housekeeping, ours). */
  copyRequestedAt?: Date | undefined;
  /** The drill's clock when the checks began: the copy's commit times (servers' clocks) are held against the drill's target only where the two agree. */
  checksStartedAt?: Date | undefined;
  /** The provider that made the copy (the config's provider.kind): what evidence of completeness it leaves. */
  provider?: string | undefined;
  /** The copy's foreign tables by oid (the isolation step's list): checks skip them, their rows live elsewhere. */
  foreignTables?: Readonly<Record<string, { table: string; server: string }>> | undefined;
}

/** Worst status first: a proven failure outranks a check that could not finish. */
export function worstStatus(statuses: readonly CheckStatus[]): CheckStatus {
  if (statuses.includes('fail')) return 'fail';
  if (statuses.includes('error')) return 'error';
  return 'pass';
}
