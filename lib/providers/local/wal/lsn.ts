/**
 * WAL positions (LSNs) and segment file names. LSNs are kept as JavaScript numbers: exact up to 2^53
 * bytes of WAL (8 PiB), far beyond any cluster's lifetime.
 */
const TWO_32 = 0x1_0000_0000;

export function parseLsn(text: string): number {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!match) throw new Error(`not a WAL location (LSN): ${JSON.stringify(text)}; expected the form 0/3000028`);
  return parseInt(match[1]!, 16) * TWO_32 + parseInt(match[2]!, 16);
}

export function formatLsn(lsn: number): string {
  return `${Math.floor(lsn / TWO_32).toString(16).toUpperCase()}/${(lsn % TWO_32).toString(16).toUpperCase()}`;
}

export interface SegmentId {
  timeline: number;
  segno: number;
}

const SEGMENT_NAME = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;

export function isSegmentName(name: string): boolean {
  return SEGMENT_NAME.test(name);
}

export function parseSegmentName(name: string, segmentSize: number): SegmentId {
  const match = SEGMENT_NAME.exec(name);
  if (!match) throw new Error(`not a WAL segment file name: ${name}`);
  const segmentsPerId = TWO_32 / segmentSize;
  return {
    timeline: parseInt(match[1]!, 16),
    segno: parseInt(match[2]!, 16) * segmentsPerId + parseInt(match[3]!, 16),
  };
}

export function segmentName({ timeline, segno }: SegmentId, segmentSize: number): string {
  const segmentsPerId = TWO_32 / segmentSize;
  return [timeline, Math.floor(segno / segmentsPerId), segno % segmentsPerId]
    .map((part) => part.toString(16).toUpperCase().padStart(8, '0'))
    .join('');
}

export function segnoOf(lsn: number, segmentSize: number): number {
  return Math.floor(lsn / segmentSize);
}

/** Microseconds since 2000-01-01 UTC (Postgres' TimestampTz) to microseconds since the Unix epoch. */
const PG_EPOCH_OFFSET_MICROS = 946_684_800_000_000n;

export function pgTimestampToUnixMicros(pgMicros: bigint): bigint {
  return pgMicros + PG_EPOCH_OFFSET_MICROS;
}

export function microsToDate(micros: bigint): Date {
  // Floor to the millisecond: a Date can never claim a point later than the WAL holds.
  const ms = micros >= 0n ? micros / 1000n : (micros - 999n) / 1000n;
  return new Date(Number(ms));
}

export function dateToMicros(date: Date): bigint {
  return BigInt(date.getTime()) * 1000n;
}
