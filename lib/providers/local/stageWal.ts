import { constants } from 'node:fs';
import { access, chown, copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import type { WalFile } from './wal/archive.ts';
import { RECOVERY_SIGNAL, recoverySettings, RESTARTPOINT_SETTINGS, type CopyConfOptions } from './copyConfig.ts';

/** Segments copied at once: enough to keep a disk busy, few enough to leave a core to replay. */
const PARALLEL_COPIES = 2;
const LEAD_POLL_MS = 25;

export interface StagedWal {
  /** Where an empty file per staged segment says "already in pg_wal": the copy's restore_command reads it. */
  markerDir: string;
  /** Segments offered for staging (the archive's plain ones that recovery reads). */
  segments: number;
}

export interface WalStaging extends StagedWal {
  /** Settles once every segment is staged, or staging stopped; never rejects (what is not staged is restore_command's). */
  done: Promise<{ staged: number; stoppedBy?: string }>;
}

export interface StageOptions {
  /** Called before each segment: throws to stop (the copy is being removed). */
  beforeEach?: () => void;
  /** The server's OS user, when it is not us: each staged file is its own before its marker says "staged" (Postgres recycles them). */
  owner?: { uid: number; gid: number } | undefined;
  /**
   * How many segments staging may run ahead of the one the server last asked for (skipStaged's
   * restore_command writes its name). Unset: all at once, for a server that starts only once staging is done.
   */
  lead?: number | undefined;
}

/** The file the copy's restore_command writes the name of each file it is asked for into (see skipStaged). */
export const ASKED_FILE = 'asked';

/**
 * Staging's lead over replay for a server that starts before staging ends: far enough that replay
 * never waits (staging copies several times faster than replay reads), near enough that staging does
 * not fill the page cache with dirty WAL that replay reads minutes later (at 7 GB of WAL, staging all
 * at once slowed replay down).
 */
export const STAGING_LEAD_BYTES = 512 * 1024 * 1024;

/**
 * Copies the archive's plain WAL segments that recovery will read (the plan read and checked every
 * record of them) into the copy's pg_wal, in replay order and alongside replay: the server starts as
 * soon as its base backup is verified, and a segment staged ahead of replay is read from pg_wal
 * instead of through one restore_command process per segment (3 GB of WAL: replay 10 s instead of
 * 21 s). A segment counts as staged only once it is whole and the server's: until then its marker
 * does not exist and restore_command fetches it itself, so replay overtaking the staging costs
 * nothing but that fetch (staging stops at its first failure for the same reason). A clone where the
 * filesystem can (COPYFILE_FICLONE), a copy otherwise; never a hard link, since the server recycles
 * and overwrites the files in its pg_wal. Compressed segments are left to restore_command, and so are
 * segments the backup's own pg_wal holds (they are not the archive's).
 */
export async function startWalStaging(files: readonly WalFile[], archiveDir: string, dataDir: string, markerDir: string, options: StageOptions = {}): Promise<WalStaging> {
  const wanted = files.filter((file) => !file.gzip && file.path.startsWith(`${archiveDir}/`));
  await mkdir(markerDir, { mode: 0o755 });
  const asked = join(markerDir, ASKED_FILE);
  await writeFile(asked, '', { mode: 0o644 });
  if (options.owner) await chown(asked, options.owner.uid, options.owner.gid);
  const order = new Map(wanted.map((file, index) => [file.name, index]));
  let replaying = -1;
  const readAsked = async () => {
    const name = (await readFile(asked, 'utf8').catch(() => '')).trim();
    replaying = Math.max(replaying, order.get(name) ?? -1);
  };
  let recoveryEnded = false;
  /** Whether segment `index` is still worth staging, once it is within the lead of the one the server asked for last. */
  const aheadOfReplay = async (index: number) => {
    if (options.lead === undefined) return true;
    await readAsked();
    while (index - replaying > options.lead) {
      options.beforeEach?.();
      // A server that has asked for WAL removes recovery.signal when recovery ends (a time target reached
      // early): it reads no more, so staging ends too. Before it asks, the file may not be written yet.
      if (replaying >= 0 && !(await access(join(dataDir, RECOVERY_SIGNAL)).then(() => true, () => false))) {
        recoveryEnded = true;
        return false;
      }
      await delay(LEAD_POLL_MS, undefined, { ref: false });
      await readAsked();
    }
    // Asked for already: restore_command fetched it itself.
    return index > replaying;
  };
  let next = 0;
  let staged = 0;
  let stoppedBy: string | undefined;
  const worker = async () => {
    while (next < wanted.length && stoppedBy === undefined && !recoveryEnded) {
      const file = wanted[next++]!;
      // Written beside the markers and renamed into pg_wal whole: the server may have put the same segment
      // there itself (it keeps what restore_command fetched) and be reading it, so it is never written in place.
      const partial = join(markerDir, `${file.name}.partial`);
      try {
        if (!(await aheadOfReplay(order.get(file.name)!))) continue;
        options.beforeEach?.();
        await copyFile(file.path, partial, constants.COPYFILE_FICLONE);
        if (options.owner) await chown(partial, options.owner.uid, options.owner.gid);
        await rename(partial, join(dataDir, 'pg_wal', file.name));
        await writeFile(join(markerDir, file.name), '', { mode: 0o644 });
        staged++;
      } catch (error) {
        stoppedBy ??= `${file.name}: ${(error as Error).message}`;
        await rm(partial, { force: true }).catch(() => undefined);
      }
    }
  };
  const done = Promise.all(Array.from({ length: PARALLEL_COPIES }, worker)).then(() => ({ staged, ...(stoppedBy ? { stoppedBy } : {}) }));
  return { markerDir, segments: wanted.length, done };
}

/**
 * The copy's restore_command with staged segments skipped: Postgres asks the archive first and reads
 * pg_wal only when restore_command fails, so a staged segment must fail here (exit 1, no program run:
 * `test` is the shell's own) and every other file goes to the command as before.
 */
export function skipStaged(restoreCommand: string, markerDir: string): string {
  // Postgres replaces %f, %p, %r and %% anywhere in restore_command: a % of the folder's own name is written %%.
  const dir = markerDir.replaceAll('%', '%%').replaceAll("'", `'\\''`);
  // Where replay stands, for staging's lead: the shell's own echo, no program run.
  return `echo %f > '${dir}/${ASKED_FILE}'; test ! -e '${dir}/%f' && { ${restoreCommand}; }`;
}

/**
 * Whether the server may start before staging ends: only on the throwaway path, which makes no
 * restartpoints during replay, and only while copySettings leave its checkpoint settings alone. A
 * restartpoint recycles old segments into names just ahead of replay, the names staging writes; a
 * recycled file landing on a staged one would be read as that segment.
 */
export function stagingMayOverlapReplay(settings: Pick<CopyConfOptions, 'durable' | 'throwaway' | 'extraSettings'>): boolean {
  const user = settings.extraSettings ?? {};
  return recoverySettings(settings).path === 'throwaway' && !RESTARTPOINT_SETTINGS.some((name) => Object.hasOwn(user, name));
}
