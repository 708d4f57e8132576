/**
 * EventBridge Scheduler expressions: `rate(5 minutes)` and six-field `cron(minutes hours day-of-month
 * month day-of-week year)`, checked as the service would check them, and the longest time between two
 * runs, which the "no drill result" alarm watches.
 */
export type ScheduleReading = { ok: true; longestGapSeconds: number } | { ok: false; problem: string };

const MINUTE = 60;
const DAY = 86_400;
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

export function readSchedule(expression: string): ScheduleReading {
  const rate = /^rate\((.*)\)$/.exec(expression);
  if (rate) return readRate(rate[1]!.trim());
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (cron) return readCron(cron[1]!.trim());
  return { ok: false, problem: 'expected rate(value unit) or cron(minutes hours day-of-month month day-of-week year), e.g. cron(0 3 * * ? *)' };
}

function readRate(body: string): ScheduleReading {
  const match = /^(\d+) (minute|minutes|hour|hours|day|days)$/.exec(body);
  if (!match) return { ok: false, problem: `rate(${body}) is not valid: expected rate(value unit) with unit minute(s), hour(s) or day(s), e.g. rate(1 day), rate(12 hours)` };
  const value = Number(match[1]);
  const unit = match[2]!;
  if (value < 1) return { ok: false, problem: `rate(${body}) is not valid: the value must be 1 or more` };
  if ((value === 1) !== !unit.endsWith('s')) return { ok: false, problem: `rate(${body}) is not valid: write rate(1 ${unit.replace(/s$/, '')}) or rate(${value === 1 ? 2 : value} ${unit.replace(/s?$/, 's')}) (singular unit for 1 only)` };
  const seconds = { minute: MINUTE, hour: 3600, day: DAY }[unit.replace(/s$/, '') as 'minute' | 'hour' | 'day'];
  return { ok: true, longestGapSeconds: value * seconds };
}

function readCron(body: string): ScheduleReading {
  const fields = body.split(/\s+/);
  const wrong = (why: string): ScheduleReading => ({ ok: false, problem: `cron(${body}) is not valid: ${why}; e.g. cron(0 3 * * ? *) runs at 03:00 every day` });
  if (fields.length !== 6) return wrong(`it has ${fields.length} fields, EventBridge takes 6 (minutes hours day-of-month month day-of-week year)`);
  const [minutes, hours, dayOfMonth, , dayOfWeek] = fields as [string, string, string, string, string, string];
  if ((dayOfMonth === '?') === (dayOfWeek === '?')) return wrong('exactly one of day-of-month and day-of-week must be ?');
  const minuteSet = expand(minutes, 0, 59);
  const hourSet = expand(hours, 0, 23);
  if (!minuteSet) return wrong(`minutes "${minutes}" is not a value, list, range or step within 0-59`);
  if (!hourSet) return wrong(`hours "${hours}" is not a value, list, range or step within 0-23`);
  // The day's run times, in seconds: the longest gap between them wraps round midnight.
  const times = [...hourSet].flatMap((hour) => [...minuteSet].map((minute) => hour * 3600 + minute * MINUTE)).sort((a, b) => a - b);
  const withinDay = longestCircularGap(times, DAY);
  // The last day, the nearest weekday, the third Friday: once a month at most.
  if (/[LW#]/i.test(dayOfMonth) || /[L#]/i.test(dayOfWeek)) return { ok: true, longestGapSeconds: 31 * DAY };
  if (dayOfWeek !== '?' && dayOfWeek !== '*') {
    const days = expand(dayOfWeek.toUpperCase().replace(/[A-Z]{3}/g, (name) => String(DAY_NAMES.indexOf(name) + 1)), 1, 7);
    if (!days) return wrong(`day-of-week "${dayOfWeek}" is not a day (1-7 or SUN-SAT), list, range or step`);
    return { ok: true, longestGapSeconds: Math.max(withinDay, (longestCircularGap([...days].sort((a, b) => a - b), 7) - 1) * DAY + withinDay) };
  }
  if (dayOfMonth !== '?' && dayOfMonth !== '*') {
    const days = expand(dayOfMonth, 1, 31);
    if (!days) return wrong(`day-of-month "${dayOfMonth}" is not a day (1-31), list, range or step`);
    return { ok: true, longestGapSeconds: Math.max(withinDay, (longestCircularGap([...days].sort((a, b) => a - b), 31) - 1) * DAY + withinDay) };
  }
  return { ok: true, longestGapSeconds: withinDay };
}

/** `*`, `5`, `1,15`, `9-17`, `*\/15`, `0-30/10`: the values, or undefined when the field is none of these. */
function expand(field: string, min: number, max: number): Set<number> | undefined {
  const values = new Set<number>();
  for (const part of field.split(',')) {
    const match = /^(\*|\d+)(?:-(\d+))?(?:\/(\d+))?$/.exec(part);
    if (!match) return undefined;
    const from = match[1] === '*' ? min : Number(match[1]);
    const to = match[2] !== undefined ? Number(match[2]) : match[1] === '*' || match[3] !== undefined ? max : from;
    const step = match[3] !== undefined ? Number(match[3]) : 1;
    if (from < min || to > max || from > to || step < 1) return undefined;
    for (let value = from; value <= to; value += step) values.add(value);
  }
  return values;
}

/** The longest distance between consecutive sorted points on a circle of this length. */
function longestCircularGap(points: readonly number[], length: number): number {
  let longest = points[0]! + length - points.at(-1)!;
  for (let i = 1; i < points.length; i++) longest = Math.max(longest, points[i]! - points[i - 1]!);
  return longest;
}
