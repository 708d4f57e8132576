/** Durations as people write them: `30s`, `15m`, `24h`, `7d`. */
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
const DURATION = /^(\d+)(s|m|h|d)$/;

export const DURATION_HINT = 'a whole number followed by s, m, h or d (for example 30s, 15m, 24h, 7d)';

export function parseDurationSeconds(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS];
}
