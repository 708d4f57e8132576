import { describe, expect, test } from 'vitest';
import { parseTargetSpec, targetProblem } from '../../lib/drill/target.ts';

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

// Issue 14, item 15: impossible dates rolled over silently (2026-11-31 became 2026-12-01).
describe('an impossible time', () => {
  test.each([
    ['2026-11-31T10:00:00Z', 'November 2026 has 30 days'],
    ['2026-02-29T10:00:00Z', 'February 2026 has 28 days'],
    ['2026-13-01T00:00:00Z', 'there is no month 13'],
    ['2026-11-00T00:00:00Z', 'there is no day 0'],
    ['2026-11-30T24:00:00Z', 'hours run from 00 to 23'],
    ['2026-11-30T23:60:00Z', 'minutes run from 00 to 59'],
    ['2026-11-30T23:59:60Z', 'seconds run from 00 to 59'],
    ['2026-11-30T10:00:00+25:00', 'an offset runs from -14:00 to +14:00'],
  ])('%s is refused (%s)', (text, why) => {
    expect(parseTargetSpec(text)).toBeUndefined();
    expect(targetProblem(text)).toBe(`"${text}" is not a time: ${why}`);
  });

  test('a leap day of a leap year is a time', () => {
    expect(parseTargetSpec('2028-02-29T10:00:00Z')).toEqual({ kind: 'time', time: new Date('2028-02-29T10:00:00Z') });
    expect(targetProblem('2028-02-29T10:00:00Z')).toBeUndefined();
  });

  test('the config names the field and why', async () => {
    const { validateConfig } = await import('../../lib/config/load.ts');
    const error = await validateConfig({ databases: [{ name: 'app', provider: { kind: 'local', baseBackups: '/', walArchive: '/' }, target: '2026-11-31T10:00:00Z' }] }, '/').catch((e: unknown) => e as Error);
    expect((error as Error).message).toContain('databases[0].target: "2026-11-31T10:00:00Z" is not a time: November 2026 has 30 days');
  });
});
