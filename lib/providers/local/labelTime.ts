/**
 * Times in backup_label and backup history files (`START TIME: 2026-11-25 19:24:44 UTC`) are wall-clock
 * seconds in the server's `log_timezone`, followed by the zone's abbreviation or a numeric offset.
 * This turns them into instants; with the IANA zone from the backup's config when there is one,
 * else from the abbreviation where it names one offset only.
 */
const ABBREVIATIONS: Record<string, number> = {
  UTC: 0, UCT: 0, GMT: 0, Z: 0, WET: 0, WEST: 60, BST: 60, CET: 60, CEST: 120, MET: 60, MEST: 120,
  EET: 120, EEST: 180, MSK: 180, EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360,
  PST: -480, PDT: -420, AKST: -540, AKDT: -480, HST: -600, JST: 540, KST: 540, HKT: 480, AWST: 480,
  ACST: 570, ACDT: 630, AEST: 600, AEDT: 660, NZST: 720, NZDT: 780, SAST: 120, WIB: 420,
};

const LABEL_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) (\S+)$/;

export function parseLabelTime(text: string, ianaZone?: string): Date {
  const match = LABEL_TIME.exec(text.trim());
  if (!match) throw new Error(`unexpected time format ${JSON.stringify(text)}; expected "YYYY-MM-DD HH:MM:SS ZONE"`);
  const [, y, mo, d, h, mi, s, zone] = match;
  const wallClock = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const numeric = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone!);
  if (numeric) {
    const minutes = Number(numeric[2]) * 60 + Number(numeric[3] ?? 0);
    return new Date(wallClock - (numeric[1] === '-' ? -minutes : minutes) * 60_000);
  }
  if (ianaZone && isIanaZone(ianaZone)) return new Date(zonedWallClockToUtc(wallClock, ianaZone));
  const offset = ABBREVIATIONS[zone!];
  if (offset !== undefined) return new Date(wallClock - offset * 60_000);
  throw new Error(
    `cannot tell the UTC offset of time zone "${zone}" in ${JSON.stringify(text)}; ` +
      `set log_timezone = 'UTC' on the source (or name an IANA zone in its postgresql.conf)`,
  );
}

function isIanaZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function offsetMinutes(instant: number, zone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((part) => part.type === type)?.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return Math.round((asUtc - Math.floor(instant / 1000) * 1000) / 60_000);
}

/** Wall-clock time in a zone to the instant; in a DST overlap the later instant (the safe side for us). */
function zonedWallClockToUtc(wallClock: number, zone: string): number {
  const candidates = new Set<number>();
  for (const probe of [wallClock - 86_400_000, wallClock, wallClock + 86_400_000]) {
    const instant = wallClock - offsetMinutes(probe, zone) * 60_000;
    if (instant - wallClock === -offsetMinutes(instant, zone) * 60_000) candidates.add(instant);
  }
  return candidates.size > 0 ? Math.max(...candidates) : wallClock - offsetMinutes(wallClock, zone) * 60_000;
}
