import type { DrillReport, DrillStatus, RunResult } from './types.ts';

/**
 * The human summary of a run, shared by the terminal and (later) Slack so that they never disagree.
 * Labels follow the design's table: RPO (claimed), RPO (measured), restore, verify, RTO, failing checks.
 */
export const STATUS_MARK: Record<DrillStatus, string> = { passed: '✅', failed: '❌', error: '⚠️' };

export function formatSeconds(seconds: number | null): string {
  if (seconds === null) return 'n/a';
  const abs = Math.abs(seconds);
  const text = abs < 60 ? `${abs.toFixed(abs < 10 ? 1 : 0)}s` : abs < 3600 ? `${Math.floor(abs / 60)}m${String(Math.round(abs % 60)).padStart(2, '0')}s` : `${Math.floor(abs / 3600)}h${String(Math.round((abs % 3600) / 60)).padStart(2, '0')}m`;
  return seconds < 0 ? `-${text}` : text;
}

export interface DrillSummary {
  headline: string;
  lines: string[];
}

export function summarizeDrill(report: DrillReport): DrillSummary {
  const against = (value: number | null, target: number) => `${formatSeconds(value)} (target ${formatSeconds(target)})`;
  const failing = report.checks.filter((check) => check.status !== 'pass');
  const lines = [
    `target: ${report.target.requested}${report.target.time && report.target.time !== report.target.requested ? ` = ${report.target.time}` : ''}`,
    `RPO (claimed): ${against(report.rpo.claimedSeconds, report.rpo.targetSeconds)}`,
    `RPO (measured): ${report.rpo.measuredLagSeconds === null ? 'n/a (no freshness check)' : against(report.rpo.measuredLagSeconds, report.rpo.targetSeconds)}`,
    `restore: ${formatSeconds(report.rto.restoreSeconds)}   verify: ${formatSeconds(report.rto.verifySeconds)}   RTO: ${against(report.rto.totalSeconds, report.rto.targetSeconds)}`,
    ...report.checks.map((check) => `${check.status === 'pass' ? '✓' : check.status === 'fail' ? '✗' : '!'} ${check.check}: ${check.summary}`),
    ...(failing.length ? [`failing checks: ${failing.length}`] : []),
    ...(report.error ? [`stopped at ${report.error.step}: ${report.error.message}`] : []),
    `copy: ${report.copy.name ?? 'none'}${report.copy.kept ? ` kept until ${report.copy.expiresAt}` : report.copy.removed ? ' (removed)' : report.copy.name ? ' (NOT removed: the janitor will)' : ''}`,
  ];
  return { headline: `${STATUS_MARK[report.status]} ${report.database} (${report.provider}): ${report.status}`, lines };
}

export function formatRunText(result: RunResult): string {
  return result.drills
    .map((report) => {
      const { headline, lines } = summarizeDrill(report);
      return [headline, ...lines.map((line) => `   ${line}`)].join('\n');
    })
    .join('\n\n');
}
