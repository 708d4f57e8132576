import type { KeyObject } from 'node:crypto';
import type { EvidenceReport } from '../../lib/evidence/model.ts';
import { signReport } from '../../lib/evidence/signing.ts';
import type { DrillReport } from '../../lib/report/types.ts';
import { seededRandom } from '../support/random.ts';

const DAY_MS = 86_400_000;


const round = (value: number) => Math.round(value * 1000) / 1000;

export interface HistoryOptions {
  databases: readonly string[];
  days: number;
  /** The last day's drill starts on this day at 03:00 UTC plus a little jitter. */
  lastDay: string;
  seed?: number;
  /** Fraction of drills that fail (a check or a missed target) and that stop with an error. */
  failRate?: number;
  errorRate?: number;
  /** Fraction of days without a drill. */
  skipRate?: number;
  signWith?: KeyObject;
}

/** One drill report a day per database, as the CLI writes them, with failures, errors and gaps. */
export function history(options: HistoryOptions): EvidenceReport[] {
  const next = seededRandom(options.seed ?? 17);
  const last = Date.parse(`${options.lastDay}T03:00:00Z`);
  const reports: EvidenceReport[] = [];
  options.databases.forEach((database, databaseIndex) => {
    const rtoTarget = databaseIndex % 2 ? 1800 : 3600;
    const baseRestore = 240 + databaseIndex * 150;
    for (let day = options.days - 1; day >= 0; day--) {
      if (day > 0 && next() < (options.skipRate ?? 0.03)) continue;
      const started = last - day * DAY_MS + Math.floor(next() * 240_000);
      const roll = next();
      const status: DrillReport['status'] = roll < (options.errorRate ?? 0.02) ? 'error' : roll < (options.errorRate ?? 0.02) + (options.failRate ?? 0.05) ? 'failed' : 'passed';
      const claimed = round(60 + next() * 150 + (status === 'failed' && next() < 0.5 ? 400 : 0));
      const measured = round(5 + next() * 80);
      const restore = round(baseRestore * (0.8 + next() * 0.5));
      const verify = round(15 + next() * 40);
      const stopped = status === 'error';
      const failingCheck = status === 'failed' && claimed <= 300;
      const startedAt = new Date(started).toISOString();
      const target = new Date(started - 1000).toISOString();
      const report: DrillReport = {
        database,
        provider: databaseIndex % 3 === 2 ? 'neon' : 'rds',
        status,
        target: { requested: 'latest', time: target },
        window: { earliest: new Date(started - 7 * DAY_MS).toISOString(), latest: new Date(started - claimed * 1000).toISOString() },
        rpo: { targetSeconds: 300, claimedSeconds: claimed, measuredLagSeconds: stopped ? null : measured, compliant: stopped ? null : claimed <= 300 && measured <= 300 },
        rto: {
          targetSeconds: rtoTarget,
          restoreSeconds: stopped ? null : restore,
          verifySeconds: stopped ? null : verify,
          totalSeconds: stopped ? null : round(restore + verify),
          compliant: stopped ? null : restore + verify <= rtoTarget,
        },
        checks: stopped
          ? []
          : [
              { check: 'connection', status: 'pass', summary: 'PostgreSQL 15.8, out of recovery, timeline 2', details: {} },
              failingCheck
                ? { check: 'ledger', status: 'fail', summary: '1 hash mismatch: 0007_orders_index (file edited after it was applied)', details: { mismatched: ['0007_orders_index'] } }
                : { check: 'ledger', status: 'pass', summary: '14 migrations applied and matching', details: {} },
              { check: 'rowCounts', status: 'pass', summary: '4 tables counted, none below its minimum', details: { counts: { users: 1200 + day, orders: 54_000 + day * 31 } } },
              { check: 'freshness', status: 'pass', summary: `newest orders.created_at ${measured.toFixed(1)}s before the target`, details: { dataLagSeconds: measured } },
            ],
        copy: { name: `rd-${database}-${startedAt.replace(/[-:T]/g, '').slice(0, 14)}-ab12`, kept: false, removed: !stopped, ...(stopped ? { made: false as const } : {}) },
        startedAt,
        finishedAt: new Date(started + (stopped ? 20_000 : (restore + verify) * 1000 + 5000)).toISOString(),
        ...(stopped ? { error: { step: 'restore' as const, message: 'RestoreDBInstanceToPointInTime: Throttling: Rate exceeded', kind: 'tool' as const, name: 'AwsApiError' } } : {}),
        toolVersion: '0.1.0',
        trigger: 'schedule',
      };
      reports.push({ report: options.signWith ? signReport(report, options.signWith) : report, origin: `reports/${database}/${startedAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.json` });
    }
  });
  return reports;
}
