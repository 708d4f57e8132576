import type { ChecksConfig } from './config.ts';
import { checkFreshness } from './freshness.ts';
import { checkLedger } from './ledger.ts';
import { checkRowCounts } from './rowCounts.ts';
import { safeError } from './sql.ts';
import type { CheckContext, CheckResult } from './types.ts';

export type RunChecksContext = Omit<CheckContext, 'statementTimeoutMs' | 'concurrency'>;

/**
 * Runs every configured check against the copy, all at once, and returns one result per configured
 * check in config order (ledger, rowCounts, freshness). A check that throws becomes an `error`
 * result; it never stops the others.
 */
export async function runChecks(context: RunChecksContext, config: ChecksConfig): Promise<CheckResult[]> {
  const full: CheckContext = { ...context, statementTimeoutMs: config.statementTimeoutMs, concurrency: config.concurrency };
  const runs: { check: string; run: () => Promise<CheckResult> }[] = [];
  if (config.ledger) runs.push({ check: 'ledger', run: () => checkLedger(full, config.ledger!) });
  if (config.rowCounts) runs.push({ check: 'rowCounts', run: () => checkRowCounts(full, config.rowCounts!) });
  if (config.freshness) runs.push({ check: 'freshness', run: () => checkFreshness(full, config.freshness!) });
  return Promise.all(runs.map(({ check, run }) => guarded(check, run)));
}

async function guarded(check: string, run: () => Promise<CheckResult>): Promise<CheckResult> {
  try {
    return await run();
  } catch (error) {
    const safe = safeError(error);
    return { check, status: 'error', summary: `the ${check} check could not finish: ${safe.message}`, details: { error: safe } };
  }
}
