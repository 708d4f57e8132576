import { NoBaseBackupError, TargetOutsideWindowError, WalGapError, RestoreDrillError } from '../../errors.ts';
import { listBaseBackups, type BaseBackup, type UnusableBackup } from './backups.ts';
import { BrokenBackupError } from './errors.ts';
import {
  listWalFolder,
  parseTimelineHistory,
  readSegmentSize,
  readWalFile,
  type ArchiveListing,
  type WalFile,
} from './wal/archive.ts';
import { dateToMicros, microsToDate, segmentName, segnoOf } from './wal/lsn.ts';
import { scanXacts, type SegmentData, type XactRecord } from './wal/reader.ts';
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
}

/** Reads backups and archive and derives the restore window; see the README, "How the window is derived". */
/** `latest: false` skips reading the archive's last transaction: `latest` is then the newest backup's end. */
export async function readWindow(
  source: LocalSource,
  options: { latest?: boolean } = {},
): Promise<{ window: LocalWindow; wal: WalIndex }> {
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
  // Reading the archive's last transaction costs a scan of its newest segments; a restore to `latest`
  // replays to the end anyway and does not need it (options.latest = false).
  const lastXact = options.latest === false ? undefined : await wal.lastXactBefore(path, gapSegno ?? wal.endSegno(path) + 1, startSegno, newest.backup);
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
    },
    wal,
  };
}

/**
 * Everything decided before a copy exists: the target is inside the window, a backup ends before it,
 * and the WAL from that backup's start to the target is all there. Touches nothing.
 */
export async function planRestore(source: LocalSource, target: RestoreTarget): Promise<RestorePlan> {
  const { window, wal } = await readWindow(source, { latest: target.kind !== 'latest' });
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
  return { window, backup, target, replayToEnd, walFiles, historyFiles: [...wal.archive.histories.values()], skipped };
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
