import type { CheckResult } from '../checks/types.ts';
import type { DrillReport, DrillStatus } from '../report/types.ts';

/** The drill's status from its parts, as the design's table defines it. */
export function drillStatus(report: Pick<DrillReport, 'error' | 'checks' | 'rpo' | 'rto'>): DrillStatus {
  if (report.error) return report.error.kind === 'backup' ? 'failed' : 'error';
  if (report.checks.some((check: CheckResult) => check.status === 'error')) return 'error';
  if (report.checks.some((check) => check.status === 'fail')) return 'failed';
  if (report.rpo.compliant === false || report.rto.compliant === false) return 'failed';
  return 'passed';
}

const RANK: Record<DrillStatus, number> = { passed: 0, failed: 1, error: 2 };

export function worstDrillStatus(statuses: readonly DrillStatus[]): DrillStatus {
  return statuses.reduce<DrillStatus>((worst, status) => (RANK[status] > RANK[worst] ? status : worst), 'passed');
}

/**
 * The CLI's exit code: 2 when any drill was refused as bad input (nothing was created for it),
 * else 3 when the tool could not finish one, 1 when one failed, 0 when all passed.
 */
export function exitCodeOf(reports: readonly DrillReport[]): number {
  if (reports.some((report) => report.error?.kind === 'input')) return 2;
  const worst = worstDrillStatus(reports.map((report) => report.status));
  return worst === 'error' ? 3 : worst === 'failed' ? 1 : 0;
}
