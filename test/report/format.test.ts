import { describe, expect, test } from 'vitest';
import { formatRunText, summarizeDrill, summarizeRun } from '../../lib/report/format.ts';
import { slackMessage } from '../../lib/report/slack.ts';
import type { RunResult } from '../../lib/report/types.ts';
import { failedReport, sampleReport } from './helpers.ts';

describe('terminal summary', () => {
  test('a passed drill: every figure against its target, every check, the copy', () => {
    const text = formatRunText({ status: 'passed', drills: [sampleReport()] });
    expect(text).toBe(
      [
        '✅ app (local): passed',
        '   target: latest = 2026-11-25T19:00:00.000Z',
        '   RPO (claimed): 43s (target 5m00s)',
        '   RPO (measured): 12s (target 5m00s)',
        '   restore: 1m01s   verify: 4.5s   RTO: 1m06s (target 1h00m)',
        '   ✓ ledger: 12 migrations applied and matching',
        '   ✓ rowCounts: 3 tables counted',
        '   ✓ freshness: newest users.created_at 12.3s before the target',
        '   copy: rd-app-20261125190001-ab12 (removed)',
      ].join('\n'),
    );
  });

  test('a failed drill counts its failing checks and says where it stopped', () => {
    const report = { ...failedReport(), error: { step: 'verify' as const, message: 'statement timeout', kind: 'tool' as const } };
    const summary = summarizeDrill(report);
    expect(summary.failing).toBe('failing checks: 1');
    expect(summary.stopped).toBe('stopped at verify: statement timeout');
    expect(summary.lines).toContain('RPO (measured): n/a (the drill stopped at verify)');
    expect(summarizeDrill({ ...report, error: undefined }).lines).toContain('RPO (measured): n/a (no freshness check)');
    // The figure a failed drill missed is marked.
    const late = summarizeDrill({ ...sampleReport(), rpo: { ...sampleReport().rpo, claimedSeconds: 326 } });
    expect(late.lines).toContain('RPO (claimed): 5m26s (target 5m00s) ❌ over target');
    expect(summary.lines.at(-1)).toBe('copy: rd-billing-20261125190001-cd34 (removed)');
  });
});

describe("the copy's fate", () => {
  test('each fate in words; a report from before fate existed is read by its older fields', () => {
    const copy = sampleReport().copy;
    const line = (change: Partial<typeof copy>) => summarizeDrill(sampleReport({ copy: { ...copy, ...change } })).copy;
    expect(line({ removed: false, fate: 'gone' })).toBe('copy: rd-app-20261125190001-ab12 (already gone: removed by someone else before cleanup)');
    expect(line({ removed: false, fate: 'cleanup-failed' })).toBe('copy: rd-app-20261125190001-ab12 (NOT removed: the janitor will)');
    expect(line({ removed: false, fate: 'left-to-janitor' })).toBe('copy: rd-app-20261125190001-ab12 (NOT removed: the janitor will)');
    expect(line({ removed: false, kept: true, fate: 'kept', expiresAt: '2026-11-26T19:00:00.000Z' })).toBe('copy: rd-app-20261125190001-ab12 kept until 2026-11-26T19:00:00.000Z');
    expect(line({ name: undefined, removed: false, made: false, fate: undefined })).toBe('copy: none (never made: nothing to remove)');
    expect(line({ removed: false, fate: undefined })).toBe('copy: rd-app-20261125190001-ab12 (NOT removed: the janitor will)');
  });
});

describe('the base backup and the connection', () => {
  test('the summary names the backup used, how its files were verified, each skipped one; the connection check is a line like any check', () => {
    const report = sampleReport({
      backup: { used: 'base-2', files: '938 files verified against the backup_manifest by pg_verifybackup (size and checksum)', filesVerifiedBy: 'pg_verifybackup', skipped: [{ name: 'base-3', reason: 'it has no backup_label' }, { name: 'base-1', reason: 'base-2 is newer and ends before the target' }] },
      checks: [{ check: 'connection', status: 'pass', summary: 'PostgreSQL 15.10, promoted on timeline 2, replayed to 0/5000A28', details: {} }, ...sampleReport().checks],
    });
    const summary = summarizeDrill(report);
    expect(summary.backup).toBe('backup: base-2, 938 files verified against the backup_manifest by pg_verifybackup (size and checksum); skipped base-3 (it has no backup_label), base-1 (base-2 is newer and ends before the target)');
    expect(summary.lines.slice(4, 6)).toEqual([summary.backup, '✓ connection: PostgreSQL 15.10, promoted on timeline 2, replayed to 0/5000A28']);
    const slack = slackMessage({ status: 'passed', drills: [report] }).blocks.find((block) => block.type === 'section');
    expect(slack?.type === 'section' && slack.text.text).toContain('backup: base-2, 938 files verified');
    // A provider that restores from no backup of ours (RDS, Neon) has no such line.
    expect(summarizeDrill(sampleReport()).backup).toBeNull();
  });
});

describe('run headline', () => {
  test('names the databases that did not pass', () => {
    expect(summarizeRun({ status: 'passed', drills: [sampleReport()] })).toBe('✅ restore-drill: the database passed');
    expect(summarizeRun({ status: 'failed', drills: [sampleReport(), failedReport()] })).toBe('❌ restore-drill: 1 of 2 databases did not pass (billing failed)');
  });
});

describe('Slack and terminal never disagree', () => {
  test('every line of the Slack message is a line of the terminal summary', () => {
    const result: RunResult = { status: 'failed', drills: [sampleReport(), failedReport()] };
    const terminal = formatRunText(result).split('\n').map((line) => line.trim());
    const message = slackMessage(result);
    const sections = message.blocks.filter((block) => block.type === 'section');
    expect(sections).toHaveLength(2);
    for (const section of sections) {
      const lines = section.text.text.split('\n').map((line) => line.replace(/^\*(.*)\*$/, '$1').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'));
      for (const line of lines) expect(terminal).toContain(line);
    }
  });
});

// Issue 14, item 15: more local drills at once than cores slowed every drill without a word.
describe('drills at once above the cores', () => {
  test('the RTO line says the times were measured under contention; at or below the cores it says nothing', () => {
    const crowded = summarizeDrill(sampleReport({ concurrency: { configured: 4, drillsAtOnce: 4, cores: 2 } }));
    const alone = summarizeDrill(sampleReport({ concurrency: { configured: 2, drillsAtOnce: 2, cores: 2 } }));

    expect(crowded.figures.at(-1)).toBe('restore: 1m01s   verify: 4.5s   RTO: 1m06s (target 1h00m) (measured with 4 drills at once on 2 cores: slower than one alone)');
    expect(alone.figures.at(-1)).toBe('restore: 1m01s   verify: 4.5s   RTO: 1m06s (target 1h00m)');
  });
});
