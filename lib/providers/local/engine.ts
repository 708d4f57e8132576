import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, chown, copyFile, lstat, mkdir, open, readdir, readFile, readlink, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { newClient } from '../../util/pgClient.ts';
import { CopyGoneError, NotOurCopyError, RestoreTimeoutError, RestoreFailedError, RestoreDrillError } from '../../errors.ts';
import { onShutdown } from '../../shutdown.ts';
import { execOk, type ExecResult } from '../../util/exec.ts';
import { COPY_NAME } from '../copyName.ts';
import { POLL_INTERVAL_MS } from '../pollInterval.ts';
export { copyName } from '../copyName.ts';
import type { ConnectionInfo, CopyPoll } from '../types.ts';
import { findPgBinaries, reachableByServer, tool, type PgBinaries } from './binaries.ts';
import { BrokenBackupError } from './errors.ts';
import { verifyBackupFiles, type FilesVerification } from './manifest.ts';
import { unpackTarBackup, verifyUnpackedTar } from './tarUnpack.ts';
import { skipStaged, STAGING_LEAD_BYTES, stagingMayOverlapReplay, startWalStaging, type StagedWal } from './stageWal.ts';
import { OUT_OF_SPACE, RECOVERY_SIGNAL, copyPgHba, copyPostgresqlConf, type RecoveryPath, copySettingsProblems, recoveryTargetTime, restoreCommandFor } from './copyConfig.ts';
import { planRestore, symlinkRefusal, symlinksIn, walPlace, type LocalSource, type ReplayEnd, type RestorePlan, type RestoreTarget } from './plan.ts';
import { formatLsn, microsToDate, parseLsn } from './wal/lsn.ts';
import { parseConf } from './postgresConf.ts';
import { ensureScratchRoot, scratchFolders } from './scratch.ts';
import { gaveReason, isRunning, logReason, serverOf, serverStatus, startServer, stopServer, type NetworkIsolation } from './server.ts';
import { serverUser, serverUserCan, type ServerUser } from './serverUser.ts';

export const MARKER_FILE = 'restore-drill.json';
export const POLL_MS = POLL_INTERVAL_MS.local;

export interface StartCopyOptions {
  source: LocalSource;
  target: RestoreTarget;
  /** rd-<database>-<yyyymmddhhmmss>-<4 random>; see copyName(). */
  name: string;
  expiresAt: Date;
  /** Who the copy's readiness check connects as (the copy's roles are the source's). */
  connection: { database: string; user: string };
  pgBin?: string | undefined;
  embeddedOnly?: boolean;
  /** fsync in the copy (default on). Off only for test copies nobody times. */
  durable?: boolean;
  /** A drill's copy, removed when it ends and never kept: recovery skips what only a kept copy needs (copyConfig's recoverySettings). */
  throwaway?: boolean | undefined;
  copySettings?: Readonly<Record<string, string>> | undefined;
  /**
   * Serve TLS with this PEM certificate and key (the RDS emulator's copies, reached like RDS over
   * verified TLS). Deliberately apart from copySettings, which may never touch `ssl`: the files are
   * copied into the copy's folder, readable by the server's user only, and loopback TCP then requires TLS.
   */
  tls?: { certFile: string; keyFile: string } | undefined;
  /** How often this process renews the copy's lease while it lives (see Marker.leaseUntil). @default 60000 */
  leaseRenewMs?: number | undefined;
}

/** A local copy, as plain JSON (it travels between steps like any provider's handle). */
export interface LocalCopyHandle {
  provider: 'local';
  name: string;
  dir: string;
  dataDir: string;
  socketDir: string;
  logFile: string;
  pid: number;
  port: number;
  pgVersion: string;
  backup: string;
  target: { kind: 'latest' } | { kind: 'time'; time: string };
  replayToEnd: boolean;
  connection: { database: string; user: string };
  createdAt: string;
  expiresAt: string;
  /** Settings of the source's config that the copy did not take (names only). */
  droppedSettings: string[];
  /** The base backup restored from, how its files were verified, and every other backup with why it was not used. */
  baseBackup: BaseBackupUsed;
  /** Where replay must end for the copy to be complete; compared with where it did once the copy is promoted. */
  replayEnd: ReplayEnd;
  /** Set by listCopies when the process that made the copy is dead and the copy was not kept: expired at once. */
  orphaned?: boolean;
}

/** What a report says about the backup a copy came from (the drill copies it into DrillReport.backup). */
export interface BaseBackupUsed {
  used: string;
  /** "N files verified against the backup_manifest by pg_verifybackup", or "files not verified: no manifest". */
  files: string;
  filesVerifiedBy: FilesVerification['method'] | 'pgbackrest verify';
  /** The backup as its tool names it: label, type (full, diff, incr), when it stopped, the tool that restored it. */
  label?: string;
  type?: string;
  stopTime?: string;
  tool?: string;
  skipped: { name: string; reason: string }[];
  /** Which recovery path ran: a drill's throwaway copy, or a durable one (restore --keep), with the settings that differ. */
  recovery?: RecoveryPath;
  /** Whether the copy's server ran in a network namespace of its own (server.ts), and how or why not. */
  network?: NetworkIsolation;
}

interface Marker {
  managed: true;
  handle: LocalCopyHandle;
  /** The process making the copy, by pid and start time (a pid alone is reused): while it lives, the copy is in use. */
  owner?: { pid: number; startTime: string } | undefined;
  /** restore --keep: the copy outlives its owner on purpose, until its expiry. */
  kept?: boolean | undefined;
  /**
   * Renewed by the owner while it lives (every leaseRenewMs): the copy's first expiry plus the time
   * since it was made, so that a long verify never outlives its copy. The janitor goes by the later of
   * this and expiresAt; a kept copy goes by its expiresAt alone.
   */
  leaseUntil?: string | undefined;
}

/** A process's start time since boot, in clock ticks (/proc/<pid>/stat field 22): with the pid, who it is. */
async function startTimeOf(pid: number): Promise<string | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return text?.slice(text.lastIndexOf(')') + 2).split(' ')[19];
}

/** Whether the process that made a copy has gone (killed with -9, crashed) while the copy was not kept. */
async function ownerGone(marker: Marker): Promise<boolean> {
  if (!marker.owner || marker.kept) return false;
  if (marker.owner.pid === process.pid) return false;
  if (!(await isRunning(marker.owner.pid))) return true;
  const startTime = await startTimeOf(marker.owner.pid);
  return startTime !== undefined && startTime !== marker.owner.startTime;
}

/**
 * The live process, other than this one, that made a copy and still uses it (a running drill), with
 * its lease; undefined for a kept copy, an orphan, or a copy of this process. drop refuses such a copy.
 */
export async function liveOwnerOf(name: string): Promise<{ pid: number; leaseUntil?: string | undefined } | undefined> {
  if (!COPY_NAME.test(name)) return undefined;
  const marker = await readMarker(join(scratchFolders.copies(), name));
  if (!marker?.owner || marker.kept || marker.owner.pid === process.pid || (await ownerGone(marker))) return undefined;
  return { pid: marker.owner.pid, leaseUntil: marker.leaseUntil };
}

/**
 * Written into a copy's folder by the process removing it, before it stops anything: the owner,
 * finding it as its drill ends, knows its copy was taken from under it (gone), and waits, rather
 * than racing the removal and reporting it as its own.
 */
const REMOVING_FILE = 'restore-drill.removing';
/** Markers are written beside themselves and renamed into place; the janitor and drop know these names as ours. */
const MARKER_TEMPORARY = /^restore-drill\.json\.[0-9a-f]{8}\.tmp$/;
const markerTemporary = (marker: string) => `${marker}.${randomBytes(4).toString('hex')}.tmp`;

/** How long an empty removal claim (being written, or left empty by a full disk) keeps others out. */
const EMPTY_CLAIM_RESPECT_MS = 60_000;

/** Claims the removal of a copy: undefined when this process removes it, the holder when another live process already is. */
async function claimRemoval(dir: string): Promise<{ by: number } | undefined> {
  const path = join(dir, REMOVING_FILE);
  const mine = JSON.stringify({ pid: process.pid, startTime: await owner.startTime });
  for (;;) {
    const claim = await open(path, 'wx', 0o600).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST') return undefined;
      throw error;
    });
    if (claim) {
      // On a full disk (a copy that filled it) the claim is made but stays empty: it still claims, and the removal frees the space.
      const unwritten = await claim.writeFile(mine).then(() => undefined, (error: NodeJS.ErrnoException) => (error.code === 'ENOSPC' || error.code === 'EDQUOT' ? undefined : error));
      await claim.close();
      if (unwritten) {
        await rm(path, { force: true });
        throw unwritten;
      }
      return undefined;
    }
    const text = await readFile(path, 'utf8').catch(() => '');
    // An empty claim is one being written, or one a full disk left empty: respected while it is recent.
    if (text === '' && Date.now() - (await stat(path).then((info) => info.mtimeMs, () => 0)) < EMPTY_CLAIM_RESPECT_MS) {
      await delay(50);
      continue;
    }
    const holder = JSON.parse(text || '{}') as { pid?: number; startTime?: string };
    const alive = holder.pid !== undefined && holder.pid !== process.pid && (await isRunning(holder.pid)) && (await startTimeOf(holder.pid)) === holder.startTime;
    if (alive) return { by: holder.pid! };
    // Left by a removal that died part way, or by an earlier attempt of this process: taken over.
    await rm(path, { force: true });
  }
}

/** Waits (a bounded while) for another process's removal of a copy folder to finish. */
async function removedByOther(name: string, dir: string, by: number): Promise<never> {
  abandoned.add(name);
  stopLease(name);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && (await stat(dir).then(() => true, () => false))) await delay(25);
  forgetCleanup(name);
  throw new CopyGoneError(`copy ${name} was removed by another process (pid ${by}: drop --force, or the janitor) while it was in use`);
}

const cleanups = new Map<string, () => void>();
/** Copies this process is making or using: their lease (renewed on a timer) and their marker's writes, one at a time. */
const leases = new Map<string, { handle: LocalCopyHandle; until?: string; timer?: NodeJS.Timeout }>();
const markerWrites = new Map<string, Promise<void>>();
const DEFAULT_LEASE_RENEW_MS = 60_000;
/** Programs running for a copy (the base backup's cp): ours to stop and wait for before its folder goes. */
const children = new Map<string, Set<ChildProcess>>();
/** Copies being destroyed while their start may still be under way: the start must not go on to a server. */
const abandoned = new Set<string>();
const destroying = new Map<string, Promise<void>>();

export interface ForCopyOptions {
  env?: NodeJS.ProcessEnv;
  /** The program starts workers of its own (pgbackrest restore's restore:local): it runs in a process group of its own, stopped whole. */
  group?: boolean;
}

/** Children started as the leader of their own process group: stopChildren stops the group, workers included. */
const groupLeaders = new WeakSet<ChildProcess>();

/** Like execOk, for a program that works on a copy: destroyCopy stops it and waits for it first. */
export async function runForCopy(name: string, file: string, args: readonly string[], options: ForCopyOptions = {}): Promise<void> {
  const result = await outputForCopy(name, file, args, options);
  if (result.code !== 0) throw new Error(`${file} ${args.join(' ')} exited with ${result.code}: ${result.stderr.trim().split('\n').slice(-5).join('\n')}`);
}

/**
 * Like execFile, for a program that works for a copy (pg_verifybackup on its backup, the backup's cp):
 * destroyCopy stops it and waits for it, so that none outlives the copy or the process. Its exit code,
 * stdout and the end of its stderr; a program stopped by a signal answers 128 + the signal's number.
 */
export function outputForCopy(name: string, file: string, args: readonly string[], options: ForCopyOptions = {}): Promise<ExecResult> {
  if (abandoned.has(name)) return Promise.reject(new RestoreFailedError(`copy ${name} is being removed`));
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(options.env ? { env: options.env } : {}), ...(options.group ? { detached: true } : {}) });
    if (options.group) groupLeaders.add(child);
    const running = children.get(name) ?? new Set<ChildProcess>();
    children.set(name, running.add(child));
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout = (stdout + chunk).slice(-64_000)));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      running.delete(child);
      resolvePromise({ code: code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0), stdout, stderr });
    });
  });
}

/** Work in this process that writes into a copy's folder (WAL staged for the server's user): destroyCopy waits for it. */
const writing = new Map<string, Set<Promise<unknown>>>();

function trackForCopy<T>(name: string, work: Promise<T>): Promise<T> {
  const running = writing.get(name) ?? new Set<Promise<unknown>>();
  writing.set(name, running.add(work));
  void work.then(() => running.delete(work), () => running.delete(work));
  return work;
}

/** Tar backups being unpacked into a copy (in this process): destroyCopy stops and waits for them, as for its children. */
const unpacking = new Map<string, { stop: AbortController; done: Promise<unknown> }>();

function unpackForCopy(handle: LocalCopyHandle, backup: RestorePlan['backup'], segmentSize: number): Promise<void> {
  if (abandoned.has(handle.name)) return Promise.reject(new RestoreFailedError(`copy ${handle.name} is being removed`));
  const stop = new AbortController();
  const done = unpackTarBackup(backup.tar!.layout, backup.name, handle.dataDir, { signal: stop.signal, segmentSize });
  unpacking.set(handle.name, { stop, done });
  return done.then(() => undefined).finally(() => unpacking.delete(handle.name));
}

async function stopChildren(name: string): Promise<void> {
  // Each staging step checks `abandoned`, so this ends after the file being copied.
  await Promise.allSettled([...(writing.get(name) ?? [])]);
  writing.delete(name);
  const unpack = unpacking.get(name);
  unpack?.stop.abort(new RestoreFailedError(`copy ${name} was removed while its base backup was unpacked`));
  await unpack?.done.catch(() => undefined);
  const running = [...(children.get(name) ?? [])];
  await Promise.all(
    running.map(async (child) => {
      const group = groupLeaders.has(child) && child.pid !== undefined ? -child.pid : undefined;
      if (child.exitCode === null && child.signalCode === null) {
        const closed = once(child, 'close');
        if (group === undefined) child.kill('SIGTERM');
        else signalGroup(group, 'SIGTERM');
        await closed;
      }
      // Its workers may outlive it by a moment (they notice their leader is gone at their next message): waited for, then killed.
      if (group !== undefined) await groupGone(group);
    }),
  );
  children.delete(name);
}

function signalGroup(group: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(group, signal);
    return true;
  } catch {
    return false;
  }
}

async function groupGone(group: number, graceMs = 10_000): Promise<void> {
  const deadline = Date.now() + graceMs;
  while (signalGroup(group, 0)) {
    if (Date.now() > deadline) signalGroup(group, 'SIGKILL');
    await delay(10);
  }
}

function assertNotAbandoned(name: string): void {
  if (abandoned.has(name)) throw new RestoreFailedError(`copy ${name} was removed while it was being made (the process is stopping)`);
}

/**
 * Plans (nothing is created when the target is outside the window or the WAL has a hole), then
 * copies the base backup into the scratch root, writes an isolated config and recovery settings,
 * and starts the server. Returns at once; pollCopy() tells when the copy is promoted.
 */
export async function startCopy(options: StartCopyOptions): Promise<LocalCopyHandle> {
  assertCopyRequest(options.name, options.copySettings);
  const source: LocalSource = {
    baseBackups: resolve(options.source.baseBackups),
    walArchive: options.source.walArchive === undefined ? undefined : resolve(options.source.walArchive),
    restoreCommand: options.source.restoreCommand,
  };
  // Nothing exists yet: planning and finding the binaries may run side by side. Binaries the server's
  // user cannot reach are staged under the scratch root only once the plan holds (bad input touches nothing).
  const binariesFor = (major: number) => findPgBinaries({ major, explicit: options.pgBin, embeddedOnly: options.embeddedOnly ?? false, stage: false });
  const likelyMajor = newestBackupMajor(source.baseBackups);
  const likelyBinaries = likelyMajor.then((major) => (major === undefined ? undefined : binariesFor(major))).catch(() => undefined);
  const plan = await planRestore(source, options.target);
  const likely = await likelyBinaries;
  const binaries = await reachableByServer(likely?.major === plan.backup.pgMajor ? likely : await binariesFor(plan.backup.pgMajor));
  const user = await serverUser();
  await ensureScratchRoot();

  await checkFreeSpace(plan);

  const handle = await openCopy({
    ...options,
    pgVersion: binaries.version,
    backup: plan.backup.path,
    replayToEnd: plan.replayToEnd,
    baseBackup: { used: plan.backup.name, files: 'not verified yet', filesVerifiedBy: 'no manifest', skipped: plan.skipped },
    replayEnd: plan.replayEnd,
  });
  try {
    // The files are verified while they are copied (both read the same pages); the server starts only on a verified backup.
    const copied = copyBackup(plan, handle);
    // The WAL goes into pg_wal once the folder is there, while the backup is still being verified, and on
    // alongside replay where the copy makes no restartpoints (they recycle segments under the names staging writes).
    const overlap = stagingMayOverlapReplay({ durable: options.durable ?? true, throwaway: options.throwaway, extraSettings: options.copySettings });
    const staging = copied.then(async () => {
      const started = await startWalStaging(plan.walFiles, plan.window.archiveDir, handle.dataDir, join(handle.dir, 'staged-wal'), {
        beforeEach: () => assertNotAbandoned(handle.name),
        owner: user.runAs ? user : undefined,
        lead: overlap ? Math.ceil(STAGING_LEAD_BYTES / plan.replayEnd.segmentSize) : undefined,
      });
      void trackForCopy(handle.name, started.done);
      return started;
    });
    const [files, , archiveDir, stagedWal] = await Promise.all([
      verifyFiles(plan, binaries, handle.name, plan.backup.tar ? copied.then(() => handle.dataDir) : undefined),
      copied,
      walReachableByServer(user, plan.window.archiveDir, plan, handle),
      staging,
    ]);
    if (!overlap) await stagedWal.done;
    if (!files.ok) {
      throw new BrokenBackupError(
        `base backup ${plan.backup.name} (${plan.backup.path}) is damaged: ${files.summary}. Restore from it would give a copy with ` +
          `missing or wrong data; take a new base backup`,
        plan.backup.name,
      );
    }
    handle.baseBackup = { ...handle.baseBackup, files: files.summary, filesVerifiedBy: files.method };
    return await launchCopy(handle, { binaries, user, archiveDir, settings: options, stagedWal });
  } catch (error) {
    throw await failedStart(handle, error);
  }
}

/**
 * A copy whose start failed once its folder was made (whichever tool filled it): removed, and the error
 * marked so that the drill's report says "removed", not "never made" (drill/steps.ts reads `copyRemoved`).
 * Our own writes beside the server's (its marker once it runs) may meet a full disk first.
 */
export async function failedStart(handle: LocalCopyHandle, error: unknown): Promise<unknown> {
  const removed = await destroyCopy(handle.name).then(() => true, () => false);
  const ours = ['ENOSPC', 'EDQUOT'].includes((error as NodeJS.ErrnoException | undefined)?.code ?? '');
  const said = ours ? outOfSpaceDuringReplay((error as Error).message, 'us') : error;
  if (removed && said instanceof Error) Object.defineProperty(said, 'copyRemoved', { value: true, enumerable: false, configurable: true });
  return said;
}

/** Refuses, before anything exists, a copy name not of our form and copySettings that would break the copy's isolation. */
export function assertCopyRequest(name: string, copySettings: Readonly<Record<string, string>> | undefined): void {
  if (!COPY_NAME.test(name)) {
    throw new RestoreDrillError('input', `copy name ${JSON.stringify(name)} does not match rd-<database>-<yyyymmddhhmmss>-<4 random>`);
  }
  const problems = copySettingsProblems(copySettings ?? {});
  if (problems.length > 0) throw new RestoreDrillError('input', `copySettings refused: ${problems.join('; ')}`);
}

/** What a copy on this machine is made from, whichever tool fills its data folder (cp of a base backup, pgbackrest restore). */
export interface CopyOpening extends Pick<StartCopyOptions, 'name' | 'target' | 'expiresAt' | 'connection' | 'leaseRenewMs'> {
  pgVersion: string;
  /** Where the backup was read from (a folder, a repository's backup label). */
  backup: string;
  replayToEnd: boolean;
  baseBackup: BaseBackupUsed;
  replayEnd: ReplayEnd;
}

/**
 * Makes the copy's folder under the scratch root, marks it ours, holds it for the signal cleanup and
 * starts its lease. The caller fills handle.dataDir, then calls launchCopy, and destroyCopy on failure.
 */
export async function openCopy(opening: CopyOpening): Promise<LocalCopyHandle> {
  const dir = join(scratchFolders.copies(), opening.name);
  await mkdir(dir, { mode: 0o711 }).catch((error: NodeJS.ErrnoException) => {
    throw new RestoreDrillError('input', `a copy named ${opening.name} already exists (${dir}): ${error.code}`);
  });
  const handle: LocalCopyHandle = {
    provider: 'local',
    name: opening.name,
    dir,
    dataDir: join(dir, 'data'),
    socketDir: join(dir, 'socket'),
    logFile: join(dir, 'server.log'),
    pid: 0,
    port: 0,
    pgVersion: opening.pgVersion,
    backup: opening.backup,
    target: opening.target.kind === 'latest' ? { kind: 'latest' } : { kind: 'time', time: opening.target.time.toISOString() },
    replayToEnd: opening.replayToEnd,
    connection: opening.connection,
    createdAt: new Date().toISOString(),
    expiresAt: opening.expiresAt.toISOString(),
    droppedSettings: [],
    baseBackup: opening.baseBackup,
    replayEnd: opening.replayEnd,
  };
  cleanups.set(handle.name, onShutdown(() => destroyCopy(handle.name)));
  try {
    await writeMarker(handle);
    assertNotAbandoned(handle.name);
    startLease(handle, opening.leaseRenewMs ?? DEFAULT_LEASE_RENEW_MS);
  } catch (error) {
    throw await failedStart(handle, error);
  }
  return handle;
}

export interface CopyLaunch {
  binaries: PgBinaries;
  user: ServerUser;
  /** The folder the copy's restore_command reads WAL from (readable by the server's user). */
  archiveDir: string;
  settings: Pick<StartCopyOptions, 'durable' | 'throwaway' | 'copySettings' | 'tls'>;
  /** WAL segments already copied into pg_wal: the restore_command skips them (stageWal.ts). */
  stagedWal?: StagedWal | undefined;
}

/** Isolates a filled data folder (config, hba, recovery settings), hands it to the server's user and starts the server. */
export async function launchCopy(handle: LocalCopyHandle, launch: CopyLaunch): Promise<LocalCopyHandle> {
  const { binaries, user } = launch;
  handle.droppedSettings = await configureCopy(handle, launch.archiveDir, launch.settings, launch.stagedWal);
  await handOver(user, handle);
  assertNotAbandoned(handle.name);
  // A copy serving TLS stands in for a cloud copy (the emulators reach it over loopback): it shares the network.
  const isolateNetwork = launch.settings.tls === undefined;
  const server = await startServer({ binaries, user, dataDir: handle.dataDir, socketDir: handle.socketDir, logFile: handle.logFile, isolateNetwork }).catch(
    async (error: unknown) => {
      throw (error instanceof RestoreFailedError && (await deathNotTheBackups(handle, error.message, await readLog(handle)))) || error;
    },
  );
  handle.baseBackup.network = isolateNetwork ? server.network : { isolated: false, how: 'not asked for: the copy serves TLS over loopback (an emulated cloud copy)' };
  if (abandoned.has(handle.name)) {
    await stopServer({ pid: server.pid, dataDir: handle.dataDir }, 'immediate');
    assertNotAbandoned(handle.name);
  }
  handle.pid = server.pid;
  handle.port = server.port;
  await writeMarker(handle);
  return handle;
}

/** pg_verifybackup where the binaries have it (PostgreSQL 13+ packages), else our own manifest reader. */
async function verifyFiles(plan: RestorePlan, binaries: PgBinaries, copy: string, unpacked?: Promise<string>): Promise<FilesVerification> {
  const pgVerifybackup = tool(binaries, 'pg_verifybackup');
  const has = await stat(pgVerifybackup).then((info) => info.isFile(), () => false);
  // A tar backup is verified once unpacked, before the server starts: pg_verifybackup reads tar format only from PostgreSQL 18 on.
  if (unpacked) return verifyUnpackedTar(plan.backup.path, plan.backup.tar!, await unpacked, has ? pgVerifybackup : undefined);
  // Run as one of the copy's programs: a signal's cleanup stops it with the copy's cp (it would read the backup on, past our exit).
  return verifyBackupFiles(plan.backup.path, { pgVerifybackup: has ? pgVerifybackup : undefined, run: (file, args) => outputForCopy(copy, file, args) });
}

/** The major version of the newest backup folder, read ahead of planning (which picks the backup). */
async function newestBackupMajor(baseBackups: string): Promise<number | undefined> {
  const folders = [baseBackups, ...(await readdir(baseBackups).catch(() => [] as string[])).sort().reverse().map((name) => join(baseBackups, name))];
  for (const folder of folders) {
    const version = await readFile(join(folder, 'PG_VERSION'), 'utf8').catch(() => undefined);
    if (version) return Number(version.trim());
  }
  return undefined;
}

/** Where the copy stands: still recovering, promoted (with its connection), or dead. */
export async function pollCopy(handle: LocalCopyHandle): Promise<CopyPoll> {
  const status = await serverStatus(handle);
  if (!status.alive) {
    const log = await readLog(handle);
    const reason = `the copy's server stopped during recovery: ${logReason(log)}`;
    const notTheBackups = await deathNotTheBackups(handle, reason, log);
    if (notTheBackups) throw notTheBackups;
    return { state: 'failed', reason };
  }
  if (status.state !== 'ready') return { state: 'pending', detail: status.state ?? 'starting' };
  const connection = connectionOf(handle);
  const client = newClient({ host: connection.host, port: connection.port, database: connection.database, user: connection.user });
  try {
    await client.connect();
    // Read before anything could restart the copy: a restart forgets the last replayed commit.
    const { rows } = await client.query<{ in_recovery: boolean; replayed: Date | null; replay_lsn: string | null }>(
      'select pg_is_in_recovery() as in_recovery, pg_last_xact_replay_timestamp() as replayed, pg_last_wal_replay_lsn()::text as replay_lsn',
    );
    const row = rows[0]!;
    if (row.in_recovery) return { state: 'pending', detail: 'in recovery' };
    const short = row.replay_lsn && handle.replayEnd ? await replayedShort(handle, handle.replayEnd, parseLsn(row.replay_lsn), row.replayed) : undefined;
    if (short) return { state: 'failed', reason: short };
    return { state: 'ready', connection, lastReplayedAt: row.replayed ? row.replayed.toISOString() : null };
  } catch (error) {
    const message = (error as Error).message;
    if (/does not exist/.test(message)) {
      return { state: 'failed', reason: `the copy is up but refuses ${connection.user}@${connection.database}: ${message}` };
    }
    return { state: 'pending', detail: message };
  } finally {
    await client.end().catch(() => undefined);
  }
}

function outOfSpaceDuringReplay(said: string, who: 'server' | 'us' = 'server'): RestoreDrillError {
  return new RestoreDrillError(
    'tool',
    `not enough free space in ${scratchFolders.copies()}: the disk filled up while the copy replayed WAL (No space left on device); ` +
      `free space there, or set RESTORE_DRILL_SCRATCH to a bigger disk. ${who === 'server' ? 'The server said' : 'Writing the copy\'s own files'}: ${said}`,
  );
}

/**
 * A promoted copy whose replay ended short of where it had to end: Postgres promotes whatever it could
 * replay when it meets WAL it cannot read, so a copy that starts is not yet a complete one.
 * pg_last_wal_replay_lsn() stays where recovery ended after promotion: just past the last record replayed.
 */
async function replayedShort(handle: LocalCopyHandle, end: ReplayEnd, replayedLsn: number, replayedAt: Date | null): Promise<string | undefined> {
  // Records are 8-byte aligned: the next one starts at the aligned end of the last one replayed.
  const next = Math.ceil(replayedLsn / 8) * 8;
  if (next >= end.lsn) return undefined;
  const stopped = walPlace(next, end.timelines, end.segmentSize);
  const needed = end.lsn % end.segmentSize === 0 && end.lsn > 0
    ? { text: `${formatLsn(end.lsn)} (the end of segment ${walPlace(end.lsn - 1, end.timelines, end.segmentSize).segment})` }
    : walPlace(end.lsn, end.timelines, end.segmentSize);
  const expected = end.lastXactMicros === null ? 'none' : microsToDate(BigInt(end.lastXactMicros)).toISOString();
  const said = (await readLog(handle))
    .split('\n')
    .filter((line) => /invalid|incorrect|unexpected pageaddr|contrecord|record with|could not read/i.test(line))
    .map((line) => line.replace(/^.*?\b(LOG|WARNING|FATAL):\s+/, ''))
    .slice(-2)
    .join(' | ');
  return (
    `the copy is incomplete: replay ended at ${stopped.text}, short of ${needed.text}, ${end.why}; ` +
    `last commit reached: ${replayedAt ? replayedAt.toISOString() : 'none'} (the archive holds commits up to ${expected}). ` +
    `Postgres stopped at WAL it could not use and promoted what it had${said ? `; the server said: ${said}` : ''}`
  );
}

export function connectionOf(handle: LocalCopyHandle): ConnectionInfo {
  return {
    host: handle.socketDir,
    port: handle.port,
    database: handle.connection.database,
    user: handle.connection.user,
    passwordFrom: handle.baseBackup?.network?.isolated
      ? 'none: the copy trusts its private Unix socket (its 127.0.0.1 is inside its own network namespace: connect through the socket)'
      : 'none: the copy trusts its private Unix socket (loopback TCP needs the role\'s password from the source)',
  };
}

export interface RestoreCopyOptions extends StartCopyOptions {
  timeoutMs: number;
  onProgress?: (detail: string) => void;
}

/** start + wait: resolves with a promoted copy, or removes it and throws. */
export async function restoreCopy(
  options: RestoreCopyOptions,
): Promise<{ handle: LocalCopyHandle; connection: ConnectionInfo; lastReplayedAt: string | null }> {
  const handle = await startCopy(options);
  try {
    const deadline = Date.now() + options.timeoutMs;
    for (;;) {
      const poll = await pollCopy(handle);
      if (poll.state === 'ready') return { handle, connection: poll.connection, lastReplayedAt: poll.lastReplayedAt };
      if (poll.state === 'failed') throw new RestoreFailedError(poll.reason);
      options.onProgress?.(poll.detail ?? 'pending');
      if (Date.now() > deadline) {
        throw new RestoreTimeoutError(`copy ${handle.name} was not ready after ${Math.round(options.timeoutMs / 1000)} s (restore timeout)`);
      }
      await delay(POLL_MS);
    }
  } catch (error) {
    await destroyCopy(handle.name).catch(() => undefined);
    throw error;
  }
}

/** The copy stays when this process ends (restore --keep): no cleanup on SIGINT/SIGTERM any more. */
export function keepCopy(name: string): void {
  forgetCleanup(name);
  keptCopies.add(name);
  // A kept copy lives to the expiry its user chose: no lease renews it past that.
  stopLease(name);
  // Said in the marker too: the janitor leaves a kept copy to its expiry when this process has ended.
  const path = join(scratchFolders.copies(), name, MARKER_FILE);
  try {
    const marker = JSON.parse(readFileSync(path, 'utf8')) as Marker;
    const { leaseUntil: _lease, ...rest } = marker;
    const temporary = markerTemporary(path);
    writeFileSync(temporary, JSON.stringify({ ...rest, kept: true }, null, 2));
    renameSync(temporary, path);
  } catch {
    // No marker (a copy being removed): nothing to keep.
  }
}

/** Renews the copy's lease every renewMs while this process lives (the timer never keeps it alive). */
function startLease(handle: LocalCopyHandle, renewMs: number): void {
  const lease: { handle: LocalCopyHandle; until?: string; timer?: NodeJS.Timeout } = { handle };
  leases.set(handle.name, lease);
  // As long as the copy was first given, counted from now: the drill asked for that much after the copy was made.
  const length = Date.parse(handle.expiresAt) - Date.parse(handle.createdAt);
  lease.timer = setInterval(() => {
    if (leases.get(handle.name) !== lease) return;
    lease.until = new Date(Date.now() + length).toISOString();
    void writeMarker(handle).catch(() => undefined);
  }, renewMs);
  lease.timer.unref();
}

function stopLease(name: string): void {
  clearInterval(leases.get(name)?.timer);
  leases.delete(name);
}

function forgetCleanup(name: string): void {
  cleanups.get(name)?.();
  cleanups.delete(name);
}

/**
 * Stops a copy's server and removes its folder. Refuses (NotOurCopyError) anything that is not a
 * folder of ours: outside the scratch root's copies, a name not of our form, or without our marker.
 */
export async function destroyCopy(name: string): Promise<void> {
  const earlier = destroying.get(name);
  if (earlier) {
    // Someone else (drop, the janitor, a signal) is removing it: not this caller's removal.
    await earlier.catch(() => undefined);
    throw new CopyGoneError(`copy ${name} was being removed by someone else (drop, the janitor or a signal's cleanup)`);
  }
  const destroy = destroyOnce(name);
  destroying.set(name, destroy);
  try {
    await destroy;
  } finally {
    destroying.delete(name);
  }
}

async function destroyOnce(name: string): Promise<void> {
  if (!COPY_NAME.test(name)) throw new NotOurCopyError(`"${name}" is not a restore-drill copy name (rd-<database>-<yyyymmddhhmmss>-<4 random>)`);
  const dir = join(scratchFolders.copies(), name);
  // A marker being written (a signal right after the copy's mkdir) is waited for: its temporary file is ours too.
  await markerWrites.get(name)?.catch(() => undefined);
  const marker = await readMarker(dir);
  if (!marker) {
    const exists = await stat(dir).then(() => true, () => false);
    if (!exists) throw new CopyGoneError(`there is no copy named ${name} in ${scratchFolders.copies()}`);
    // A folder made before the marker was written (a crash right after mkdir): ours by its name and place, but empty of servers.
    // A marker's temporary file is a write under way (its mkdir just happened): waited for once the removal is claimed.
    const entries = (await readdirSafe(dir)).filter((entry) => entry !== REMOVING_FILE && !MARKER_TEMPORARY.test(entry));
    // A marker there now was written since it was read (the write began and ended in between), by this process: a
    // signal's cleanup racing its own copy's start. Another process's copy, just marked, goes by drop's and the janitor's rules.
    const markedMeanwhile = entries.length === 1 && entries[0] === MARKER_FILE && (await readMarker(dir))?.owner?.pid === process.pid;
    if (entries.length > 0 && !markedMeanwhile) throw new NotOurCopyError(`${dir} carries no ${MARKER_FILE} marker; restore-drill removes only copies it marked as its own`);
  }
  const other = await claimRemoval(dir).catch((error: NodeJS.ErrnoException) => {
    // Removed meanwhile, by someone else.
    if (error.code === 'ENOENT') throw new CopyGoneError(`copy ${name} was removed by someone else while it was being removed here`);
    throw error;
  });
  if (other) await removedByOther(name, dir, other.by);
  abandoned.add(name);
  stopLease(name);
  await markerWrites.get(name)?.catch(() => undefined);
  await stopChildren(name);
  // The server to stop is found from the copy's own data folder, never from the marker's pid or dataDir (which anyone can edit).
  const dataDir = join(dir, 'data');
  for (const pid of await serverOf(dataDir)) await stopServer({ pid, dataDir }, 'immediate');
  const left = await serverOf(dataDir);
  if (left.length > 0) {
    throw new RestoreDrillError('tool', `the server of copy ${name} (pid ${left.join(', ')}) is still running after it was stopped; ${dir} was left in place`);
  }
  // The marker goes last: a removal cut short leaves a folder that drop and the janitor still know as ours.
  for (const entry of await readdirSafe(dir)) {
    if (entry !== MARKER_FILE && entry !== REMOVING_FILE) await rm(join(dir, entry), { recursive: true, force: true });
  }
  await rm(join(dir, MARKER_FILE), { force: true });
  await rm(dir, { recursive: true, force: true });
  forgetCleanup(name);
}

/** Copies of ours in the scratch root (for drop, the janitor and tests). */
export async function listCopies(): Promise<LocalCopyHandle[]> {
  const handles: LocalCopyHandle[] = [];
  for (const name of await readdirSafe(scratchFolders.copies())) {
    const marker = COPY_NAME.test(name) ? await readMarker(join(scratchFolders.copies(), name)) : undefined;
    if (!marker) {
      const stray = COPY_NAME.test(name) ? await unmarkedLeftover(join(scratchFolders.copies(), name)) : undefined;
      if (stray) handles.push(stray);
      continue;
    }
    // An orphan (its owner died, it was not kept) serves production data to nobody: it expired when it was made.
    if (await ownerGone(marker)) handles.push({ ...marker.handle, expiresAt: marker.handle.createdAt, orphaned: true });
    else handles.push({ ...marker.handle, expiresAt: leasedExpiry(marker) });
  }
  return handles;
}

/** The later of the copy's expiry and its lease, unless it was kept (its user chose the expiry). */
function leasedExpiry(marker: Marker): string {
  const expires = Date.parse(marker.handle.expiresAt);
  const lease = marker.leaseUntil === undefined ? Number.NaN : Date.parse(marker.leaseUntil);
  return marker.kept || Number.isNaN(lease) || Number.isNaN(expires) || lease <= expires ? marker.handle.expiresAt : marker.leaseUntil!;
}

/** How old an empty, unmarked copy folder must be before it counts as left by a crash: its maker writes the marker right after mkdir. */
const UNMARKED_AGE_MS = 60_000;

/**
 * A copy folder whose maker died between its mkdir and its first marker write: empty (the marker is
 * the first thing written into it), of our name, in our scratch root, and older than a minute.
 * Listed as expired when it was made; destroyCopy removes it by the same rule. Anything in it, and it is not ours to judge.
 */
async function unmarkedLeftover(dir: string): Promise<LocalCopyHandle | undefined> {
  const info = await lstat(dir).catch(() => undefined);
  if (!info?.isDirectory() || Date.now() - info.mtimeMs < UNMARKED_AGE_MS || (await readdirSafe(dir)).some((entry) => entry !== REMOVING_FILE)) return undefined;
  const made = info.mtime.toISOString();
  const name = basename(dir);
  // Only the name, folder and times are read (the janitor removes it by name); the rest says there is nothing in it.
  return {
    provider: 'local', name, dir, dataDir: join(dir, 'data'), socketDir: join(dir, 'socket'), logFile: join(dir, 'server.log'), pid: 0, port: 0,
    pgVersion: '', backup: '', target: { kind: 'latest' }, replayToEnd: false, connection: { database: '', user: '' }, createdAt: made, expiresAt: made,
    droppedSettings: [], baseBackup: { used: '', files: 'none: the folder is empty', filesVerifiedBy: 'no manifest', skipped: [] },
    replayEnd: undefined as unknown as ReplayEnd, orphaned: true,
  };
}

async function readdirSafe(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

async function readMarker(dir: string): Promise<Marker | undefined> {
  const text = await readFile(join(dir, MARKER_FILE), 'utf8').catch(() => undefined);
  if (!text) return undefined;
  let marker: Marker;
  try {
    marker = JSON.parse(text) as Marker;
  } catch {
    // A damaged marker proves nothing: the folder is treated as not ours (drop and the janitor refuse it).
    return undefined;
  }
  return marker.managed === true && marker.handle?.dir === dir ? marker : undefined;
}

const owner = { pid: process.pid, startTime: startTimeOf(process.pid) };
const keptCopies = new Set<string>();

/** Writes the marker from what this process knows of the copy; writes of one copy run one after another. */
function writeMarker(handle: LocalCopyHandle): Promise<void> {
  const write = (markerWrites.get(handle.name) ?? Promise.resolve()).catch(() => undefined).then(async () => {
    const startTime = await owner.startTime;
    const lease = leases.get(handle.name)?.until;
    const marker: Marker = {
      managed: true,
      handle,
      ...(startTime ? { owner: { pid: owner.pid, startTime } } : {}),
      ...(keptCopies.has(handle.name) ? { kept: true } : {}),
      ...(lease && !keptCopies.has(handle.name) ? { leaseUntil: lease } : {}),
    };
    const temporary = markerTemporary(join(handle.dir, MARKER_FILE));
    await writeFile(temporary, JSON.stringify(marker, null, 2));
    await rename(temporary, join(handle.dir, MARKER_FILE));
  });
  markerWrites.set(handle.name, write);
  void write.finally(() => {
    if (markerWrites.get(handle.name) === write) markerWrites.delete(handle.name);
  }).catch(() => undefined);
  return write;
}

export const NOT_COPIED = ['postmaster.pid', 'postmaster.opts', 'standby.signal', 'recovery.signal', 'recovery.conf', 'current_logfiles'];

async function copyBackup(plan: RestorePlan, handle: LocalCopyHandle): Promise<void> {
  // Into a folder of our own: `cp -a` of a backup folder that is itself a link would make the data folder that link.
  await mkdir(handle.dataDir, { mode: 0o700 });
  const copying = plan.backup.tar ? unpackForCopy(handle, plan.backup, plan.replayEnd.segmentSize) : runForCopy(handle.name, 'cp', ['-a', `${plan.backup.path}/.`, handle.dataDir]);
  await copying.catch((error: Error) => {
    // The disk filled up after the check (another copy, another program): said as such, not as a broken backup.
    if (/No space left on device/.test(error.message)) {
      throw new RestoreDrillError('tool', `not enough free space in ${scratchFolders.copies()}: copying base backup ${plan.backup.name} ran out of space (No space left on device); free space there, or set RESTORE_DRILL_SCRATCH to a bigger disk`);
    }
    throw error;
  });
  // Planning refused links already; checked again on what was copied, in case the backup changed in between.
  const links = await symlinksIn(handle.dataDir);
  if (links.length > 0) throw symlinkRefusal(plan.backup.path, links);
  await Promise.all(NOT_COPIED.map((file) => rm(join(handle.dataDir, file), { force: true })));
  const pgWal = join(handle.dataDir, 'pg_wal');
  if ((await lstat(pgWal)).isSymbolicLink()) {
    // A symlinked pg_wal would have the copy write into the source's WAL folder: copy its content instead.
    const target = resolve(plan.backup.path, await readlink(pgWal));
    await rm(pgWal);
    await runForCopy(handle.name, 'cp', ['-a', target, pgWal]);
  }
  await mkdir(handle.socketDir, { mode: 0o700 });
}

/** The archive when the server's user can read it; else the planned WAL files copied into the copy's folder. */
export async function walReachableByServer(user: ServerUser, archiveDir: string, plan: Pick<RestorePlan, 'walFiles' | 'historyFiles'>, handle: LocalCopyHandle): Promise<string> {
  const fromArchive = [...plan.walFiles, ...plan.historyFiles].filter((file) => file.path.startsWith(`${archiveDir}/`));
  const probe = fromArchive[0];
  if (!user.runAs || ((await serverUserCan(user, 'enter', archiveDir)) && (!probe || (await serverUserCan(user, 'read', probe.path))))) {
    return archiveDir;
  }
  const staged = join(handle.dir, 'wal');
  return trackForCopy(handle.name, (async () => {
    await mkdir(staged, { mode: 0o700 });
    for (const file of fromArchive) {
      assertNotAbandoned(handle.name);
      await copyFile(file.path, join(staged, basename(file.path)));
    }
    return staged;
  })());
}

async function configureCopy(handle: LocalCopyHandle, archiveDir: string, options: CopyLaunch['settings'], stagedWal?: StagedWal): Promise<string[]> {
  const sourceSettings = [];
  for (const file of ['postgresql.conf', 'postgresql.auto.conf', 'pg_hba.conf', 'pg_ident.conf']) {
    const path = join(handle.dataDir, file);
    const text = await readFile(path, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    if (file.startsWith('postgresql')) sourceSettings.push(...parseConf(text).settings);
    await rename(path, `${path}.from-source`);
  }
  let tls: { certFile: string; keyFile: string } | undefined;
  if (options.tls) {
    const tlsDir = join(handle.dir, 'tls');
    await mkdir(tlsDir, { mode: 0o700 });
    tls = { certFile: join(tlsDir, 'server.crt'), keyFile: join(tlsDir, 'server.key') };
    await copyFile(options.tls.certFile, tls.certFile);
    await copyFile(options.tls.keyFile, tls.keyFile);
    // Postgres refuses a key that others can read.
    await chmod(tls.keyFile, 0o600);
  }
  const conf = copyPostgresqlConf({
    copyName: handle.name,
    socketDir: handle.socketDir,
    restoreCommand: stagedWal ? skipStaged(restoreCommandFor(archiveDir), stagedWal.markerDir) : restoreCommandFor(archiveDir),
    recoveryTargetTime: handle.replayToEnd || handle.target.kind === 'latest' ? undefined : recoveryTargetTime(new Date(handle.target.time)),
    durable: options.durable ?? true,
    throwaway: options.throwaway,
    pgMajor: Number.parseInt(handle.pgVersion, 10),
    sourceSettings,
    extraSettings: options.copySettings,
    tls,
  });
  await writeFile(join(handle.dataDir, 'postgresql.conf'), conf.text);
  handle.baseBackup.recovery = { ...conf.recovery, ...(stagedWal ? { stagedWalSegments: stagedWal.segments } : {}) };
  await writeFile(join(handle.dataDir, 'postgresql.auto.conf'), '# Emptied by restore-drill: see postgresql.conf\n');
  await writeFile(join(handle.dataDir, 'pg_hba.conf'), copyPgHba(tls !== undefined));
  await writeFile(join(handle.dataDir, 'pg_ident.conf'), '');
  await writeFile(join(handle.dataDir, RECOVERY_SIGNAL), '');
  return conf.dropped;
}

/** The server's user owns the data and socket folders (0700, as Postgres demands), staged WAL and TLS files. */
async function handOver(user: ServerUser, handle: LocalCopyHandle): Promise<void> {
  await chmod(handle.dataDir, 0o700);
  if (!user.runAs) return;
  await execOk('chown', ['-R', `${user.uid}:${user.gid}`, handle.dataDir, handle.socketDir]);
  for (const folder of ['wal', 'tls']) {
    const path = join(handle.dir, folder);
    if (await stat(path).then(() => true, () => false)) await execOk('chown', ['-R', `${user.uid}:${user.gid}`, path]);
  }
}

/** Bytes below a folder, links followed for pg_wal only (the only link a backup may hold, copied as its content). */
async function folderBytes(path: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(path, { withFileTypes: true }).catch(() => [])) {
    const full = join(path, entry.name);
    if (entry.isDirectory() || (entry.isSymbolicLink() && entry.name === 'pg_wal')) total += await folderBytes(full);
    else if (entry.isFile()) total += (await stat(full).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

const MB = 1024 * 1024;

/** The copy server's log, or nothing where it could not be read (never written, or gone with the copy). */
function readLog(handle: Pick<LocalCopyHandle, 'logFile'>): Promise<string> {
  return readFile(handle.logFile, 'utf8').catch(() => '');
}

/**
 * Why a copy's server died when it is not the backup's doing, read before the copy goes and frees its
 * space: a full disk may be named in its log, or may have kept it from writing one, and a server that
 * gave no reason (gaveReason) could not write it or was stopped from outside. The free space is a
 * snapshot of a shared disk, read only then. Undefined: the server gave a reason, and not about space.
 */
async function deathNotTheBackups(handle: LocalCopyHandle, said: string, log: string): Promise<RestoreDrillError | undefined> {
  assertNotAbandoned(handle.name);
  if (!(await stat(handle.dir).then(() => true, () => false))) {
    return new CopyGoneError(`copy ${handle.name} was removed by someone else (drop, the janitor) while its server started or replayed WAL`);
  }
  const silent = !gaveReason(log);
  const free = silent ? await scratchFreeBytes() : undefined;
  if (OUT_OF_SPACE.test(said) || OUT_OF_SPACE.test(log) || (free !== undefined && free < SERVER_START_ROOM)) return outOfSpaceDuringReplay(said);
  return silent ? silentExitError(said, free) : undefined;
}

/** Less than a (default-sized) WAL segment's worth of room where copies live: no server can start or replay there. */
const SERVER_START_ROOM = 16 * MB;

async function scratchFreeBytes(): Promise<number | undefined> {
  const disk = await statfs(scratchFolders.copies()).catch(() => undefined);
  return disk && disk.bavail * disk.bsize;
}

function silentExitError(said: string, free: number | undefined): RestoreDrillError {
  const room = free === undefined ? 'its free space could not be read' : `it has ${Math.floor(free / MB)} MB free now`;
  return new RestoreDrillError(
    'tool',
    `${said}. The server gave no reason (no FATAL or PANIC line in its log, no process killed by a signal), so this says nothing about the backup: either it could not write it (the disk where copies live, ` +
      `${scratchFolders.copies()}, may have been full at that moment; ${room}) or something outside stopped it (the kernel's OOM killer, ` +
      `another program): see the system log, and run the drill again`,
  );
}

/**
 * A full scratch disk would otherwise read as a broken backup (the copy's restore command cannot
 * write the WAL it fetches, and Postgres reports a missing checkpoint record): the space a copy needs
 * (the base backup, the WAL it may stage, a few segments replay writes) is checked before copying.
 */
async function checkFreeSpace(plan: RestorePlan): Promise<void> {
  const backupBytes = plan.backup.tar?.unpackedBytes ?? (await folderBytes(plan.backup.path));
  let walBytes = 0;
  for (const file of plan.walFiles) walBytes += (await stat(file.path).catch(() => ({ size: 0 }))).size;
  const needed = backupBytes + walBytes + 4 * plan.replayEnd.segmentSize + 16 * MB;
  const where = scratchFolders.copies();
  const disk = await statfs(where);
  const free = disk.bavail * disk.bsize;
  if (free < needed) {
    throw new RestoreDrillError(
      'tool',
      `not enough free space in ${where} for a copy of ${plan.backup.name}: it needs about ${Math.ceil(needed / MB)} MB ` +
        `(base backup ${Math.ceil(backupBytes / MB)} MB, WAL ${Math.ceil(walBytes / MB)} MB, room for replay), ${Math.floor(free / MB)} MB are free. ` +
        `Free space there, or set RESTORE_DRILL_SCRATCH to a bigger disk`,
    );
  }
}
