/**
 * How long a drill's copy lives when nobody keeps it: its expiry (RDS's restore-drill:expires-at tag,
 * Neon's expires_at and annotation, a local copy's marker) must outlast everything the drill does with
 * it, or the janitor removes a copy still being verified. A local copy's lease is renewed on top of it
 * while its drill lives (the CLI's checks have no time limit).
 */

/** The Verify functions' time limit in the stack. */
export const VERIFY_LIMIT_SECONDS = 900;
/** The Cleanup function's time limit: its wait for a delete RDS refuses (180 s) plus two minutes. */
export const CLEANUP_LIMIT_SECONDS = 300;
/** One task's retries in the state machine (two policies of 6 attempts each, from 2 s, doubling). */
export const TASK_RETRY_SECONDS = 2 * (2 + 4 + 8 + 16 + 32 + 64);
/** Time to spare: Start's own limit, the Map waiting for a slot, the polls after the timeout. */
export const COPY_LIFETIME_MARGIN_SECONDS = 3600;

/** The expiry of a copy started at `startAt` for a database given `restoreTimeoutSeconds`. */
export function drillCopyExpiry(startAt: Date, restoreTimeoutSeconds: number): Date {
  const seconds = restoreTimeoutSeconds + VERIFY_LIMIT_SECONDS + TASK_RETRY_SECONDS + CLEANUP_LIMIT_SECONDS + TASK_RETRY_SECONDS + COPY_LIFETIME_MARGIN_SECONDS;
  return new Date(startAt.getTime() + seconds * 1000);
}
