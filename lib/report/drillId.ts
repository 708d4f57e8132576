import { randomBytes } from 'node:crypto';
import type { DrillReport } from './types.ts';

/**
 * A drill's id: what makes its report's file name and bucket key its own. Two runs of one database
 * can start in the same second, so the time alone named one file for both (a failure was overwritten
 * by a pass). The first choice is the random part of the copy's name (`rd-app-…-x7k2` → `x7k2`), which
 * ties the report to its copy; a drill without a copy, or whose choice is taken, gets a random one.
 */
export function firstDrillId(report: Pick<DrillReport, 'copy'>): string {
  return /-([a-z0-9]{4})$/.exec(report.copy?.name ?? '')?.[1] ?? newDrillId();
}

export function newDrillId(): string {
  return randomBytes(5).toString('hex');
}

/** `20261125T150102Z`: the drill's start to the second, as names and keys carry it. */
export function reportStamp(startedAt: string): string {
  return startedAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/**
 * Whether a stored report is this drill's own (written again after delivery, or by a retried task
 * that lost the id it had drawn): the same database, start to the millisecond and copy, and no other id.
 */
export function sameDrill(stored: Partial<DrillReport> | undefined, report: DrillReport): boolean {
  if (!stored) return false;
  if (stored.drillId !== undefined && report.drillId !== undefined && stored.drillId !== report.drillId) return false;
  return stored.database === report.database && stored.startedAt === report.startedAt && (stored.copy?.name ?? null) === (report.copy?.name ?? null);
}
