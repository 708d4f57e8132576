import { describe, expect, test } from 'vitest';
import { readSchedule } from '../../lib/infra/schedule.ts';

const HOUR = 3600;
const DAY = 86_400;

describe('the longest time between two runs of a schedule', () => {
  test.each([
    ['rate(1 day)', DAY],
    ['rate(12 hours)', 12 * HOUR],
    ['rate(30 minutes)', 30 * 60],
    ['cron(0 3 * * ? *)', DAY],
    ['cron(0 3,15 * * ? *)', 12 * HOUR],
    ['cron(0 2,4 * * ? *)', 22 * HOUR],
    ['cron(*/15 * * * ? *)', 15 * 60],
    ['cron(0 9-17/4 ? * MON-FRI *)', 2 * DAY + 16 * HOUR],
    ['cron(0 4 ? * SUN *)', 7 * DAY],
    ['cron(0 4 ? * 1,4 *)', 4 * DAY],
    ['cron(0 3 1 * ? *)', 31 * DAY],
    ['cron(0 3 L * ? *)', 31 * DAY],
    ['cron(0 3 ? * 6#3 *)', 31 * DAY],
  ])('%s: %i s', (expression, seconds) => {
    expect(readSchedule(expression)).toEqual({ ok: true, longestGapSeconds: seconds });
  });
});

describe('expressions EventBridge Scheduler refuses', () => {
  test.each([
    ['every night', /^expected rate\(value unit\) or cron/],
    ['rate(1 days)', /write rate\(1 day\) or rate\(2 days\)/],
    ['rate(5 minute)', /write rate\(1 minute\) or rate\(5 minutes\)/],
    ['rate(2 weeks)', /unit minute\(s\), hour\(s\) or day\(s\)/],
    ['cron(0 3 * * *)', /it has 5 fields, EventBridge takes 6/],
    ['cron(0 3 * * * *)', /exactly one of day-of-month and day-of-week must be \?/],
    ['cron(0 25 * * ? *)', /hours "25" is not a value, list, range or step within 0-23/],
    ['cron(0 3 ? * FUNDAY *)', /day-of-week "FUNDAY" is not a day/],
  ])('%s', (expression, problem) => {
    const reading = readSchedule(expression);
    expect(reading.ok).toBe(false);
    expect(!reading.ok && reading.problem).toMatch(problem);
  });
});
