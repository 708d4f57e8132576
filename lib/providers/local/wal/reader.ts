import { CRC32C_INIT, crc32cFinish, crc32cUpdate } from './crc32c.ts';
import { pgTimestampToUnixMicros } from './lsn.ts';

/**
 * A reader of Postgres WAL (versions 10 and later share this layout) that finds what recovery with
 * `recovery_target_time` looks at: the commit and abort records and their timestamps. Written here
 * because the embedded binaries ship no pg_waldump, and because one pass over a segment in-process
 * is cheaper than a child process.
 *
 * Layout (src/include/access/xlog_internal.h, xlogrecord.h): every page starts with a header (24 bytes,
 * 40 on a segment's first page) whose `xlp_pageaddr` is the page's own LSN; records are 8-byte aligned,
 * start with a 24-byte header (total length, xid, previous record's LSN, info, resource manager, CRC) and
 * may run on over pages, each continuation page flagged XLP_FIRST_IS_CONTRECORD.
 */
const SHORT_PAGE_HEADER = 24;
const LONG_PAGE_HEADER = 40;
const RECORD_HEADER = 24;
const XLP_FIRST_IS_CONTRECORD = 0x0001;
const XLP_LONG_HEADER = 0x0002;
const RM_XLOG_ID = 0;
const RM_XACT_ID = 1;
const XLOG_SWITCH = 0x40;
const XLOG_XACT_OPMASK = 0x70;
const XACT_KINDS: Record<number, XactRecord['kind']> = {
  0x00: 'commit',
  0x20: 'abort',
  0x30: 'commit',
  0x40: 'abort',
};
const BLOCK_ID_DATA_SHORT = 255;
const BLOCK_ID_DATA_LONG = 254;
const BLOCK_ID_ORIGIN = 253;
const BLOCK_ID_TOPLEVEL_XID = 252;

export interface XactRecord {
  lsn: number;
  kind: 'commit' | 'abort';
  /** Commit or abort time, microseconds since the Unix epoch. */
  micros: bigint;
}

export interface WalScan {
  xacts: XactRecord[];
  /** The LSN just past the last valid record read. */
  endLsn: number;
  /**
   * Why reading stopped at endLsn before the end of the data: `incomplete` when the data ran out
   * (a record going on into a segment not given), else what was wrong with what lies there (a zero
   * length is where a partly written segment ends; in a complete archived segment it is damage too).
   * Undefined when every record of the data was read.
   */
  stop?: { reason: WalStopReason; detail: string };
}

export type WalStopReason = 'incomplete' | 'zero' | 'page' | 'length' | 'prev' | 'crc' | 'continuation';

/** Postgres refuses records longer than this (XLogRecordMaxSize, PostgreSQL 16: 1020 MB). */
const MAX_RECORD_LENGTH = 1020 * 1024 * 1024;

export interface SegmentData {
  segno: number;
  data: Buffer;
}

/** Reads the segment size a WAL file declares in its first page's long header. */
export function segmentSizeOf(firstPage: Buffer): number {
  const info = firstPage.readUInt16LE(2);
  if (!(info & XLP_LONG_HEADER) || firstPage.length < LONG_PAGE_HEADER) {
    throw new Error('not the first page of a WAL segment (no long page header)');
  }
  return firstPage.readUInt32LE(32);
}

/**
 * Scans consecutive segments (ascending, no gaps) and returns every commit and abort record found,
 * stopping where valid WAL ends (a zero or broken record, a page that does not belong there).
 */
export function scanXacts(segments: readonly SegmentData[], segmentSize: number): WalScan {
  const first = segments[0];
  const xacts: XactRecord[] = [];
  if (!first) return { xacts, endLsn: 0 };
  const blockSize = first.data.readUInt32LE(36) || 8192;
  const baseLsn = first.segno * segmentSize;
  const endOfData = baseLsn + segments.length * segmentSize;

  const byteAt = (lsn: number): { data: Buffer; offset: number } | undefined => {
    const index = Math.floor((lsn - baseLsn) / segmentSize);
    const segment = segments[index];
    if (!segment || segment.segno !== first.segno + index || segment.data.length !== segmentSize) return undefined;
    return { data: segment.data, offset: (lsn - baseLsn) % segmentSize };
  };

  /** Validates the page header at `pageLsn` and returns its size and continuation length. */
  const pageHeader = (pageLsn: number): { size: number; flags: number; remaining: number } | undefined => {
    const at = byteAt(pageLsn);
    if (!at) return undefined;
    const flags = at.data.readUInt16LE(at.offset + 2);
    const pageAddress = Number(at.data.readBigUInt64LE(at.offset + 8));
    if (pageAddress !== pageLsn) return undefined;
    const size = flags & XLP_LONG_HEADER ? LONG_PAGE_HEADER : SHORT_PAGE_HEADER;
    return { size, flags, remaining: at.data.readUInt32LE(at.offset + 16) };
  };

  const align8 = (n: number) => Math.ceil(n / 8) * 8;

  // Skip the tail of a record that began before the first segment.
  let position = baseLsn;
  const firstHeader = pageHeader(position);
  if (!firstHeader) return { xacts, endLsn: baseLsn, stop: { reason: 'page', detail: 'the first page\'s header is not that of this place in the WAL' } };
  position += firstHeader.size;
  if (firstHeader.flags & XLP_FIRST_IS_CONTRECORD) {
    let remaining = firstHeader.remaining;
    for (;;) {
      const pageEnd = (Math.floor(position / blockSize) + 1) * blockSize;
      const take = Math.min(remaining, pageEnd - position);
      position += take;
      remaining -= take;
      if (remaining === 0) break;
      const header = pageHeader(position);
      if (!header || !(header.flags & XLP_FIRST_IS_CONTRECORD)) {
        const stop = position >= endOfData ? { reason: 'incomplete' as const, detail: 'the data ends here' } : { reason: 'continuation' as const, detail: 'a record goes on into a page that does not continue it' };
        return { xacts, endLsn: baseLsn, stop };
      }
      position += header.size;
    }
    position = align8(position);
  }

  let previousLsn: number | undefined;
  let endLsn = position;
  let stop: WalScan['stop'];
  const stopped = (reason: WalStopReason, detail: string) => {
    stop = { reason, detail };
  };
  while (position < endOfData) {
    if (position % blockSize === 0) {
      const header = pageHeader(position);
      if (!header) {
        stopped('page', 'a page whose header is not that of this place in the WAL');
        break;
      }
      position += header.size;
    }
    const start = byteAt(position);
    if (!start) {
      stopped('incomplete', 'the data ends here');
      break;
    }
    const totalLength = start.data.readUInt32LE(start.offset);
    if (totalLength === 0) {
      stopped('zero', 'a record of length 0 (nothing written here)');
      break;
    }
    if (totalLength < RECORD_HEADER || totalLength > MAX_RECORD_LENGTH) {
      stopped('length', `invalid record length ${totalLength}`);
      break;
    }
    // As Postgres does, the header is checked before the rest is read (a damaged length must not make us read a GB).
    if (previousLsn !== undefined && (position % blockSize) + RECORD_HEADER <= blockSize && Number(start.data.readBigUInt64LE(start.offset + 8)) !== previousLsn) {
      stopped('prev', 'the record does not point back to the record before it');
      break;
    }
    const firstPageEnd = (Math.floor(position / blockSize) + 1) * blockSize;
    if (position + totalLength > firstPageEnd) {
      // Before reading on (and allocating what the length claims), the next page must say it continues this record by as much.
      if (firstPageEnd >= endOfData) {
        stopped('incomplete', 'the record goes on past the data');
        break;
      }
      const next = pageHeader(firstPageEnd);
      if (!next || !(next.flags & XLP_FIRST_IS_CONTRECORD) || next.remaining !== totalLength - (firstPageEnd - position)) {
        stopped('continuation', `a record of length ${totalLength} that the next page does not continue`);
        break;
      }
    }

    // Most records lie within one page: read them where they are; only one that runs on over pages is copied together.
    const onePage = (position % blockSize) + totalLength <= blockSize;
    const record = onePage ? start.data.subarray(start.offset, start.offset + totalLength) : Buffer.allocUnsafe(totalLength);
    let copied = onePage ? totalLength : 0;
    let cursor = position + copied;
    let complete = true;
    while (copied < totalLength) {
      if (cursor % blockSize === 0) {
        if (cursor >= endOfData) {
          stopped('incomplete', 'the record goes on past the data');
          complete = false;
          break;
        }
        const header = pageHeader(cursor);
        if (!header || !(header.flags & XLP_FIRST_IS_CONTRECORD) || header.remaining !== totalLength - copied) {
          stopped('continuation', 'the record goes on into a page that does not continue it');
          complete = false;
          break;
        }
        cursor += header.size;
      }
      const at = byteAt(cursor);
      if (!at) {
        stopped('incomplete', 'the record goes on past the data');
        complete = false;
        break;
      }
      const pageEnd = (Math.floor(cursor / blockSize) + 1) * blockSize;
      const take = Math.min(totalLength - copied, pageEnd - cursor);
      at.data.copy(record, copied, at.offset, at.offset + take);
      copied += take;
      cursor += take;
    }
    if (!complete) break;

    const previous = Number(record.readBigUInt64LE(8));
    if (previousLsn !== undefined && previous !== previousLsn) {
      stopped('prev', 'the record does not point back to the record before it');
      break;
    }
    let crc = crc32cUpdate(CRC32C_INIT, record, RECORD_HEADER, totalLength);
    crc = crc32cFinish(crc32cUpdate(crc, record, 0, 20));
    if (crc !== record.readUInt32LE(20)) {
      stopped('crc', 'the record fails its CRC-32C');
      break;
    }

    const info = record[16]!;
    const resourceManager = record[17]!;
    if (resourceManager === RM_XACT_ID) {
      const kind = XACT_KINDS[info & XLOG_XACT_OPMASK];
      const time = kind && xactTime(record);
      if (kind && time !== undefined) xacts.push({ lsn: position, kind, micros: pgTimestampToUnixMicros(time) });
    }
    previousLsn = position;
    position = align8(cursor);
    endLsn = position;
    if (resourceManager === RM_XLOG_ID && (info & 0xf0) === XLOG_SWITCH) {
      // The rest of the segment is padding: the next record starts on the next segment's first page.
      position = Math.ceil(position / segmentSize) * segmentSize;
      endLsn = position;
    }
  }
  return { xacts, endLsn, ...(stop ? { stop } : {}) };
}

/** The first field of xl_xact_commit and xl_xact_abort is the transaction's time. */
function xactTime(record: Buffer): bigint | undefined {
  let offset = RECORD_HEADER;
  let mainLength: number | undefined;
  while (offset < record.length && mainLength === undefined) {
    const id = record[offset]!;
    if (id === BLOCK_ID_DATA_SHORT) {
      mainLength = record[offset + 1]!;
    } else if (id === BLOCK_ID_DATA_LONG) {
      mainLength = record.readUInt32LE(offset + 1);
    } else if (id === BLOCK_ID_ORIGIN) {
      offset += 3;
    } else if (id === BLOCK_ID_TOPLEVEL_XID) {
      offset += 5;
    } else {
      return undefined; // a block reference: not a shape transaction records take
    }
  }
  if (mainLength === undefined || mainLength < 8) return undefined;
  return record.readBigInt64LE(record.length - mainLength);
}
