import type { CheckStatus } from '../checks/types.ts';
import type { DrillReport, DrillStatus, RunResult } from './types.ts';

/**
 * The human summary of a run, shared by the terminal and Slack so that they never disagree: both
 * render the lines made here, and nothing else. Labels follow the design's table: RPO (claimed),
 * RPO (measured), restore, verify, RTO, failing checks.
 */
export const STATUS_MARK: Record<DrillStatus, string> = { passed: '✅', failed: '❌', error: '⚠️' };

const CHECK_MARK: Record<CheckStatus, string> = { pass: '✓', fail: '✗', error: '!' };

export function formatSeconds(seconds: number | null): string {
  if (seconds === null) return 'n/a';
  const abs = Math.abs(seconds);
  const text = abs < 60 ? `${abs.toFixed(abs < 10 ? 1 : 0)}s` : abs < 3600 ? `${Math.floor(abs / 60)}m${String(Math.round(abs % 60)).padStart(2, '0')}s` : `${Math.floor(abs / 3600)}h${String(Math.round((abs % 3600) / 60)).padStart(2, '0')}m`;
  return seconds < 0 ? `-${text}` : text;
}

export interface DrillSummary {
  status: DrillStatus;
  headline: string;
  /** The target time, RPO (claimed), RPO (measured), and restore, verify and RTO, each against its target. */
  figures: string[];
  /** The base backup the copy came from, its files' verification and the backups skipped; null where the provider restores from no backup of ours. */
  backup: string | null;
  /** One line per check, in the report's order. */
  checks: { status: CheckStatus; line: string }[];
  /** `failing checks: N`, or null when every check passed. */
  failing: string | null;
  /** Where and why the drill broke off, or null. */
  stopped: string | null;
  /** The copy's fate. */
  copy: string;
  /** Everything above after the headline, in the terminal's order. */
  lines: string[];
}

export function summarizeDrill(report: DrillReport): DrillSummary {
  // A figure over its target is marked, so that a failed drill says which one it missed.
  const against = (value: number | null, target: number) => `${formatSeconds(value)} (target ${formatSeconds(target)})${value !== null && value > target ? ' ❌ over target' : ''}`;
  const measured =
    report.rpo.measuredLagSeconds !== null
      ? against(report.rpo.measuredLagSeconds, report.rpo.targetSeconds)
      : report.checks.some((check) => check.check === 'freshness')
        ? 'n/a (the freshness check found no lag)'
        : report.error
          ? `n/a (the drill stopped at ${report.error.step})`
          : 'n/a (no freshness check)';
  const failingCount = report.checks.filter((check) => check.status !== 'pass').length;
  const figures = [
    `target: ${report.target.requested}${report.target.time && report.target.time !== report.target.requested ? ` = ${report.target.time}` : ''}`,
    `RPO (claimed): ${against(report.rpo.claimedSeconds, report.rpo.targetSeconds)}`,
    `RPO (measured): ${measured}`,
    `restore: ${formatSeconds(report.rto.restoreSeconds)}   verify: ${formatSeconds(report.rto.verifySeconds)}   RTO: ${against(report.rto.totalSeconds, report.rto.targetSeconds)}${contention(report)}`,
  ];
  const skippedBackups = report.backup?.skipped ?? [];
  const skipped = skippedBackups.length
    ? `; skipped ${skippedBackups.slice(0, 5).map((b) => `${b.name} (${b.reason})`).join(', ')}${skippedBackups.length > 5 ? ` and ${skippedBackups.length - 5} more (see the report)` : ''}`
    : '';
  const backup = report.backup ? `backup: ${report.backup.used}${report.backup.tool ? `, restored by ${report.backup.tool}` : ''}, ${report.backup.files}${skipped}` : null;
  const checks = report.checks.map((check) => ({ status: check.status, line: `${CHECK_MARK[check.status]} ${check.check}: ${check.summary}` }));
  const failing = failingCount ? `failing checks: ${failingCount}` : null;
  const stopped = report.error ? `stopped at ${report.error.step}: ${report.error.message}` : null;
  const fate = copyFate(report.copy);
  const copy = `copy: ${report.copy.name ?? 'none'}${report.copy.kept ? ` ${fate}` : fate ? ` (${fate})` : ''}`;
  return {
    status: report.status,
    headline: `${STATUS_MARK[report.status]} ${report.database} (${report.provider}): ${report.status}`,
    figures,
    backup,
    checks,
    failing,
    stopped,
    copy,
    lines: [...figures, ...(backup ? [backup] : []), ...checks.map((check) => check.line), ...(failing ? [failing] : []), ...(stopped ? [stopped] : []), copy],
  };
}

/** One line for the whole run: its worst outcome and which databases did not pass. */
/**
 * What became of the copy, in words, for the terminal, Slack and the evidence page; '' for a report
 * that names no copy. Reports written before `fate` existed are read by their older fields.
 */
export function copyFate(copy: DrillReport['copy']): string {
  const fate = copy.fate ?? (copy.kept ? 'kept' : copy.removed ? 'removed' : copy.made === false ? 'never-made' : copy.name ? 'cleanup-failed' : undefined);
  switch (fate) {
    case 'kept':
      return copy.expiresAt ? `kept until ${copy.expiresAt}` : 'kept';
    case 'removed':
      return 'removed';
    case 'gone':
      return 'already gone: removed by someone else before cleanup';
    case 'never-made':
      return 'never made: nothing to remove';
    case 'left-to-janitor':
    case 'cleanup-failed':
      return 'NOT removed: the janitor will';
    default:
      return '';
  }
}

export function summarizeRun(result: RunResult): string {
  const total = result.drills.length;
  const notPassed = result.drills.filter((report) => report.status !== 'passed');
  const databases = total === 1 ? 'database' : 'databases';
  if (notPassed.length === 0) return `${STATUS_MARK.passed} restore-drill: ${total === 1 ? 'the' : `all ${total}`} ${databases} passed`;
  const names = notPassed.map((report) => `${report.database} ${report.status}`).join(', ');
  return `${STATUS_MARK[result.status]} restore-drill: ${notPassed.length} of ${total} ${databases} did not pass (${names})`;
}

export function formatRunText(result: RunResult): string {
  return result.drills
    .map((report) => {
      const { headline, lines } = summarizeDrill(report);
      return [headline, ...lines.map((line) => `   ${line}`)].join('\n');
    })
    .join('\n\n');
}

/** Local drills beyond the cores slow each other: the times say so wherever they are shown. */
function contention(report: DrillReport): string {
  const at = report.concurrency;
  if (!at || report.provider !== 'local' || at.drillsAtOnce <= at.cores) return '';
  return ` (measured with ${at.drillsAtOnce} drills at once on ${at.cores} core${at.cores === 1 ? '' : 's'}: slower than one alone)`;
}
