import type { KeyObject } from 'node:crypto';
import type { DrillReport, DrillStatus } from '../report/types.ts';
import { keyIdOf, signatureStateOf, type SignatureState } from './signing.ts';

const DAY_MS = 86_400_000;

/** A report and where it was read from (a file's path or a bucket's key). */
export interface EvidenceReport {
  report: DrillReport;
  origin: string;
}

export interface EvidencePeriod {
  since: Date;
  until: Date;
}

/** Everything the page is made of; the page is a function of this alone. */
export interface EvidenceInput {
  reports: readonly EvidenceReport[];
  period: EvidencePeriod;
  /** The clock: when the page is made (the trailing "missing" drills are judged against it). */
  now: Date;
  /** Only these databases (default: every database with a report). */
  databases?: readonly string[] | undefined;
  /** A drill is expected this often (a schedule's period); unset: derived from each database's reports' spacing. */
  expectEverySeconds?: number | undefined;
  /** Checks each report's signature; unset: signed reports are `unchecked`. */
  publicKey?: KeyObject | undefined;
  /** Where the reports came from, in words: `the folder ./drill-reports`, `the bucket s3://…/reports/`. */
  source: string;
  /**
   * Databases known to have reports outside the period (a bucket's listing names them without their
   * reports being fetched): shown with no drill in the period rather than left out, so that a database
   * whose drills stopped does not vanish from the page.
   */
  knownDatabases?: readonly string[] | undefined;
  /** Files or objects that were not drill reports, named on the page so that nothing disappears silently. */
  unreadable?: readonly { origin: string; reason: string }[] | undefined;
}

export interface DrillEntry {
  report: DrillReport;
  origin: string;
  /** The page's anchor of this drill. */
  id: string;
  startedMs: number;
  signature: SignatureState;
}

/** A report of a drill already on the page under another name (a copy, or a replayed file): counted once. */
export interface DuplicateReport {
  report: DrillReport;
  origin: string;
  /** The origin of the report that is counted. */
  of: string;
  signature: SignatureState;
}

export type Expectation =
  | { source: 'option'; everySeconds: number }
  | { source: 'derived'; everySeconds: number; gaps: number }
  | { source: 'none'; reason: string };

export type DayStatus = DrillStatus | 'missing' | 'none';

export interface CalendarDay {
  /** YYYY-MM-DD (UTC). */
  day: string;
  status: DayStatus;
  /** The drill a failed, error or passed day links to (the worst of the day). */
  drillId?: string;
  drills: number;
  missing: number;
  /** The worst signature state of the day's reports. */
  signature?: SignatureState;
}

export interface TargetRecord {
  /** The newest drill's target. */
  targetSeconds: number | null;
  /** Every target seen in the period, when it changed. */
  targetsSeen: number[];
  held: number;
  judged: number;
}

export interface DatabaseEvidence {
  name: string;
  anchor: string;
  /** Every drill of the period, once each. */
  drills: DrillEntry[];
  /**
   * The drills the counts, targets and schedule are made of: with a public key only the intact ones
   * (an unsigned report proves nothing: anyone who can write to the store can write one), else all.
   */
  counted: DrillEntry[];
  /** With a public key, the drills whose report is not intact: shown, named, not counted. */
  notCounted: DrillEntry[];
  /**
   * Unsigned reports newer than the database's oldest intact one that do not say their signing failed
   * (ReportSigningError): signing was on by then, so such a report may stand in for a signed one.
   */
  unsignedAfterSigning: DrillEntry[];
  duplicates: DuplicateReport[];
  counts: Record<DrillStatus, number> & { restoredAndVerified: number };
  missing: Date[];
  expectation: Expectation;
  latest: DrillEntry | undefined;
  rpo: TargetRecord;
  rto: TargetRecord;
  signatures: Record<SignatureState, number>;
  calendar: CalendarDay[];
}

export interface Evidence {
  period: EvidencePeriod;
  now: Date;
  source: string;
  keyId: string | undefined;
  databases: DatabaseEvidence[];
  unreadable: readonly { origin: string; reason: string }[];
  /** Reports outside the period, or of databases not asked for: counted, not shown. */
  leftOut: number;
}

const STATUS_RANK: Record<DayStatus, number> = { failed: 4, error: 3, missing: 2, passed: 1, none: 0 };
const SIGNATURE_RANK: Record<SignatureState, number> = { altered: 4, 'other-key': 3, unsigned: 2, unchecked: 1, intact: 0 };

/** A token safe in an HTML id and a URL fragment, distinct for distinct names. */
export function anchorOf(text: string): string {
  return text.replace(/[^A-Za-z0-9-]/g, (char) => `_${char.codePointAt(0)!.toString(16)}_`);
}

export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * The drills a schedule of period `every` expected and did not get. A gap between two drills longer
 * than 1.5 periods holds round(gap / period) - 1 missing drills, spread evenly over it (schedules
 * jitter); after the newest drill, one is missing once it is half a period overdue. With a period the
 * user stated, the time from the period's start to the first drill counts too; a derived one knows
 * nothing before the first drill.
 */
export function missingDrills(startsMs: readonly number[], everyMs: number, period: { sinceMs: number; untilMs: number }, stated: boolean): Date[] {
  const missing: number[] = [];
  const starts = [...startsMs].sort((a, b) => a - b);
  if (starts.length === 0) {
    if (stated) for (let t = period.sinceMs + everyMs; t <= period.untilMs; t += everyMs) missing.push(t);
    return missing.map((t) => new Date(t));
  }
  if (stated) {
    for (let t = starts[0]! - everyMs; t >= period.sinceMs; t -= everyMs) missing.push(t);
  }
  for (let index = 1; index < starts.length; index++) {
    const gap = starts[index]! - starts[index - 1]!;
    if (gap <= 1.5 * everyMs) continue;
    const count = Math.round(gap / everyMs) - 1;
    for (let k = 1; k <= count; k++) missing.push(starts[index - 1]! + (k * gap) / (count + 1));
  }
  const last = starts[starts.length - 1]!;
  const overdue = Math.floor((period.untilMs - last) / everyMs - 0.5);
  for (let k = 1; k <= overdue; k++) missing.push(last + k * everyMs);
  return missing.sort((a, b) => a - b).map((t) => new Date(t));
}

function expectationOf(starts: readonly number[], expectEverySeconds: number | undefined): Expectation {
  if (expectEverySeconds !== undefined) return { source: 'option', everySeconds: expectEverySeconds };
  if (starts.length < 3) return { source: 'none', reason: `${starts.length} drill${starts.length === 1 ? '' : 's'} in the period: too few to derive a schedule from (give --expect-every)` };
  const gaps = starts.slice(1).map((start, index) => start - starts[index]!);
  return { source: 'derived', everySeconds: Math.round(median(gaps) / 1000), gaps: gaps.length };
}

function targetRecord(drills: readonly DrillEntry[], pick: (report: DrillReport) => { targetSeconds: number; compliant: boolean | null } | undefined): TargetRecord {
  const seen: number[] = [];
  let held = 0;
  let judged = 0;
  for (const drill of drills) {
    const figure = pick(drill.report);
    if (!figure) continue;
    if (typeof figure.targetSeconds === 'number' && !seen.includes(figure.targetSeconds)) seen.push(figure.targetSeconds);
    if (figure.compliant === null || figure.compliant === undefined) continue;
    judged++;
    if (figure.compliant) held++;
  }
  const newest = drills.length ? pick(drills[drills.length - 1]!.report)?.targetSeconds : undefined;
  return { targetSeconds: typeof newest === 'number' ? newest : null, targetsSeen: seen.length > 1 ? seen : [], held, judged };
}

/** Days coloured by the counted drills alone; every report's signature marks its day, so an uncounted one still shows. */
function calendarOf(drills: readonly DrillEntry[], counted: readonly DrillEntry[], missing: readonly Date[], period: EvidencePeriod): CalendarDay[] {
  const days = new Map<string, CalendarDay>();
  const first = Date.parse(`${utcDay(period.since.getTime())}T00:00:00Z`);
  for (let t = first; t <= period.until.getTime(); t += DAY_MS) {
    const day = utcDay(t);
    days.set(day, { day, status: 'none', drills: 0, missing: 0 });
  }
  for (const drill of counted) {
    const cell = days.get(utcDay(drill.startedMs));
    if (!cell) continue;
    cell.drills++;
    if (STATUS_RANK[drill.report.status] >= STATUS_RANK[cell.status]) {
      cell.status = drill.report.status;
      cell.drillId = drill.id;
    }
  }
  for (const drill of drills) {
    const cell = days.get(utcDay(drill.startedMs));
    if (!cell) continue;
    if (cell.signature === undefined || SIGNATURE_RANK[drill.signature] > SIGNATURE_RANK[cell.signature]) cell.signature = drill.signature;
  }
  for (const time of missing) {
    const cell = days.get(utcDay(time.getTime()));
    if (!cell) continue;
    cell.missing++;
    if (cell.status === 'none') cell.status = 'missing';
  }
  return [...days.values()];
}

function isReport(value: unknown): value is DrillReport {
  const report = value as Partial<DrillReport> | null;
  return (
    typeof report === 'object' &&
    report !== null &&
    typeof report.database === 'string' &&
    typeof report.startedAt === 'string' &&
    Number.isFinite(Date.parse(report.startedAt)) &&
    (report.status === 'passed' || report.status === 'failed' || report.status === 'error') &&
    typeof report.rpo === 'object' &&
    report.rpo !== null &&
    typeof report.rto === 'object' &&
    report.rto !== null
  );
}

/**
 * Each drill once: reports with the same drill (its start and drillId) or the same signature are
 * copies of one report, or one replayed under other names. The best-verified copy is kept (intact
 * first), then the first by origin; the others are named as its duplicates.
 */
function withoutDuplicates(entries: readonly EvidenceReport[], publicKey: KeyObject | undefined): { entries: EvidenceReport[]; duplicates: DuplicateReport[] } {
  const ranked = entries
    .map((entry) => ({ entry, signature: signatureStateOf(entry.report, publicKey) }))
    .sort((a, b) => SIGNATURE_RANK[a.signature] - SIGNATURE_RANK[b.signature] || (a.entry.origin < b.entry.origin ? -1 : a.entry.origin > b.entry.origin ? 1 : 0));
  const keptBy = new Map<string, string>();
  const kept: EvidenceReport[] = [];
  const duplicates: DuplicateReport[] = [];
  for (const { entry, signature } of ranked) {
    const value = (entry.report.signature as { value?: unknown } | undefined)?.value;
    const keys = [
      typeof entry.report.drillId === 'string' ? `drill\0${entry.report.startedAt}\0${entry.report.drillId}` : undefined,
      typeof value === 'string' ? `signature\0${value}` : undefined,
    ].filter((key): key is string => key !== undefined);
    const of = keys.map((key) => keptBy.get(key)).find((origin) => origin !== undefined);
    if (of !== undefined) {
      duplicates.push({ report: entry.report, origin: entry.origin, of, signature });
      continue;
    }
    for (const key of keys) keptBy.set(key, entry.origin);
    kept.push(entry);
  }
  duplicates.sort((a, b) => (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0));
  return { entries: kept, duplicates };
}

/** Why a parsed JSON document is not a drill report, or undefined when it is one. */
export function notAReport(value: unknown): string | undefined {
  return isReport(value) ? undefined : 'not a drill report (database, startedAt, status, rpo and rto expected)';
}

/** The drill history of each database in the period, with what it proves. Pure: the same input, the same evidence. */
export function buildEvidence(input: EvidenceInput): Evidence {
  const sinceMs = input.period.since.getTime();
  const untilMs = input.period.until.getTime();
  const wanted = input.databases?.length ? new Set(input.databases) : undefined;
  const byDatabase = new Map<string, EvidenceReport[]>();
  for (const name of input.databases ?? []) byDatabase.set(name, []);
  for (const name of input.knownDatabases ?? []) if (!wanted || wanted.has(name)) byDatabase.set(name, byDatabase.get(name) ?? []);
  let leftOut = 0;
  const unreadable = [...(input.unreadable ?? [])];
  for (const entry of input.reports) {
    if (!isReport(entry.report)) {
      unreadable.push({ origin: entry.origin, reason: notAReport(entry.report)! });
      continue;
    }
    const started = Date.parse(entry.report.startedAt);
    if ((wanted && !wanted.has(entry.report.database)) || started < sinceMs || started > untilMs) {
      leftOut++;
      if (!wanted || wanted.has(entry.report.database)) byDatabase.set(entry.report.database, byDatabase.get(entry.report.database) ?? []);
      continue;
    }
    const list = byDatabase.get(entry.report.database) ?? [];
    list.push(entry);
    byDatabase.set(entry.report.database, list);
  }
  const databases = [...byDatabase.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, all]): DatabaseEvidence => {
      const anchor = anchorOf(name);
      const used = new Set<string>();
      const { entries, duplicates } = withoutDuplicates(all, input.publicKey);
      const drills = entries
        .map((entry) => ({ ...entry, startedMs: Date.parse(entry.report.startedAt) }))
        .sort((a, b) => a.startedMs - b.startedMs || (a.origin < b.origin ? -1 : 1))
        .map((entry): DrillEntry => {
          const base = `d-${anchor}-${new Date(entry.startedMs).toISOString().slice(0, 19).replace(/[-:]/g, '')}`;
          let id = base;
          for (let n = 2; used.has(id); n++) id = `${base}-${n}`;
          used.add(id);
          return { report: entry.report, origin: entry.origin, id, startedMs: entry.startedMs, signature: signatureStateOf(entry.report, input.publicKey) };
        });
      const counted = input.publicKey ? drills.filter((drill) => drill.signature === 'intact') : drills;
      const notCounted = input.publicKey ? drills.filter((drill) => drill.signature !== 'intact') : [];
      const firstSigned = counted.find((drill) => drill.signature === 'intact')?.startedMs;
      const unsignedAfterSigning =
        firstSigned === undefined ? [] : notCounted.filter((drill) => drill.signature === 'unsigned' && drill.startedMs > firstSigned && drill.report.error?.name !== 'ReportSigningError');
      const starts = counted.map((drill) => drill.startedMs);
      const expectation = expectationOf(starts, input.expectEverySeconds);
      const missing = expectation.source === 'none' || expectation.everySeconds <= 0 ? [] : missingDrills(starts, expectation.everySeconds * 1000, { sinceMs, untilMs }, expectation.source === 'option');
      const counts = { passed: 0, failed: 0, error: 0, restoredAndVerified: 0 };
      const signatures: Record<SignatureState, number> = { intact: 0, altered: 0, 'other-key': 0, unsigned: 0, unchecked: 0 };
      for (const drill of counted) {
        counts[drill.report.status]++;
        if (drill.report.rto.restoreSeconds !== null && drill.report.rto.verifySeconds !== null) counts.restoredAndVerified++;
      }
      for (const drill of drills) signatures[drill.signature]++;
      return {
        name,
        anchor,
        drills,
        counted,
        notCounted,
        unsignedAfterSigning,
        duplicates,
        counts,
        missing,
        expectation,
        latest: counted[counted.length - 1],
        rpo: targetRecord(counted, (report) => report.rpo),
        rto: targetRecord(counted, (report) => report.rto),
        signatures,
        calendar: calendarOf(drills, counted, missing, input.period),
      };
    });
  return {
    period: input.period,
    now: input.now,
    source: input.source,
    keyId: input.publicKey ? keyIdOf(input.publicKey) : undefined,
    databases,
    unreadable,
    leftOut,
  };
}
