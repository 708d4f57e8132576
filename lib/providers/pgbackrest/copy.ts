import { mkdir, readdir, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { RestoreDrillError } from '../../errors.ts';
import { execFile } from '../../util/exec.ts';
import { findPgBinaries, reachableByServer } from '../local/binaries.ts';
import {
  assertCopyRequest,
  failedStart,
  launchCopy,
  NOT_COPIED,
  openCopy,
  outputForCopy,
  walReachableByServer,
  type LocalCopyHandle,
} from '../local/engine.ts';
import { BrokenBackupError } from '../local/errors.ts';
import { symlinksIn } from '../local/plan.ts';
import { ensureScratchRoot, scratchFolders } from '../local/scratch.ts';
import { serverUser } from '../local/serverUser.ts';
import type { CopyTarget } from '../types.ts';
import { pgbackrestArgs, pgbackrestEnv, programOf, saidBy, stanzaWorkDir, type PgbackrestSource } from './command.ts';
import { describeBackup } from './info.ts';
import { planRepoRestore, type RepoPlan } from './plan.ts';
import { OUT_OF_SPACE, recoveryTargetTime } from '../local/copyConfig.ts';
import { verifyRepository } from './verify.ts';

export interface RepoCopyOptions {
  source: PgbackrestSource;
  target: CopyTarget;
  name: string;
  expiresAt: Date;
  connection: { database: string; user: string };
  pgBin?: string | undefined;
  copySettings?: Readonly<Record<string, string>> | undefined;
  durable?: boolean | undefined;
  throwaway?: boolean | undefined;
  leaseRenewMs?: number | undefined;
}

const versions = new Map<string, Promise<string>>();

/** `pgBackRest 2.45`, as the program says it: the report names the tool that restored the copy. */
function toolVersion(source: PgbackrestSource): Promise<string> {
  const program = programOf(source);
  let version = versions.get(program);
  if (!version) {
    version = execFile(program, ['version']).then((result) => result.stdout.trim() || program, () => program);
    versions.set(program, version);
  }
  return version;
}

/**
 * Plans (nothing is made when the target is outside the window or the repository's WAL has a hole),
 * then has `pgbackrest restore` fill a copy folder of the local engine while `pgbackrest verify`
 * checks the repository, and starts the copy's server only on a verified backup, isolated as every
 * local copy is (its config, pg_hba, archiving off, WAL read from our cache, never from the repository).
 */
export async function startRepoCopy(options: RepoCopyOptions): Promise<LocalCopyHandle> {
  assertCopyRequest(options.name, options.copySettings);
  await ensureScratchRoot();
  const { source } = options;
  const workDir = await stanzaWorkDir(source);
  const plan = await planRepoRestore(source, workDir, options.target);
  const [binaries, user, tool] = await Promise.all([
    findPgBinaries({ major: plan.backup.pgMajor, explicit: options.pgBin, stage: false }).then(reachableByServer),
    serverUser(),
    toolVersion(source),
  ]);
  await checkFreeSpace(plan);
  const handle = await openCopy({
    name: options.name,
    target: options.target,
    expiresAt: options.expiresAt,
    connection: options.connection,
    leaseRenewMs: options.leaseRenewMs,
    pgVersion: binaries.version,
    backup: `pgbackrest:${source.stanza}:repo${source.repo}:${plan.backup.label}`,
    replayToEnd: plan.replayToEnd,
    baseBackup: {
      used: describeBackup(plan.backup, source.repo),
      files: 'not verified yet',
      filesVerifiedBy: 'pgbackrest verify',
      skipped: plan.skipped,
      label: plan.backup.label,
      type: plan.backup.type,
      stopTime: plan.backup.stopTime.toISOString(),
      tool: `${tool} restore`,
    },
    replayEnd: plan.replayEnd,
  });
  try {
    const restoring = restoreInto(handle, plan, source);
    const staging = walReachableByServer(user, plan.window.cacheDir, plan, handle);
    // Settled below, or stopped by destroyCopy when verify finds damage first.
    restoring.catch(() => undefined);
    staging.catch(() => undefined);
    // verify's verdict comes first: a damaged file also fails pgbackrest restore, which retries it for a while, and says less.
    const verification = await verifyRepository(source, workDir, plan.chain);
    if (!verification.ok) {
      throw new BrokenBackupError(
        `backup ${plan.backup.label} in stanza ${source.stanza} (repo${source.repo}) is damaged: ${verification.summary}. ` +
          'A copy from it would have missing or wrong data; take a new backup (pgbackrest backup --type=full)',
        plan.backup.label,
      );
    }
    const [, archiveDir] = await Promise.all([restoring, staging]);
    handle.baseBackup = { ...handle.baseBackup, files: verification.summary };
    return await launchCopy(handle, { binaries, user, archiveDir, settings: { durable: options.durable ?? true, throwaway: options.throwaway, copySettings: options.copySettings } });
  } catch (error) {
    throw await failedStart(handle, error);
  }
}

/**
 * `pgbackrest restore` into the copy's data folder (--pg1-path: never the stanza's own), pgBackRest's
 * lock, log and spool files in the copy's folder, tablespaces mapped there too (and then refused), and
 * archiving off in what it writes. The recovery settings it writes are replaced by the engine's.
 */
async function restoreInto(handle: LocalCopyHandle, plan: RepoPlan, source: PgbackrestSource): Promise<void> {
  const work = join(handle.dir, 'pgbackrest');
  await mkdir(handle.dataDir, { mode: 0o700 });
  await mkdir(work, { mode: 0o700 });
  const recovery =
    plan.target.kind === 'time' && !plan.replayToEnd
      ? ['--type=time', `--target=${recoveryTargetTime(plan.target.time)}`, '--target-action=promote']
      : ['--type=default'];
  const args = pgbackrestArgs(source, 'restore', {
    workDir: work,
    options: [
      `--pg1-path=${handle.dataDir}`,
      `--set=${plan.backup.label}`,
      ...recovery,
      '--archive-mode=off',
      `--spool-path=${join(work, 'spool')}`,
      `--tablespace-map-all=${join(handle.dir, 'tablespaces')}`,
      ...(source.processMax ? [`--process-max=${source.processMax}`] : []),
    ],
  });
  const result = await outputForCopy(handle.name, programOf(source), args, { env: await pgbackrestEnv(source), group: true });
  if (result.code !== 0) {
    const said = saidBy(result);
    if (OUT_OF_SPACE.test(said)) {
      throw new RestoreDrillError('tool', `not enough free space in ${scratchFolders.copies()}: pgbackrest restore of ${plan.backup.label} ran out of space (${said}); free space there, or set RESTORE_DRILL_SCRATCH to a bigger disk`);
    }
    throw new RestoreDrillError('backup', `pgbackrest restore of backup ${plan.backup.label} (stanza ${source.stanza}, repo${source.repo}) failed: ${said}`);
  }
  const tablespaces = await readdir(join(handle.dataDir, 'pg_tblspc')).catch(() => [] as string[]);
  if (tablespaces.length > 0) {
    throw new RestoreDrillError(
      'input',
      `backup ${plan.backup.label} has tablespaces (pg_tblspc: ${tablespaces.join(', ')}); restore-drill restored them under the copy's folder, never where the source keeps them, ` +
        'but does not serve copies with tablespaces yet, so it refuses this one',
    );
  }
  const links = await symlinksIn(handle.dataDir);
  if (links.length > 0) {
    throw new RestoreDrillError('input', `pgbackrest restore of ${plan.backup.label} left symbolic links in the copy (${links.map((link) => `${link.path} -> ${link.target}`).join(', ')}); a copy could write through them, so it is refused`);
  }
  await Promise.all(NOT_COPIED.map((file) => rm(join(handle.dataDir, file), { force: true })));
  await mkdir(handle.socketDir, { mode: 0o700 });
}

const MB = 1024 * 1024;

/** The database's size (pgbackrest info), the WAL replay reads, and room for replay, against the free space of the copies' disk. */
async function checkFreeSpace(plan: RepoPlan): Promise<void> {
  let walBytes = 0;
  for (const file of plan.walFiles) walBytes += (await stat(file.path).catch(() => ({ size: 0 }))).size;
  const needed = plan.backup.sizeBytes + walBytes + 4 * plan.replayEnd.segmentSize + 16 * MB;
  const disk = await statfs(scratchFolders.copies());
  const free = disk.bavail * disk.bsize;
  if (free < needed) {
    throw new RestoreDrillError(
      'tool',
      `not enough free space in ${scratchFolders.copies()} for a copy of ${plan.backup.label}: it needs about ${Math.ceil(needed / MB)} MB ` +
        `(database ${Math.ceil(plan.backup.sizeBytes / MB)} MB, WAL ${Math.ceil(walBytes / MB)} MB, room for replay), ${Math.floor(free / MB)} MB are free. ` +
        'Free space there, or set RESTORE_DRILL_SCRATCH to a bigger disk',
    );
  }
}
