import { TargetBeyondBackupsError, TargetOutsideWindowError } from '../errors.ts';
import type { RestoreWindow } from '../providers/types.ts';
import { parseDurationSeconds } from './duration.ts';

/** What the user asked for: `latest`, `-15m` (relative to now), an ISO time with an offset, or `random`. */
export type TargetSpec =
  | { kind: 'latest' }
  | { kind: 'relative'; seconds: number }
  | { kind: 'time'; time: Date }
  | { kind: 'random' };

/** The target resolved against the window: `latest` keeps its meaning (replay everything) and its time. */
export interface ResolvedTarget {
  requested: string;
  kind: 'latest' | 'time';
  time: Date;
}

export const TARGET_HINT = 'latest, -<n>s|m|h|d (before now, e.g. -15m), an ISO 8601 time with an offset or Z (e.g. 2026-11-25T14:59:59Z), or random';

// `T` or a space between date and time: psql prints `2026-11-25 14:59:59.123+00`.
const ISO_WITH_OFFSET = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?(Z|([+-])(\d{2})(?::?(\d{2}))?)$/;

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/**
 * Why a time written with an offset is not a time, or undefined when it is one (or is not written as
 * one). Date rolls impossible fields over without a word (2026-11-31 is 2026-12-01): a drill would
 * restore to a day nobody asked for.
 */
export function targetProblem(text: string): string | undefined {
  const match = ISO_WITH_OFFSET.exec(text.trim());
  if (!match) return undefined;
  const [year, month, day, hour, minute, second = 0] = [1, 2, 3, 4, 5, 6].map((index) => Number(match[index] ?? 0)) as [number, number, number, number, number, number];
  const not = (why: string) => `"${text}" is not a time: ${why}`;
  if (month < 1 || month > 12) return not(`there is no month ${month}`);
  if (day < 1) return not(`there is no day ${day}`);
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > days) return not(`${MONTHS[month - 1]} ${year} has ${days} days`);
  if (hour > 23) return not('hours run from 00 to 23');
  if (minute > 59) return not('minutes run from 00 to 59');
  if (second > 59) return not('seconds run from 00 to 59');
  const offsetHours = Number(match[10] ?? 0);
  const offsetMinutes = Number(match[11] ?? 0);
  if (offsetHours * 60 + offsetMinutes > 14 * 60 || offsetMinutes > 59) return not('an offset runs from -14:00 to +14:00');
  return undefined;
}

export function parseTargetSpec(text: string): TargetSpec | undefined {
  const value = text.trim();
  if (value === 'latest') return { kind: 'latest' };
  if (value === 'random') return { kind: 'random' };
  if (value.startsWith('-')) {
    const seconds = parseDurationSeconds(value.slice(1));
    return seconds === undefined ? undefined : { kind: 'relative', seconds };
  }
  if (ISO_WITH_OFFSET.test(value)) {
    if (targetProblem(value) !== undefined) return undefined;
    const time = new Date(value.replace(' ', 'T').replace(/([+-]\d{2})$/, '$1:00'));
    return Number.isNaN(time.getTime()) ? undefined : { kind: 'time', time };
  }
  return undefined;
}

/**
 * Resolves a target inside the window. A time before it is refused before anything is created; a time
 * after it is a failed drill (the backups do not reach it), also before anything is created.
 */
export function resolveTarget(
  requested: string,
  spec: TargetSpec,
  window: RestoreWindow,
  now: Date,
  random: () => number = Math.random,
): ResolvedTarget {
  if (spec.kind === 'latest') return { requested, kind: 'latest', time: window.latest };
  const time =
    spec.kind === 'relative'
      ? new Date(now.getTime() - spec.seconds * 1000)
      : spec.kind === 'random'
        ? new Date(window.earliest.getTime() + Math.floor(random() * (window.latest.getTime() - window.earliest.getTime() + 1)))
        : spec.time;
  if (time > window.latest) {
    throw new TargetBeyondBackupsError(
      `target ${requested} (${time.toISOString()}) is after the latest restorable time ${window.latest.toISOString()}: the backups do not reach it (restore window ${window.earliest.toISOString()} to ${window.latest.toISOString()})`,
    );
  }
  if (time < window.earliest) {
    throw new TargetOutsideWindowError(
      `target ${requested} (${time.toISOString()}) is outside the restore window ${window.earliest.toISOString()} to ${window.latest.toISOString()}`,
    );
  }
  return { requested, kind: 'time', time };
}
