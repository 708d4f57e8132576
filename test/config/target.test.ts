import { describe, expect, test } from 'vitest';
import { parseTargetSpec } from '../../lib/drill/target.ts';

describe('a target written as a time', () => {
  test.each([
    ['2026-11-25T14:59:59Z', '2026-11-25T14:59:59.000Z'],
    ['2026-11-25T16:59:59+02:00', '2026-11-25T14:59:59.000Z'],
    // As psql prints timestamptz: a space, and an offset of hours only.
    ['2026-11-25 14:59:59.123+00', '2026-11-25T14:59:59.123Z'],
    ['2026-11-25 16:59:59+02', '2026-11-25T14:59:59.000Z'],
  ])('%s is %s', (text, iso) => {
    expect(parseTargetSpec(text)).toEqual({ kind: 'time', time: new Date(iso) });
  });

  test('without an offset it is refused: the time zone would be a guess', () => {
    expect(parseTargetSpec('2026-11-25 14:59:59')).toBeUndefined();
  });
});
