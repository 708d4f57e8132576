import { NoBaseBackupError, TargetOutsideWindowError, WalGapError } from '../../errors.ts';
import type { BaseBackup } from '../local/backups.ts';
import { WalCorruptError } from '../local/errors.ts';
import { WalIndex, type BrokenRecord, type ReplayEnd } from '../local/plan.ts';
import { listWalFolder, readSegmentSize, type ArchiveListing, type WalFile } from '../local/wal/archive.ts';
import { dateToMicros, formatLsn, microsToDate, segmentName, segnoOf } from '../local/wal/lsn.ts';
import type { CopyTarget, RestoreWindow } from '../types.ts';
import { listRepoArchive, WalCache, type RepoArchiveListing } from './archive.ts';
import type { PgbackrestSource } from './command.ts';
import { readStanzaInfo, type RepoBackup, type StanzaInfo } from './info.ts';

export interface RepoBackupWindow {
  backup: RepoBackup;
  /** The earliest time a copy from this backup is consistent: its stop time, plus the second pgBackRest truncates. */
  earliestMicros: bigint;
}

export interface RepoWindow extends RestoreWindow {
  info: StanzaInfo;
  backups: RepoBackupWindow[];
  /** Backup sets that are not restored from, with why. */
  unusable: { name: string; reason: string }[];
  /** Our cache of the repository's WAL (fetched with archive-get): what the copy replays. */
  cacheDir: string;
  segmentSize: number;
  lastXactMicros: bigint | undefined;
  /** The first segment the repository's archive lacks after the newest backup. */
  gap?: { segment: string; segno: number };
  corrupt?: BrokenRecord;
}

export interface RepoPlan {
  window: RepoWindow;
  backup: RepoBackup;
  /** The set and every set it references (a diff its full, an incr its diff and full): what pgBackRest reads. */
  chain: string[];
  target: CopyTarget;
  replayToEnd: boolean;
  walFiles: WalFile[];
  historyFiles: WalFile[];
  skipped: { name: string; reason: string }[];
  replayEnd: ReplayEnd;
}

/** WalIndex speaks of base backups: what it reads of one is its timeline (and its own pg_wal, which a repository backup leaves in the repository). */
function asBaseBackup(backup: RepoBackup): BaseBackup {
  return {
    name: backup.label,
    path: backup.label,
    pgMajor: backup.pgMajor,
    timeline: backup.timeline,
    startLsn: backup.startLsn,
    stopLsn: backup.stopLsn,
    startTime: backup.startTime,
    stopTime: backup.stopTime,
    ownWal: undefined,
    tablespaces: [],
    pgWalIsLink: false,
  };
}

const hex8 = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');

interface PreparedWal {
  wal: WalIndex;
  cache: WalCache;
  segmentSize: number;
  /** The first segment from the backup's start that the repository does not hold, while it holds later ones. */
  gap?: { segment: string; segno: number };
}

/**
 * Fetches into the cache the WAL a restore from `from` reads: the repository's timeline histories and
 * every segment from the backup's start, along the timeline recovery follows, until the archive ends
 * or lacks one. The listing is the repository's (repo-ls): a segment missing there is missing, cached or not.
 */
async function prepareWal(source: PgbackrestSource, workDir: string, from: RepoBackup): Promise<PreparedWal> {
  const repo = await listRepoArchive(source, workDir, from.archiveId);
  const cache = new WalCache(source, workDir, from);
  if (!repo.segments.has(from.archiveStart) || !(await cache.fetch(from.archiveStart))) {
    throw new WalGapError(
      `WAL segment ${from.archiveStart}, where backup ${from.label} starts, is missing from the repository (stanza ${source.stanza}, repo${source.repo}): ` +
        'no copy can be made from this backup. Check archive_command (pgbackrest archive-push) and run pgbackrest check',
      from.archiveStart,
    );
  }
  const segmentSize = await readSegmentSize({ name: from.archiveStart, path: `${cache.dir}/${from.archiveStart}`, gzip: false });
  for (const timeline of [...repo.histories].filter((timeline) => timeline > from.timeline).sort((a, b) => a - b)) {
    await cache.fetch(`${hex8(timeline)}.history`);
  }
  let wal = new WalIndex(repoView(await listWalFolder(cache.dir), repo), segmentSize);
  await wal.loadHistories();
  const path = wal.timelinePath(asBaseBackup(from));
  const timelines = new Set(path.timelines.map((entry) => entry.timeline));
  let maxSegno = -1;
  for (const name of repo.segments) {
    const segno = parseInt(name.slice(8, 16), 16) * (0x1_0000_0000 / segmentSize) + parseInt(name.slice(16), 16);
    if (timelines.has(parseInt(name.slice(0, 8), 16)) && segno > maxSegno) maxSegno = segno;
  }
  let gap: PreparedWal['gap'];
  for (let segno = segnoOf(from.startLsn, segmentSize); segno <= maxSegno; segno++) {
    const name = [...path.timelines]
      .reverse()
      .filter((entry) => segno >= entry.beginSegno)
      .map((entry) => segmentName({ timeline: entry.timeline, segno }, segmentSize))
      .find((candidate) => repo.segments.has(candidate));
    if (!name) {
      gap = { segno, segment: segmentName({ timeline: path.timelineAt(segno), segno }, segmentSize) };
      break;
    }
    await cache.fetch(name);
  }
  wal = new WalIndex(repoView(await listWalFolder(cache.dir), repo), segmentSize);
  await wal.loadHistories();
  return { wal, cache, segmentSize, ...(gap ? { gap } : {}) };
}

/** The cache seen as the repository is: only what the repository still holds. */
function repoView(cached: ArchiveListing, repo: RepoArchiveListing): ArchiveListing {
  return {
    ...cached,
    segments: new Map([...cached.segments].filter(([name]) => repo.segments.has(name))),
    histories: new Map([...cached.histories].filter(([timeline]) => repo.histories.has(timeline))),
  };
}

/** The restore window of a stanza's repository: from the oldest backup's stop to the last commit the archive's WAL holds. */
export async function readRepoWindow(source: PgbackrestSource, workDir: string): Promise<{ window: RepoWindow; prepared: PreparedWal }> {
  const info = await readStanzaInfo(source, workDir);
  const usable = info.backups.filter((backup) => !backup.error);
  const unusable = info.backups
    .filter((backup) => backup.error)
    .map((backup) => ({ name: backup.label, reason: 'pgBackRest found page checksum errors while it took this backup (pgbackrest info --set shows them)' }));
  const newest = usable.at(-1);
  if (!newest) {
    throw new NoBaseBackupError(
      `stanza ${source.stanza} has no usable backup in repo${source.repo}${unusable.length ? ` (${unusable.map((b) => `${b.name}: ${b.reason}`).join('; ')})` : ''}: ` +
        `take one with pgbackrest --stanza=${source.stanza} backup --type=full`,
    );
  }
  const prepared = await prepareWal(source, workDir, newest);
  const { wal, segmentSize } = prepared;
  const backups = usable.map((backup) => ({ backup, earliestMicros: dateToMicros(backup.stopTime) + 1_000_000n }));
  const newestWindow = backups.at(-1)!;
  const base = asBaseBackup(newest);
  const path = wal.timelinePath(base);
  const startSegno = segnoOf(newest.startLsn, segmentSize);
  const lastSegno = (prepared.gap?.segno ?? wal.endSegno(path, base) + 1) - 1;
  // Every record from the newest backup on is read and checked (length, link, CRC-32C), as recovery will.
  const scan = await wal.scanForward(path, startSegno, lastSegno, base);
  const lastXact = scan.lastXact?.micros;
  const earliestMicros = backups[0]!.earliestMicros;
  const latestMicros = lastXact !== undefined && lastXact > newestWindow.earliestMicros ? lastXact : newestWindow.earliestMicros;
  const notes = [
    ...(prepared.gap ? [`WAL segment ${prepared.gap.segment} is missing from the repository (stanza ${source.stanza}, repo${source.repo}): nothing after it can be replayed, so the window ends at the last transaction before it`] : []),
    ...(scan.broken
      ? [`the WAL record at segment ${scan.broken.segment}, offset 0x${scan.broken.offset.toString(16).toUpperCase()} is damaged (${scan.broken.detail}): recovery stops there, so the window ends at the last transaction before it`]
      : []),
    ...unusable.map((backup) => `backup ${backup.name} cannot be used: ${backup.reason}`),
  ];
  return {
    window: {
      earliest: microsToDate(earliestMicros + 999n),
      latest: microsToDate(latestMicros),
      ...(notes.length ? { note: notes.join('; ') } : {}),
      info,
      backups,
      unusable,
      cacheDir: prepared.cache.dir,
      segmentSize,
      lastXactMicros: lastXact,
      ...(prepared.gap ? { gap: prepared.gap } : {}),
      ...(scan.broken ? { corrupt: scan.broken } : {}),
    },
    prepared,
  };
}

/**
 * Everything decided before a copy exists: the target is inside the window, a backup set ends before
 * it, and the repository's WAL from that set's start to the target is all there (and fetched). Touches
 * nothing of the repository.
 */
export async function planRepoRestore(source: PgbackrestSource, workDir: string, target: CopyTarget): Promise<RepoPlan> {
  const { window, prepared: newestWal } = await readRepoWindow(source, workDir);
  const where = `the repository (stanza ${source.stanza}, repo${source.repo})`;
  const describe = `the restore window is ${window.earliest.toISOString()} to ${window.latest.toISOString()}`;
  let chosen: RepoBackupWindow | undefined;
  let replayToEnd = target.kind === 'latest';
  if (target.kind === 'time') {
    if (target.time > window.latest && window.gap) {
      throw new WalGapError(
        `WAL segment ${window.gap.segment} is missing from ${where}: the WAL reaches only to ${window.latest.toISOString()}, so target ${target.time.toISOString()} cannot be restored`,
        window.gap.segment,
      );
    }
    if (target.time > window.latest && window.corrupt) throw corruptError(window.corrupt, where, target, window.latest);
    if (target.time < window.earliest || target.time > window.latest) {
      throw new TargetOutsideWindowError(
        `target ${target.time.toISOString()} is outside the restore window: ${describe} (earliest = the oldest backup's stop time, latest = last transaction in the repository's archive)`,
      );
    }
    const targetMicros = dateToMicros(target.time);
    chosen = window.backups.findLast((b) => b.earliestMicros <= targetMicros);
    replayToEnd = window.lastXactMicros === undefined || targetMicros >= window.lastXactMicros;
  } else {
    chosen = window.backups.at(-1);
  }
  if (!chosen) throw new TargetOutsideWindowError(`no backup set ends before the target; ${describe}`);
  const { backup } = chosen;
  const { wal, segmentSize, gap } = backup === window.backups.at(-1)!.backup ? newestWal : await prepareWal(source, workDir, backup);
  const base = asBaseBackup(backup);
  const path = wal.timelinePath(base);
  const startSegno = segnoOf(backup.startLsn, segmentSize);
  // Up to the gap the repository's listing shows, whatever the cache holds beyond it: the cache is filled only up
  // to a gap, so segments archived after one would otherwise never be seen, and latest would end quietly before it.
  const endSegno = Math.max(wal.endSegno(path, base), segnoOf(backup.stopLsn, segmentSize), gap?.segno ?? -1);
  const walFiles: WalFile[] = [];
  for (let segno = startSegno; segno <= endSegno; segno++) {
    const file = wal.fileFor(path, segno, base);
    if (file) {
      walFiles.push(file);
      continue;
    }
    const missing = segmentName({ timeline: path.timelineAt(segno), segno }, segmentSize);
    const reachable = await wal.lastXactBefore(path, segno, startSegno, base);
    const reachableText = reachable === undefined ? 'no transaction at all' : microsToDate(reachable).toISOString();
    const neededBeyond = target.kind === 'latest' || replayToEnd || reachable === undefined || dateToMicros(target.time) >= reachable;
    if (neededBeyond || segno <= segnoOf(backup.stopLsn, segmentSize)) {
      const wanted = target.kind === 'latest' ? 'latest' : target.time.toISOString();
      throw new WalGapError(
        `WAL segment ${missing} is missing from ${where}: from backup ${backup.label} the WAL reaches only to ${reachableText}, ` +
          `so target ${wanted} cannot be restored (Postgres would stop at the hole and promote an incomplete copy)`,
        missing,
      );
    }
    break;
  }
  const stopAfter = target.kind === 'time' && !replayToEnd ? dateToMicros(target.time) : undefined;
  const scan = await wal.scanForward(path, startSegno, startSegno + walFiles.length - 1, base, stopAfter);
  if (scan.broken && !scan.firstAfter) throw corruptError(scan.broken, where, target, scan.lastXact ? microsToDate(scan.lastXact.micros) : undefined);
  const replayEnd: ReplayEnd = {
    lsn: scan.firstAfter ? scan.firstAfter.lsn : scan.endLsn,
    why: scan.firstAfter
      ? `the first commit after the target ${target.kind === 'time' ? target.time.toISOString() : ''}, where recovery_target_time stops replay`
      : "where the repository's WAL ends (target latest, or a target at or after its last commit)",
    lastXactMicros: scan.lastXact ? scan.lastXact.micros.toString() : null,
    timelines: path.timelines,
    segmentSize,
  };
  // Only the WAL replay reads: up to the segment where it stops.
  const lastNeeded = segnoOf(Math.max(replayEnd.lsn, backup.stopLsn), segmentSize);
  const byLabel = new Map(window.info.backups.map((b) => [b.label, b]));
  const chain: string[] = [];
  for (let at: RepoBackup | undefined = backup; at; at = at.prior ? byLabel.get(at.prior) : undefined) chain.push(at.label);
  const skipped = [
    ...window.backups
      .filter((b) => b.backup !== backup)
      .map((b) => ({ name: b.backup.label, reason: b.backup.stopLsn > backup.stopLsn ? 'it ends after the target' : `${backup.label} is newer and ends before the target` })),
    ...window.unusable,
  ];
  return {
    window,
    backup,
    chain,
    target,
    replayToEnd,
    walFiles: walFiles.filter((_file, index) => startSegno + index <= lastNeeded),
    historyFiles: [...wal.archive.histories.values()],
    skipped,
    replayEnd,
  };
}

function corruptError(broken: BrokenRecord, where: string, target: CopyTarget, reachable: Date | undefined): WalCorruptError {
  const wanted = target.kind === 'latest' ? 'latest' : target.time.toISOString();
  return new WalCorruptError(
    `the WAL record at ${formatLsn(broken.lsn)} (segment ${broken.segment}, offset 0x${broken.offset.toString(16).toUpperCase()}) in ${where} is damaged: ${broken.detail}. ` +
      `Recovery stops there and promotes what it has: the WAL reaches only to ${reachable ? reachable.toISOString() : 'no transaction at all'}, so target ${wanted} cannot be restored`,
    broken.segment,
    broken.offset,
  );
}
