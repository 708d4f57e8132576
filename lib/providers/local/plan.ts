import { NoBaseBackupError, TargetOutsideWindowError, WalGapError, RestoreDrillError } from '../../errors.ts';
import { listBaseBackups, type BaseBackup, type UnusableBackup } from './backups.ts';
import { BrokenBackupError, WalCorruptError } from './errors.ts';
import {
  listWalFolder,
  parseTimelineHistory,
  readSegmentSize,
  readWalFile,
  type ArchiveListing,
  type WalFile,
} from './wal/archive.ts';
import { dateToMicros, formatLsn, microsToDate, segmentName, segnoOf } from './wal/lsn.ts';
import { scanXacts, type SegmentData, type WalScan, type XactRecord } from './wal/reader.ts';
import { readdir, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CopyTarget, RestoreWindow } from '../types.ts';
import { ensureScratchRoot } from './scratch.ts';
import { fetchArchive } from './wal/fetch.ts';

export interface LocalSource {
  /** Folder of base backups (each a pg_basebackup plain-format folder), or one backup folder. */
  baseBackups: string;
  /** Folder the source's archive_command copies WAL into (files plain or .gz). */
  walArchive?: string | undefined;
  /** Instead of a folder: a command that fetches one WAL file, with %f (file name) and %p (destination). */
  restoreCommand?: string | undefined;
}

export type RestoreTarget = CopyTarget;

export interface LocalWindow extends RestoreWindow {
  /** The archive folder read: walArchive, or the cache restoreCommand fetched into. */
  archiveDir: string;
  backups: BackupWindow[];
  segmentSize: number;
  /** Time of the archive's last commit or abort record, microseconds since the epoch. */
  lastXactMicros: bigint | undefined;
  /** The first segment missing after the newest backup: nothing after it can be replayed. */
  gap?: { segment: string; segno: number };
  /** Folders that look like base backups but cannot be restored from (no backup_label). */
  unusable: UnusableBackup[];
  /** The first WAL record after the newest backup that fails its checks: recovery stops there, so the window ends before it. */
  corrupt?: BrokenRecord;
}

/** A WAL record that fails its checks, by where it is: the LSN, and the segment file and offset in it. */
export interface BrokenRecord {
  lsn: number;
  segment: string;
  offset: number;
  detail: string;
}

/** Where replay must get to for the copy to be complete, and the commit it must have reached by then. */
export interface ReplayEnd {
  /** Replay must end at this LSN or later (the end of the archive's WAL, or the first commit past the target). */
  lsn: number;
  why: string;
  /** The last commit or abort before it, microseconds since the epoch, as text (JSON has no bigint). */
  lastXactMicros: string | null;
  /** Timelines on the way and the segment each begins in: to name the segment of a replay position. */
  timelines: { timeline: number; beginSegno: number }[];
  segmentSize: number;
}

interface BackupWindow {
  backup: BaseBackup;
  earliestMicros: bigint;
}

export interface RestorePlan {
  window: LocalWindow;
  backup: BaseBackup;
  target: RestoreTarget;
  /** Replay the whole archive (for `latest`, or a target at or after the archive's last transaction). */
  replayToEnd: boolean;
  /** The WAL files recovery will read, in order: from the backup's start to where it stops. */
  walFiles: WalFile[];
  /** Timeline history files of the archive (recovery reads them to follow a timeline). */
  historyFiles: WalFile[];
  /** Every other base backup, and why it was not the one. */
  skipped: { name: string; reason: string }[];
  /** Where replay must end; the engine compares where it really ended once the copy is promoted. */
  replayEnd: ReplayEnd;
}

/** Reads backups and archive and derives the restore window; see the README, "How the window is derived". */
export async function readWindow(source: LocalSource): Promise<{ window: LocalWindow; wal: WalIndex }> {
  const archiveDir = source.restoreCommand
    ? await ensureScratchRoot().then(() => fetchArchive(source.baseBackups, source.restoreCommand!))
    : source.walArchive;
  if (!archiveDir) throw new NoBaseBackupError('the local provider needs walArchive (a folder) or restoreCommand');
  const archive = await listWalFolder(archiveDir).catch((error: NodeJS.ErrnoException) => {
    throw new NoBaseBackupError(`cannot read the WAL archive folder ${archiveDir}: ${error.code ?? error.message}`);
  });
  const { backups, unusable } = await listBaseBackups(source.baseBackups, archive);
  const anySegment = [archive, ...backups.map((b) => b.ownWal)].flatMap((l) => (l ? [...l.segments.values()] : []))[0];
  if (!anySegment) throw new NoBaseBackupError(`the WAL archive ${archiveDir} holds no WAL segment`);
  const segmentSize = await readSegmentSize(anySegment);
  const wal = new WalIndex(archive, segmentSize);
  await wal.loadHistories();

  const backupWindows: BackupWindow[] = [];
  for (const backup of backups) backupWindows.push({ backup, earliestMicros: await earliestFrom(backup, wal) });
  const newest = backupWindows.at(-1)!;
  const path = wal.timelinePath(newest.backup);
  // Recovery stops at the first missing segment: the window ends at the last transaction before it.
  const startSegno = segnoOf(newest.backup.startLsn, segmentSize);
  const gapSegno = wal.firstMissing(path, startSegno, wal.endSegno(path, newest.backup), newest.backup);
  const gap = gapSegno === undefined ? undefined : { segno: gapSegno, segment: segmentName({ timeline: path.timelineAt(gapSegno), segno: gapSegno }, segmentSize) };
  // Every record from the newest backup on is read and checked (length, link, CRC-32C), as recovery
  // will: a bad record ends what can be replayed, and so the window, however much WAL lies after it.
  const lastSegno = (gapSegno ?? wal.endSegno(path, newest.backup) + 1) - 1;
  const scan = await wal.scanForward(path, startSegno, lastSegno, newest.backup);
  const lastXact = scan.lastXact?.micros;
  const earliestMicros = backupWindows.reduce((min, b) => (b.earliestMicros < min ? b.earliestMicros : min), newest.earliestMicros);
  const latestMicros = lastXact !== undefined && lastXact > newest.earliestMicros ? lastXact : newest.earliestMicros;
  return {
    window: {
      archiveDir,
      earliest: microsToDate(earliestMicros + 999n),
      latest: microsToDate(latestMicros),
      backups: backupWindows,
      segmentSize,
      lastXactMicros: lastXact,
      ...(gap ? { gap } : {}),
      unusable,
      ...(scan.broken ? { corrupt: scan.broken } : {}),
    },
    wal,
  };
}

/**
 * Everything decided before a copy exists: the target is inside the window, a backup ends before it,
 * and the WAL from that backup's start to the target is all there. Touches nothing.
 */
export async function planRestore(source: LocalSource, target: RestoreTarget): Promise<RestorePlan> {
  const { window, wal } = await readWindow(source);
  const describe = `the restore window is ${window.earliest.toISOString()} to ${window.latest.toISOString()}`;
  let chosen: BackupWindow | undefined;
  let replayToEnd = target.kind === 'latest';
  if (target.kind === 'time') {
    if (target.time > window.latest && window.gap) {
      throw new WalGapError(
        `WAL segment ${window.gap.segment} is missing from the archive ${window.archiveDir}: the WAL reaches only to ` +
          `${window.latest.toISOString()}, so target ${target.time.toISOString()} cannot be restored`,
        window.gap.segment,
      );
    }
    if (target.time > window.latest && window.corrupt) throw corruptError(window.corrupt, window, target, window.latest);
    if (target.time < window.earliest || target.time > window.latest) {
      throw new TargetOutsideWindowError(
        `target ${target.time.toISOString()} is outside the restore window: ${describe} ` +
          `(earliest = end of the oldest base backup, latest = last transaction in the WAL archive)`,
      );
    }
    const targetMicros = dateToMicros(target.time);
    chosen = window.backups.findLast((b) => b.earliestMicros <= targetMicros);
    replayToEnd = window.lastXactMicros === undefined || targetMicros >= window.lastXactMicros;
  } else {
    chosen = window.backups.at(-1);
  }
  if (!chosen) throw new TargetOutsideWindowError(`no base backup ends before the target; ${describe}`);
  const { backup } = chosen;
  // A broken backup newer than the one chosen is the one the restore should have used: that is what a drill exists to find.
  const broken = window.unusable.find((b) => b.startLsn === undefined || b.startLsn > backup.startLsn);
  if (broken) {
    throw new BrokenBackupError(
      `base backup ${broken.name} (${broken.path}) cannot be used: ${broken.reason}. It is newer than ${backup.name}, the backup this ` +
        `restore would fall back to; a copy from ${backup.name} would hide that the newest backup is broken. Take a new base backup ` +
        `(pg_basebackup writes backup_label and backup_manifest), or move ${broken.name} out of ${source.baseBackups}`,
      broken.name,
    );
  }
  const skipped = [
    ...window.backups
      .filter((b) => b.backup !== backup)
      .map((b) => ({
        name: b.backup.name,
        reason: b.backup.startLsn > backup.startLsn ? 'it ends after the target' : `${backup.name} is newer and ends before the target`,
      })),
    ...window.unusable.map((b) => ({ name: b.name, reason: b.reason })),
  ];
  if (backup.tablespaces.length > 0) {
    throw new RestoreDrillError(
      'input',
      `base backup ${backup.path} has tablespaces (pg_tblspc: ${backup.tablespaces.join(', ')}); ` +
        `a copy could write into the source's tablespace folders, so restore-drill refuses it`,
    );
  }

  const links = await symlinksIn(backup.path);
  if (links.length > 0) throw symlinkRefusal(backup.path, links);

  const path = wal.timelinePath(backup);
  const startSegno = segnoOf(backup.startLsn, window.segmentSize);
  const endSegno = Math.max(wal.endSegno(path, backup), segnoOf(backup.stopLsn ?? backup.startLsn, window.segmentSize));
  const walFiles: WalFile[] = [];
  for (let segno = startSegno; segno <= endSegno; segno++) {
    const file = wal.fileFor(path, segno, backup);
    if (file) {
      walFiles.push(file);
      continue;
    }
    const missing = segmentName({ timeline: path.timelineAt(segno), segno }, window.segmentSize);
    const reachable = await wal.lastXactBefore(path, segno, startSegno, backup);
    const reachableText = reachable === undefined ? 'no transaction at all' : microsToDate(reachable).toISOString();
    const neededBeyond =
      target.kind === 'latest' || replayToEnd || reachable === undefined || dateToMicros(target.time) >= reachable;
    if (neededBeyond || (backup.stopLsn !== undefined && segno <= segnoOf(backup.stopLsn, window.segmentSize))) {
      const wanted = target.kind === 'latest' ? 'latest' : target.time.toISOString();
      throw new WalGapError(
        `WAL segment ${missing} is missing from the archive ${window.archiveDir}: from base backup ${backup.name} ` +
          `the WAL reaches only to ${reachableText}, so target ${wanted} cannot be restored ` +
          `(Postgres would stop at the hole and promote an incomplete copy)`,
        missing,
      );
    }
    break; // the target lies before the hole: recovery stops before reading it
  }
  // What recovery will read from this backup: to the first commit past the target (recovery_target_time
  // stops before it), or to the end. A bad record before that is where Postgres would stop and promote.
  const stopAfter = target.kind === 'time' && !replayToEnd ? dateToMicros(target.time) : undefined;
  const lastSegno = startSegno + walFiles.length - 1;
  const scan = await wal.scanForward(path, startSegno, lastSegno, backup, stopAfter);
  if (scan.broken && !scan.firstAfter) throw corruptError(scan.broken, window, target, scan.lastXact ? microsToDate(scan.lastXact.micros) : undefined);
  const replayEnd: ReplayEnd = {
    lsn: scan.firstAfter ? scan.firstAfter.lsn : scan.endLsn,
    why: scan.firstAfter
      ? `the first commit after the target ${target.kind === 'time' ? target.time.toISOString() : ''}, where recovery_target_time stops replay`
      : 'where the WAL in the archive ends (target latest, or a target at or after its last commit)',
    lastXactMicros: scan.lastXact ? scan.lastXact.micros.toString() : null,
    timelines: path.timelines,
    segmentSize: window.segmentSize,
  };
  return { window, backup, target, replayToEnd, walFiles, historyFiles: [...wal.archive.histories.values()], skipped, replayEnd };
}

/** Names a WAL position the way a person finds it on disk: the segment file, and the offset in it. */
export function walPlace(lsn: number, timelines: ReplayEnd['timelines'], segmentSize: number): { segment: string; offset: number; text: string } {
  const segno = segnoOf(lsn, segmentSize);
  const timeline = timelines.findLast((t) => t.beginSegno <= segno)?.timeline ?? timelines[0]?.timeline ?? 1;
  const segment = segmentName({ timeline, segno }, segmentSize);
  const offset = lsn % segmentSize;
  return { segment, offset, text: `${formatLsn(lsn)} (segment ${segment}, offset 0x${offset.toString(16).toUpperCase()})` };
}

function corruptError(broken: BrokenRecord, window: LocalWindow, target: RestoreTarget, reachable: Date | undefined): WalCorruptError {
  const wanted = target.kind === 'latest' ? 'latest' : target.time.toISOString();
  return new WalCorruptError(
    `the WAL record at ${formatLsn(broken.lsn)} (segment ${broken.segment}, offset 0x${broken.offset.toString(16).toUpperCase()}) in ${window.archiveDir} ` +
      `is damaged: ${broken.detail}. Recovery stops there and promotes what it has: the WAL reaches only to ` +
      `${reachable ? reachable.toISOString() : 'no transaction at all'} (the last commit before it), so target ${wanted} cannot be restored. ` +
      `Restore that segment from another copy of the archive, or take a new base backup`,
    broken.segment,
    broken.offset,
  );
}

async function earliestFrom(backup: BaseBackup, wal: WalIndex): Promise<bigint> {
  if (backup.stopTime) return dateToMicros(backup.stopTime) + 1_000_000n; // stop time is truncated to the second
  if (backup.stopLsn === undefined || !backup.startTime) {
    throw new NoBaseBackupError(
      `cannot tell where base backup ${backup.path} ends: the archive has no backup history file ` +
        `(<segment>.<offset>.backup) for it and the backup has no backup_manifest`,
    );
  }
  const path = wal.timelinePath(backup);
  const lastInBackup = await wal.lastXactBefore(
    path,
    segnoOf(backup.stopLsn, wal.segmentSize) + 1,
    segnoOf(backup.startLsn, wal.segmentSize),
    backup,
    backup.stopLsn,
  );
  const startMicros = dateToMicros(backup.startTime) + 1_000_000n;
  return lastInBackup !== undefined && lastInBackup > startMicros ? lastInBackup : startMicros;
}

export interface ForwardScan {
  /** The last commit or abort read: before the stop, the bad record, or the end. */
  lastXact: XactRecord | undefined;
  /** With stopAfterMicros: the first commit or abort later than it. */
  firstAfter?: XactRecord;
  /** Just past the last record read and checked. */
  endLsn: number;
  broken?: BrokenRecord;
}

const scanCache = new Map<string, ForwardScan>();

interface TimelinePath {
  /** Timelines from the backup's to the newest that descends from it, each with the segment it begins in. */
  timelines: { timeline: number; beginSegno: number }[];
  timelineAt(segno: number): number;
}

/** The archive (and a backup's own pg_wal) seen as recovery sees it: which file serves which segment. */
export class WalIndex {
  readonly archive: ArchiveListing;
  readonly segmentSize: number;

  constructor(archive: ArchiveListing, segmentSize: number) {
    this.archive = archive;
    this.segmentSize = segmentSize;
  }

  /** Like recovery_target_timeline = 'latest': follow the newest timeline whose history includes the backup's. */
  timelinePath(backup: BaseBackup): TimelinePath {
    let timelines = [{ timeline: backup.timeline, beginSegno: 0 }];
    for (const [timeline] of [...this.archive.histories].sort(([a], [b]) => b - a)) {
      if (timeline <= backup.timeline) break;
      const history = this.historyOf(timeline);
      if (history && history.some((entry) => entry.timeline === backup.timeline)) {
        timelines = [...history.filter((entry) => entry.timeline >= backup.timeline), { timeline, switchLsn: 0 }].map(
          (entry, index, all) => ({
            timeline: entry.timeline,
            beginSegno: index === 0 ? 0 : segnoOf(all[index - 1]!.switchLsn, this.segmentSize),
          }),
        );
        break;
      }
    }
    return {
      timelines,
      timelineAt: (segno) => timelines.findLast((t) => t.beginSegno <= segno)?.timeline ?? backup.timeline,
    };
  }

  private readonly histories = new Map<number, ReturnType<typeof parseTimelineHistory> | undefined>();

  private historyOf(timeline: number) {
    return this.histories.get(timeline);
  }

  async loadHistories(): Promise<void> {
    for (const [timeline, file] of this.archive.histories) {
      this.histories.set(timeline, parseTimelineHistory((await readWalFile(file)).toString('utf8')));
    }
  }

  /** The file recovery would read for a segment: newest timeline first, as XLogFileReadAnyTLI does. */
  fileFor(path: TimelinePath, segno: number, backup?: BaseBackup): WalFile | undefined {
    for (const { timeline, beginSegno } of [...path.timelines].reverse()) {
      if (segno < beginSegno) continue;
      const name = segmentName({ timeline, segno }, this.segmentSize);
      const file = this.archive.segments.get(name) ?? backup?.ownWal?.segments.get(name);
      if (file) return file;
    }
    return undefined;
  }

  /** The first segment of from..to that neither the archive nor the backup's own WAL holds. */
  firstMissing(path: TimelinePath, from: number, to: number, backup?: BaseBackup): number | undefined {
    for (let segno = from; segno <= to; segno++) if (!this.fileFor(path, segno, backup)) return segno;
    return undefined;
  }

  /** The newest segment number on the path, in the archive or the backup's own WAL. */
  endSegno(path: TimelinePath, backup?: BaseBackup): number {
    const timelines = new Set(path.timelines.map((t) => t.timeline));
    let end = -1;
    for (const listing of [this.archive, backup?.ownWal]) {
      for (const name of listing?.segments.keys() ?? []) {
        const segno = parseInt(name.slice(8, 16), 16) * (0x1_0000_0000 / this.segmentSize) + parseInt(name.slice(16), 16);
        if (timelines.has(parseInt(name.slice(0, 8), 16)) && segno > end) end = segno;
      }
    }
    return end;
  }

  private readonly scans = new Map<string, ForwardScan>();

  /**
   * Reads every record of the segments from..to (no holes among them) in order, checking each (length,
   * link to the one before, CRC-32C), in chunks so that memory stays bounded. With `stopAfterMicros`,
   * stops at the first commit or abort later than it (where recovery_target_time stops). A record that
   * fails its checks ends the scan (`broken`), unless it lies where a backup's own partly written pg_wal
   * segment simply ends; the archive's segments are complete, so there nothing but a record may follow.
   */
  async scanForward(path: TimelinePath, from: number, to: number, backup?: BaseBackup, stopAfterMicros?: bigint): Promise<ForwardScan> {
    const files: WalFile[] = [];
    for (let segno = from; segno <= to; segno++) {
      const file = this.fileFor(path, segno, backup);
      if (!file) break;
      files.push(file);
    }
    // The window, the plan and the restore each ask for the same scan: read the WAL once per version of its files.
    const stamps = await Promise.all(files.map((file) => stat(file.path).then((info) => `${file.path}:${info.size}:${info.mtimeMs}`, () => file.path)));
    const key = `${from}:${stopAfterMicros ?? ''}:${stamps.join('|')}`;
    const cached = this.scans.get(key) ?? scanCache.get(key);
    if (cached) return cached;
    const result = await this.readForward(files, from, stopAfterMicros, path);
    this.scans.set(key, result);
    scanCache.set(key, result);
    if (scanCache.size > 32) scanCache.delete(scanCache.keys().next().value!);
    return result;
  }

  private async readForward(files: WalFile[], from: number, stopAfterMicros: bigint | undefined, path: TimelinePath): Promise<ForwardScan> {
    const chunk = 8;
    let lastXact: XactRecord | undefined;
    let endLsn = from * this.segmentSize;
    let carried: SegmentData | undefined;
    for (let low = 0; low < files.length; ) {
      const high = Math.min(files.length - 1, low + chunk - 1);
      const segments: SegmentData[] = [];
      for (let index = low; index <= high; index++) {
        const segno = from + index;
        segments.push(carried?.segno === segno ? carried : { segno, data: await readWalFile(files[index]!) });
      }
      const scan: WalScan = scanXacts(segments, this.segmentSize);
      for (const xact of scan.xacts) {
        // The overlapping segment is read twice: what the chunk before saw counts once.
        if (xact.lsn < endLsn) continue;
        if (stopAfterMicros !== undefined && xact.micros > stopAfterMicros) return { lastXact, firstAfter: xact, endLsn: xact.lsn };
        lastXact = xact;
      }
      endLsn = Math.max(endLsn, scan.endLsn);
      const last = high === files.length - 1;
      if (scan.stop && (scan.stop.reason !== 'incomplete' || !last)) {
        const stopSegno = segnoOf(scan.endLsn, this.segmentSize);
        const file = files[stopSegno - from];
        const ownWalEnds = file !== undefined && this.archive.segments.get(file.name) !== file && (scan.stop.reason === 'zero' || scan.stop.reason === 'page');
        if (scan.stop.reason !== 'incomplete' && !ownWalEnds) {
          const segment = segmentName({ timeline: path.timelineAt(stopSegno), segno: stopSegno }, this.segmentSize);
          return { lastXact, endLsn, broken: { lsn: scan.endLsn, segment, offset: scan.endLsn % this.segmentSize, detail: scan.stop.detail } };
        }
        if (scan.stop.reason !== 'incomplete') return { lastXact, endLsn };
      }
      if (last) break;
      // The next chunk starts on this one's last segment, or where the record that ran out of data begins:
      // a record running on into the next chunk is read whole there.
      let next = high > low ? high : high + 1;
      if (scan.stop?.reason === 'incomplete') next = Math.min(next, segnoOf(scan.endLsn, this.segmentSize) - from);
      if (next <= low) {
        const stopSegno = segnoOf(scan.endLsn, this.segmentSize);
        const segment = segmentName({ timeline: path.timelineAt(stopSegno), segno: stopSegno }, this.segmentSize);
        return { lastXact, endLsn, broken: { lsn: scan.endLsn, segment, offset: scan.endLsn % this.segmentSize, detail: `a record longer than ${chunk - 1} segments (its length is damaged)` } };
      }
      carried = segments.find((segment) => segment.segno === from + next);
      low = next;
    }
    return { lastXact, endLsn };
  }

  /**
   * The time of the last commit or abort in the segments before `endSegno` (exclusive), reading back
   * in chunks no further than `floorSegno`, and only records before `beforeLsn` when given.
   */
  async lastXactBefore(
    path: TimelinePath,
    endSegno: number,
    floorSegno: number,
    backup?: BaseBackup,
    beforeLsn?: number,
  ): Promise<bigint | undefined> {
    // The last segment alone first: an archive usually ends with the segment its last commit is in, and
    // every restore asks this, so reading 16 MB instead of 64 MB matters. Nothing found there (or only
    // the tail of a commit that began in the segment before) falls through to the chunks below.
    const last = await this.xactsIn(path, Math.max(floorSegno, endSegno - 1), endSegno - 1, backup, beforeLsn);
    if (last.length > 0) return last.at(-1)!.micros;
    const chunk = 4;
    for (let high = endSegno - 1; high >= floorSegno; high -= chunk - 1) {
      const xacts = await this.xactsIn(path, Math.max(floorSegno, high - chunk + 1), high, backup, beforeLsn);
      if (xacts.length > 0) return xacts.at(-1)!.micros;
      if (high - chunk + 1 <= floorSegno) break;
    }
    return undefined;
  }

  /** Commit and abort records of the segments low..high (after the last missing one), before `beforeLsn` when given. */
  private async xactsIn(path: TimelinePath, low: number, high: number, backup?: BaseBackup, beforeLsn?: number): Promise<XactRecord[]> {
    const segments: SegmentData[] = [];
    for (let segno = low; segno <= high; segno++) {
      const file = this.fileFor(path, segno, backup);
      if (!file) {
        segments.length = 0;
        continue;
      }
      segments.push({ segno, data: await readWalFile(file) });
    }
    return scanXacts(segments, this.segmentSize).xacts.filter((x) => beforeLsn === undefined || x.lsn < beforeLsn);
  }
}

/**
 * Symbolic links inside a backup folder, pg_wal apart (the engine copies its content instead): a copy
 * made with the link in place would write through it into the source's own files (pg_xact, base/...).
 */
export async function symlinksIn(root: string): Promise<{ path: string; target: string }[]> {
  const found: { path: string; target: string }[] = [];
  const walk = async (dir: string, relative: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isSymbolicLink()) {
        if (path !== 'pg_wal') found.push({ path, target: await readlink(join(dir, entry.name)).catch(() => '?') });
      } else if (entry.isDirectory()) {
        await walk(join(dir, entry.name), path);
      }
    }
  };
  await walk(root, '');
  return found.sort((a, b) => a.path.localeCompare(b.path));
}

export function symlinkRefusal(backupPath: string, links: readonly { path: string; target: string }[]): RestoreDrillError {
  return new RestoreDrillError(
    'input',
    `base backup ${backupPath} holds symbolic links (${links.map((link) => `${link.path} -> ${link.target}`).join(', ')}): ` +
      `a copy would write through them into the source's files, so restore-drill refuses it. Take the backup with pg_basebackup, ` +
      `or replace each link with the folder it points to`,
  );
}
