import { TargetOutsideWindowError } from '../errors.ts';
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
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)$/;

export function parseTargetSpec(text: string): TargetSpec | undefined {
  const value = text.trim();
  if (value === 'latest') return { kind: 'latest' };
  if (value === 'random') return { kind: 'random' };
  if (value.startsWith('-')) {
    const seconds = parseDurationSeconds(value.slice(1));
    return seconds === undefined ? undefined : { kind: 'relative', seconds };
  }
  if (ISO_WITH_OFFSET.test(value)) {
    const time = new Date(value.replace(' ', 'T').replace(/([+-]\d{2})$/, '$1:00'));
    return Number.isNaN(time.getTime()) ? undefined : { kind: 'time', time };
  }
  return undefined;
}

/** Resolves a target inside the window; a time outside it is refused before anything is created. */
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
  if (time < window.earliest || time > window.latest) {
    throw new TargetOutsideWindowError(
      `target ${requested} (${time.toISOString()}) is outside the restore window ${window.earliest.toISOString()} to ${window.latest.toISOString()}`,
    );
  }
  return { requested, kind: 'time', time };
}
