import type { EvidenceReport } from '../../lib/evidence/model.ts';
import type { DrillReport } from '../../lib/report/types.ts';

/**
 * Reports carrying what must never reach the page: passwords and keys in free text (a driver's
 * message, an API's error), row values in a check's details, a connection's secret reference, a Slack
 * webhook, and markup that would run if it were not escaped, in every 7th report and the newest
 * (the page shows the newest in full). Every planted value contains "planted".
 */
export function plantedReports(base: readonly EvidenceReport[]): EvidenceReport[] {
  return base.map((entry, index): EvidenceReport => {
    if (index % 7 !== 0 && index !== base.length - 1) return entry;
    const report: DrillReport = {
      ...entry.report,
      status: 'failed',
      window: entry.report.window ? { ...entry.report.window, note: '<img src=x onerror="document.title=\'pwned\'">' } : null,
      checks: [
        { check: 'connection', status: 'fail', summary: 'connect postgres://app:Planted-Pw-1@db.internal:5432/app refused <script>document.title="pwned"</script>', details: { rows: [{ email: 'planted-row@example.com', ssn: 'PLANTED-ROW-VALUE' }] } },
        { check: 'rowCounts', status: 'pass', summary: '2 tables counted', details: { sample: 'planted row value', counts: { users: 4 } } },
      ],
      backup: { used: 'base-20261130', files: 'verified', filesVerifiedBy: 'pg_verifybackup', skipped: [{ name: 'base-20261129', reason: 'PGPASSWORD=PlantedPw4 pg_basebackup failed' }] },
      error: { step: 'verify', kind: 'backup', name: 'CheckFailed', message: 'password=planted-pw-2 host=db user=app; key AKIAPLANTED000000000 rejected; Authorization: Bearer planted.token.3; token=PlantedToken5' },
      copy: { ...entry.report.copy, kept: true, connection: { host: 'rd-app.internal', port: 5432, database: 'app', user: 'app', passwordFrom: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:planted-secret-name' } },
      delivery: { slack: { ok: false, to: 'slack', attempts: 3, error: 'POST https://hooks.slack.com/services/T000/B000/PlantedHook failed', at: entry.report.finishedAt } },
    };
    return { ...entry, report };
  });
}
