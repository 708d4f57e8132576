/**
 * Restore benchmark: the local engine against the same restore done by hand, as an experienced DBA
 * would (cp -a, recovery.signal + restore_command, pg_ctl start -w, wait for promotion).
 *
 *   npm run bench:restore
 *
 * Builds a source cluster (pgbench scale 50, ~750 MB), takes a base backup, writes ~500 MB of WAL
 * after it, then restores it to `latest` (the end of the archive) alternately with the engine and by
 * hand, 3 runs each, each timed from the start of the copy until pg_is_in_recovery() is false on a
 * live server. Medians, the ratio and machine facts go to the "## Restore" section of bench/RESULTS.md.
 *
 * Knobs (for quick trials): BENCH_SCALE (50), BENCH_WAL_MB (500), BENCH_RUNS (3), BENCH_NO_WRITE=1
 * (print only). Server files live under a scratch root of their own (RESTORE_DRILL_SCRATCH, default
 * <tmp>/restore-drill-bench-<uid>) so that the bench never meets the test suite's copies.
 */
import { cpus, tmpdir, totalmem, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { newClient } from '../lib/util/pgClient.ts';

import { execFile, execOk } from '../lib/util/exec.ts';
import { onShutdown } from '../lib/shutdown.ts';
import { findPgBinaries, tool, type PgBinaries } from '../lib/providers/local/binaries.ts';
import { SourceCluster } from '../lib/providers/local/sourceCluster.ts';
import { copyName, destroyCopy, listCopies, restoreCopy } from '../lib/providers/local/engine.ts';
import { planRestore, type LocalSource } from '../lib/providers/local/plan.ts';
import { ensureScratchRoot, scratchFolders, scratchRoot } from '../lib/providers/local/scratch.ts';
import { serverUser, type ServerUser } from '../lib/providers/local/serverUser.ts';
import { stopServer } from '../lib/providers/local/server.ts';
import { writeResultsSection } from './results.ts';

// Read at call time by scratchRoot(): set before anything touches the scratch root.
process.env.RESTORE_DRILL_SCRATCH ??= join(tmpdir(), `restore-drill-bench-${userInfo().uid}`);

const SCALE = Number(process.env.BENCH_SCALE ?? 50);
const WAL_MB = Number(process.env.BENCH_WAL_MB ?? 500);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const QUIET_WAIT_S = Number(process.env.BENCH_QUIET_WAIT_S ?? 120);
/** A run with the machine busier than this (%, all cores) is run again, up to ATTEMPTS times in all. */
const BUSY_LIMIT = Number(process.env.BENCH_BUSY_LIMIT ?? 70);
const ATTEMPTS = 3;
const RESULTS = resolve(import.meta.dirname, 'RESULTS.md');
const MB = 1024 * 1024;

/** One timed restore and where its time went, from our clock and the server's log (both UTC ms). */
interface Run {
  method: 'engine' | 'by hand';
  index: number;
  totalMs: number;
  /** Start of the copy until the server logs its start: plan, copy, config, chown, spawn. */
  beforeServerMs: number;
  /** Server start until `redo starts` (includes syncing the copied data folder: fsync is on). */
  startupMs: number;
  /** `redo starts` until `redo done`. */
  replayMs: number;
  /** `redo done` until `ready to accept connections` (end-of-recovery checkpoint, new timeline). */
  endOfRecoveryMs: number;
  /** `ready to accept connections` until we saw pg_is_in_recovery() = false. */
  noticeMs: number;
  /** Share of all cores busy during the run (ours included): above ~60 % something else was running too. */
  busyPercent: number;
  /** Seconds waited for the machine to go quiet before the run. */
  waitedSeconds: number;
  /** Run again because other work ran alongside it; left out of the medians. */
  discarded: boolean;
}

type Timed = Omit<Run, 'busyPercent' | 'waitedSeconds' | 'discarded'>;
type Phase = keyof Omit<Run, 'method' | 'index' | 'busyPercent' | 'waitedSeconds' | 'discarded'>;

const log = (text: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 23)}] ${text}\n`);

async function main(): Promise<void> {
  const ownScratch = !(await exists(scratchRoot()));
  const binaries = await findPgBinaries({ major: 15 });
  const user = await serverUser();
  let source: SourceCluster | undefined;
  const byHandDirs = new Set<string>();
  // On SIGINT/SIGTERM the engine removes its copies and the source itself; the rest is ours to remove.
  const forget = onShutdown(async () => {
    for (const dir of byHandDirs) await removeByHand(dir);
    await source?.remove();
    if (ownScratch) await rm(scratchRoot(), { recursive: true, force: true, maxRetries: 3 });
  });
  try {
    log(`scratch root ${scratchRoot()}; PostgreSQL ${binaries.version} (${binaries.bindir}); load ${await loadAverage()}`);
    source = await SourceCluster.create({ binaries, walSegmentSizeMb: 16, fsync: false });
    const facts = await buildSource(source, binaries);
    const local = { baseBackups: source.backupsDir, walArchive: source.archiveDir };

    // Pieces of the engine's work before the server starts, timed alone (not part of the runs).
    const pieces = {
      planMs: median(await repeat(3, async () => void (await planRestore(local, { kind: 'latest' })))),
      findBinariesMs: median(await repeat(3, async () => void (await findPgBinaries({ major: 15 })))),
    };
    log(`engine pieces: plan ${ms(pieces.planMs)}, findPgBinaries ${ms(pieces.findBinariesMs)}`);

    // One untimed restore by hand first, so that neither method pays for a cold start alone.
    await byHand(source, binaries, user, byHandDirs, -1);
    await settle();

    const runs: Run[] = [];
    for (let index = 1; index <= RUNS; index++) {
      for (const method of ['engine', 'by hand'] as const) {
        for (let attempt = 1; ; attempt++) {
          const waitedSeconds = await waitForQuiet();
          const before = cpuTimes();
          const timed = method === 'engine' ? await engine(local, index) : await byHand(source, binaries, user, byHandDirs, index);
          const busyPercent = busyBetween(before, cpuTimes());
          // Other work during the run (the machine far busier than a restore alone keeps it): run this slot again.
          const discarded = busyPercent > BUSY_LIMIT && attempt < ATTEMPTS;
          const run = { ...timed, busyPercent, waitedSeconds, discarded };
          runs.push(run);
          log(`${method} #${index}: ${ms(run.totalMs)} (before server ${ms(run.beforeServerMs)}, startup ${ms(run.startupMs)}, ` +
            `replay ${ms(run.replayMs)}, end of recovery ${ms(run.endOfRecoveryMs)}, notice ${ms(run.noticeMs)}; ` +
            `machine ${busyPercent.toFixed(0)} % busy, waited ${waitedSeconds.toFixed(0)} s for quiet)${discarded ? ': discarded, machine busy' : ''}`);
          await settle();
          if (!discarded) break;
        }
      }
    }
    const section = report(runs, facts, pieces, binaries, await loadAverage());
    process.stdout.write(`\n${section}\n`);
    if (process.env.BENCH_NO_WRITE !== '1') {
      await writeResultsSection('## Restore', section);
      log(`wrote the "## Restore" section of ${RESULTS}`);
    }
  } finally {
    for (const copy of await listCopies().catch(() => [])) {
      if (copy.name.startsWith('rd-bench-')) await destroyCopy(copy.name).catch((error: Error) => log(`cleanup: ${error.message}`));
    }
    for (const dir of byHandDirs) await removeByHand(dir);
    await source?.remove();
    forget();
    if (ownScratch) await rm(scratchRoot(), { recursive: true, force: true });
  }
}

interface SourceFacts {
  backupBytes: number;
  walBytes: number;
  walSegments: number;
  buildSeconds: number;
}

/** pgbench -i, a base backup, then pgbench until WAL_MB of WAL follow the backup; the archive keeps only what the backup needs. */
async function buildSource(source: SourceCluster, binaries: PgBinaries): Promise<SourceFacts> {
  const started = Date.now();
  const pgbench = async (args: string[]) =>
    execOk(tool(binaries, 'pgbench'), ['-h', source.server.socketDir, '-p', String(source.server.port), '-U', 'postgres', ...args, 'postgres']);
  log(`pgbench -i -s ${SCALE}`);
  await pgbench(['-i', '-q', '-s', String(SCALE)]);
  await source.query('checkpoint');
  log('base backup');
  const backup = await source.takeBaseBackup('bench');
  const label = await readFile(join(backup, 'backup_label'), 'utf8');
  const startLsn = /START WAL LOCATION: (\S+)/.exec(label)![1]!;
  // Like pg_archivecleanup after a new base backup: the archive starts where the backup needs it.
  const history = (await readdir(source.archiveDir)).find((name) => name.endsWith('.backup'))!;
  await execOk(tool(binaries, 'pg_archivecleanup'), [source.archiveDir, history]);
  for (;;) {
    const [row] = await source.query<{ bytes: string }>(`select pg_wal_lsn_diff(pg_current_wal_lsn(), '${startLsn}')::bigint::text as bytes`);
    const written = Number(row!.bytes);
    log(`WAL since the backup: ${(written / MB).toFixed(0)} MB`);
    if (written >= WAL_MB * MB) break;
    await pgbench(['-n', '-c', '2', '-j', '2', '-T', '5']);
  }
  await source.switchWal();
  const wal = await folderBytes(source.archiveDir, (name) => /^[0-9A-F]{24}$/.test(name));
  const facts = { backupBytes: await treeBytes(backup), walBytes: wal.bytes, walSegments: wal.files, buildSeconds: (Date.now() - started) / 1000 };
  log(`source ready in ${facts.buildSeconds.toFixed(0)} s: backup ${(facts.backupBytes / MB).toFixed(0)} MB, ` +
    `WAL ${(facts.walBytes / MB).toFixed(0)} MB in ${facts.walSegments} segments`);
  return facts;
}

async function engine(local: LocalSource, index: number): Promise<Timed> {
  const started = Date.now();
  const { handle } = await restoreCopy({
    source: local,
    target: { kind: 'latest' },
    name: copyName('bench', new Date()),
    expiresAt: new Date(Date.now() + 3_600_000),
    connection: { database: 'postgres', user: 'postgres' },
    timeoutMs: 600_000,
  });
  const promoted = Date.now();
  try {
    return { method: 'engine', index, totalMs: promoted - started, ...(await phases(handle.logFile, started, promoted)) };
  } finally {
    await destroyCopy(handle.name);
  }
}

/**
 * The same restore by hand: copy the backup, recovery settings in postgresql.auto.conf (the archive
 * read with plain cp), chown, pg_ctl start -w, then wait on a live connection for promotion.
 */
async function byHand(source: SourceCluster, binaries: PgBinaries, user: ServerUser, dirs: Set<string>, index: number): Promise<Timed> {
  await ensureScratchRoot();
  const started = Date.now();
  const dir = await mkdtemp(join(scratchFolders.sources(), 'by-hand-'));
  dirs.add(dir);
  const data = join(dir, 'data');
  const socket = join(dir, 'socket');
  const logFile = join(dir, 'server.log');
  const port = 20_000 + Math.floor(Math.random() * 12_000);
  try {
    await execOk('cp', ['-a', join(source.backupsDir, 'bench'), data]);
    await mkdir(socket, { mode: 0o700 });
    await writeFile(join(data, 'recovery.signal'), '');
    // The source's postgresql.conf runs fsync = off (a throwaway source); production's would not, and timings are measured.
    const settings = [
      `restore_command = 'cp "${source.archiveDir}/%f" "%p"'`,
      `recovery_target_action = 'promote'`,
      `archive_mode = 'off'`,
      `fsync = 'on'`,
      `listen_addresses = ''`,
      `port = ${port}`,
      `unix_socket_directories = '${socket}'`,
    ];
    await writeFile(join(data, 'postgresql.auto.conf'), `${(await readFile(join(data, 'postgresql.auto.conf'), 'utf8').catch(() => ''))}${settings.join('\n')}\n`);
    await execOk('chmod', ['0700', data]);
    if (user.runAs) await execOk('chown', ['-R', `${user.uid}:${user.gid}`, dir]);
    await execOk(tool(binaries, 'pg_ctl'), ['start', '-w', '-t', '600', '-D', data, '-l', logFile], {
      as: user.runAs,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' },
    });
    const client = newClient({ host: socket, port, user: 'postgres', database: 'postgres' });
    await client.connect();
    try {
      for (;;) {
        const { rows } = await client.query<{ r: boolean }>('select pg_is_in_recovery() as r');
        if (!rows[0]!.r) break;
        await delay(25);
      }
    } finally {
      await client.end().catch(() => undefined);
    }
    const promoted = Date.now();
    return { method: 'by hand', index, totalMs: promoted - started, ...(await phases(logFile, started, promoted)) };
  } catch (error) {
    const tail = (await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-5).join('\n');
    throw new Error(`restore by hand failed: ${(error as Error).message}\n${tail}`, { cause: error });
  } finally {
    await removeByHand(dir);
    dirs.delete(dir);
  }
}

async function removeByHand(dir: string): Promise<void> {
  const pid = Number((await readFile(join(dir, 'data', 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  if (pid > 0) await stopServer({ pid, dataDir: join(dir, 'data') }, 'immediate');
  await rm(dir, { recursive: true, force: true });
}

/** Where a restore's time went, from the server log's own timestamps (log_line_prefix '%m', UTC). */
async function phases(logFile: string, started: number, promoted: number): Promise<Omit<Timed, 'method' | 'index' | 'totalMs'>> {
  // pg_is_in_recovery() turns false a moment before the postmaster logs that it is ready: wait for that line.
  let text = await readFile(logFile, 'utf8');
  for (let tries = 0; !/ready to accept connections\n/.test(text) && tries < 100; tries++) {
    await delay(20);
    text = await readFile(logFile, 'utf8');
  }
  const at = (pattern: RegExp): number => {
    const line = text.split('\n').find((l) => pattern.test(l));
    const stamp = line && /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) UTC/.exec(line)?.[1];
    if (!stamp) throw new Error(`no log line matching ${pattern} in ${logFile}`);
    return Date.parse(`${stamp.replace(' ', 'T')}Z`);
  };
  const serverStart = at(/starting PostgreSQL/);
  const redoStart = at(/redo starts at/);
  const redoDone = at(/redo done at/);
  const ready = at(/database system is ready to accept connections$/);
  return {
    beforeServerMs: serverStart - started,
    startupMs: redoStart - serverStart,
    replayMs: redoDone - redoStart,
    endOfRecoveryMs: ready - redoDone,
    noticeMs: promoted - ready,
  };
}

interface CpuTimes {
  idle: number;
  total: number;
}

function cpuTimes(): CpuTimes {
  // /proc/stat's first line: cpu user nice system idle iowait irq softirq steal ...
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { idle: fields[3]! + fields[4]!, total: fields.slice(0, 8).reduce((sum, value) => sum + value, 0) };
}

function busyBetween(before: CpuTimes, after: CpuTimes): number {
  const total = after.total - before.total;
  return total > 0 ? (100 * (total - (after.idle - before.idle))) / total : 0;
}

/**
 * Waits (up to QUIET_WAIT_S) until the machine has been nearly idle for two seconds: other work on a
 * 2-core machine (a test suite, a build) slows replay by half and would decide the ratio on its own.
 */
async function waitForQuiet(): Promise<number> {
  const started = Date.now();
  let quietSeconds = 0;
  while (quietSeconds < 2 && Date.now() - started < QUIET_WAIT_S * 1000) {
    const before = cpuTimes();
    await delay(1_000);
    quietSeconds = busyBetween(before, cpuTimes()) <= 10 ? quietSeconds + 1 : 0;
  }
  if (quietSeconds < 2) log(`the machine did not go quiet within ${QUIET_WAIT_S} s; running anyway`);
  return (Date.now() - started) / 1000;
}

/** Between runs: flush what the last run left dirty, so that each run starts from the same disk state. */
async function settle(): Promise<void> {
  await execOk('sync', []);
  await delay(1_000);
}

function report(
  runs: Run[],
  facts: SourceFacts,
  pieces: { planMs: number; findBinariesMs: number },
  binaries: PgBinaries,
  load: string,
): string {
  const of = (method: Run['method']) => runs.filter((run) => run.method === method && !run.discarded);
  const med = (method: Run['method'], key: Phase) => median(of(method).map((run) => run[key]));
  const engineMs = med('engine', 'totalMs');
  const byHandMs = med('by hand', 'totalMs');
  const ratio = engineMs / byHandMs;
  const cpu = cpus();
  const phaseRow = (label: string, key: Phase) =>
    `| ${label} | ${s(med('engine', key))} | ${s(med('by hand', key))} | ${signed(med('engine', key) - med('by hand', key))} |`;
  return [
    '## Restore',
    '',
    `Written by \`npm run bench:restore\` (bench/restore.ts) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
    `A pgbench scale ${SCALE} base backup plus the WAL written after it, restored to \`latest\` (end of the archive)`,
    'by the local engine and by hand (cp -a, recovery.signal, restore_command = cp, pg_ctl start -w, poll',
    '`pg_is_in_recovery()` every 25 ms on a live connection), alternating, each timed from the start of the',
    'copy until the server is promoted. fsync is on in both copies. Before each run the bench waits (up to',
    `${QUIET_WAIT_S} s) until the machine has been nearly idle for 2 s; "machine busy" is the share of all cores in use`,
    'during the run, ours included (a restore alone keeps about half of 2 cores busy: more means other work ran too);',
    `a run above ${BUSY_LIMIT} % is left out of the medians and run again (at most ${ATTEMPTS} tries per run; the last one counts).`,
    '',
    `- restore median: engine ${s(engineMs)}, by hand ${s(byHandMs)}`,
    `- restore ratio: ${ratio.toFixed(2)}x (engine median / by-hand median; target 1.10x) ${ratio <= 1.1 ? '(met)' : '(NOT met)'}`,
    quietLine(runs),
    `- machine: ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown'}), ${(totalmem() / 1024 ** 3).toFixed(0)} GB RAM, ` +
      `PostgreSQL ${binaries.version}, load average at the end ${load}`,
    `- base backup ${(facts.backupBytes / MB).toFixed(0)} MB; WAL after it ${(facts.walBytes / MB).toFixed(0)} MB ` +
      `(${facts.walSegments} segments of 16 MB); building the source took ${facts.buildSeconds.toFixed(0)} s`,
    `- engine work before the server starts, timed alone: planning (archive listing, window, WAL continuity) ` +
      `${ms(pieces.planMs)}, finding the binaries ${ms(pieces.findBinariesMs)}`,
    '',
    'Medians per phase (server log timestamps; "before server" = copy, config, chown and, for the engine, planning):',
    '',
    '| phase | engine | by hand | difference |',
    '|---|---|---|---|',
    phaseRow('before server start', 'beforeServerMs'),
    phaseRow('server start to redo start (syncs the data folder)', 'startupMs'),
    phaseRow('replay', 'replayMs'),
    phaseRow('end of recovery (checkpoint, new timeline)', 'endOfRecoveryMs'),
    phaseRow('promoted until noticed', 'noticeMs'),
    phaseRow('total', 'totalMs'),
    '',
    'Every run, in order:',
    '',
    '| run | total | before server | startup | replay | end of recovery | noticed after | machine busy | waited for quiet |',
    '|---|---|---|---|---|---|---|---|---|',
    ...runs.map(
      (run) =>
        `| ${run.method} #${run.index}${run.discarded ? ' (discarded: machine busy, run again)' : ''} | ${s(run.totalMs)} | ${s(run.beforeServerMs)} | ${s(run.startupMs)} | ` +
        `${s(run.replayMs)} | ${s(run.endOfRecoveryMs)} | ${s(run.noticeMs)} | ${run.busyPercent.toFixed(0)} % | ` +
        `${run.waitedSeconds.toFixed(0)} s |`,
    ),
    '',
  ].join('\n');
}

/** The same comparison over the runs that had the machine to themselves (busy ≤ BUSY_LIMIT), when each method has one. */
function quietLine(runs: Run[]): string {
  const quiet = (method: Run['method']) => runs.filter((run) => run.method === method && run.busyPercent <= BUSY_LIMIT).map((run) => run.totalMs);
  const engine = quiet('engine');
  const byHand = quiet('by hand');
  if (engine.length === 0 || byHand.length === 0) return `- quiet runs only (machine busy ≤ ${BUSY_LIMIT} %): too few to compare`;
  return `- quiet runs only (machine busy ≤ ${BUSY_LIMIT} %, discarded tries included): engine ${s(median(engine))} (${engine.length} runs), ` +
    `by hand ${s(median(byHand))} (${byHand.length} runs): ${(median(engine) / median(byHand)).toFixed(2)}x`;
}


async function repeat(times: number, work: () => Promise<void>): Promise<number[]> {
  const timings: number[] = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    await work();
    timings.push(performance.now() - started);
  }
  return timings;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const ms = (value: number) => `${value.toFixed(0)} ms`;
const s = (value: number) => `${(value / 1000).toFixed(2)} s`;
const signed = (value: number) => `${value >= 0 ? '+' : '-'}${(Math.abs(value) / 1000).toFixed(2)} s`;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

async function treeBytes(dir: string): Promise<number> {
  const result = await execOk('du', ['-sb', dir]);
  return Number(result.stdout.split('\t')[0]);
}

async function folderBytes(dir: string, wanted: (name: string) => boolean): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  for (const name of await readdir(dir)) {
    if (!wanted(name)) continue;
    bytes += (await stat(join(dir, name))).size;
    files++;
  }
  return { bytes, files };
}

async function loadAverage(): Promise<string> {
  const result = await execFile('cat', ['/proc/loadavg']);
  return result.stdout.split(' ').slice(0, 3).join(' ');
}

await main();
