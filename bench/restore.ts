/**
 * Restore benchmark, at several sizes: the local engine against the same restore done by hand, as an
 * experienced DBA would (cp -a, recovery.signal + restore_command, pg_ctl start -w, wait for promotion).
 *
 *   npm run bench:restore               pgbench scale 50 and 200 (about 0.75 and 3 GB), each with as much WAL after the backup
 *   npm run bench:restore -- --large    also scale 500 (about 7.5 GB; 30+ minutes on 2 cores, 25 GB of disk)
 *
 * For each size: a source cluster, a base backup, then pgbench until as much WAL follows the backup as the
 * backup holds; then, in each round, one restore to `latest` by every method, in alternating order (the
 * order reverses every round), each timed from the start of the copy until pg_is_in_recovery() is false on a
 * live server. The methods: the engine as a drill runs it (a throwaway copy), the engine as `restore --keep`
 * runs it (durable), and by hand (bench/restoreMethods.ts); then the pgBackRest row (bench/pgbackrest.ts). Medians, the
 * ratio at each size, the growth table and where the time went go to the "## Restore" section of bench/RESULTS.md.
 *
 * Knobs: BENCH_SIZES (50,200; --large adds 500), BENCH_RUNS (3 rounds), BENCH_WAL_RATIO (1: WAL bytes per
 * backup byte), BENCH_QUIET_WAIT_S (10: wait up to this long for 2 quiet seconds before each run),
 * BENCH_NO_WRITE=1 (print only), BENCH_COPY_SETTINGS (copySettings for both engine paths, to try a lever before
 * building it in: `shared_buffers=1GB,recovery_prefetch=off`). Server files live under a scratch root of their own
 * (RESTORE_DRILL_SCRATCH, default <tmp>/restore-drill-bench-<uid>) so that the bench never meets the test suite's copies.
 */
import { spawn } from 'node:child_process';
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
import { serverUser } from '../lib/providers/local/serverUser.ts';
import { stopServer } from '../lib/providers/local/server.ts';
import { writeResultsSection } from './results.ts';
import { phasesFromLog, type BenchSource, type RestoreMethod, type Timed } from './restoreMethods.ts';

// Read at call time by scratchRoot(): set before anything touches the scratch root.
process.env.RESTORE_DRILL_SCRATCH ??= join(tmpdir(), `restore-drill-bench-${userInfo().uid}`);

const LARGE = process.argv.includes('--large');
const SIZES = (process.env.BENCH_SIZES ?? (LARGE ? '50,200,500' : '50,200')).split(',').map(Number);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const WAL_RATIO = Number(process.env.BENCH_WAL_RATIO ?? 1);
const QUIET_WAIT_S = Number(process.env.BENCH_QUIET_WAIT_S ?? 10);
const TARGET = 0.85;
const COPY_SETTINGS = Object.fromEntries(
  (process.env.BENCH_COPY_SETTINGS ?? '').split(',').filter(Boolean).map((pair) => pair.split('=').map((part) => part.trim()) as [string, string]),
);
const RESULTS = resolve(import.meta.dirname, 'RESULTS.md');
const MB = 1024 * 1024;
const GB = 1024 * MB;
const ENGINE_DRILL = 'engine, drill (throwaway copy)';
const ENGINE_KEEP = 'engine, restore --keep (durable)';
const BY_HAND = 'by hand';

interface Run extends Timed {
  method: string;
  round: number;
  /** Share of all cores busy during the run (ours included): a restore alone keeps about half of 2 cores busy. */
  busyPercent: number;
  waitedSeconds: number;
}

interface SizeResult {
  scale: number;
  facts: SourceFacts;
  runs: Run[];
  methods: string[];
  /** A fresh process's planning (window, plan: every WAL record read and checked), and the same in a warm one. */
  planColdMs: number;
  planWarmMs: number;
}

interface SourceFacts {
  backupBytes: number;
  walBytes: number;
  walSegments: number;
  buildSeconds: number;
}

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
  const results: SizeResult[] = [];
  try {
    log(`scratch root ${scratchRoot()}; PostgreSQL ${binaries.version} (${binaries.bindir}); sizes ${SIZES.join(', ')}; load ${await loadAverage()}`);
    for (const scale of SIZES) {
      source = await SourceCluster.create({ binaries, walSegmentSizeMb: 16, fsync: false });
      const context: BenchSource = { scale, source, binaries, user, backup: join(source.backupsDir, 'bench') };
      const methods: RestoreMethod[] = [
        { name: ENGINE_DRILL, run: () => engine(source!, true) },
        { name: ENGINE_KEEP, run: () => engine(source!, false) },
        { name: BY_HAND, run: () => byHand(context, byHandDirs) },
      ];
      const facts = await buildSource(context, methods);
      const local = { baseBackups: source.backupsDir, walArchive: source.archiveDir };
      const planColdMs = await coldPlanMs(local);
      const planWarmMs = median(await repeat(3, async () => void (await planRestore(local, { kind: 'latest' }))));
      log(`scale ${scale}: planning ${ms(planColdMs)} in a fresh process, ${ms(planWarmMs)} warm`);

      // One untimed restore by hand first, so that no method pays for a cold start alone.
      await byHand(context, byHandDirs);
      await settle();
      const runs: Run[] = [];
      for (let round = 1; round <= RUNS; round++) {
        const order = round % 2 === 1 ? methods : [...methods].reverse();
        for (const method of order) {
          const waitedSeconds = await waitForQuiet();
          const before = cpuTimes();
          const timed = await method.run(context);
          const run: Run = { ...timed, method: method.name, round, busyPercent: busyBetween(before, cpuTimes()), waitedSeconds };
          runs.push(run);
          log(`scale ${scale} ${method.name} #${round}: ${ms(run.totalMs)} (before server ${ms(run.beforeServerMs)}, startup ${ms(run.startupMs)}, ` +
            `replay ${ms(run.replayMs)}, end of recovery ${ms(run.endOfRecoveryMs)}, notice ${ms(run.noticeMs)}; machine ${run.busyPercent.toFixed(0)} % busy)`);
          await settle();
        }
      }
      for (const method of methods) await method.cleanup?.(context);
      results.push({ scale, facts, runs, methods: methods.map((m) => m.name), planColdMs, planWarmMs });
      await source.remove();
      source = undefined;
      const section = report(results, binaries, await loadAverage());
      // Written after every size: a long run cut short keeps what it measured.
      if (process.env.BENCH_NO_WRITE !== '1') await writeResultsSection('## Restore', section);
      process.stdout.write(`\n${section}\n`);
    }
    if (process.env.BENCH_NO_WRITE !== '1') log(`wrote the "## Restore" section of ${RESULTS}`);
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

/**
 * pgbench -i, a base backup, then pgbench until WAL_RATIO times the backup's bytes of WAL follow it;
 * the archive keeps only what the backup needs.
 */
async function buildSource(context: BenchSource, methods: RestoreMethod[]): Promise<SourceFacts> {
  const { source, binaries, scale } = context;
  const started = Date.now();
  const pgbench = async (args: string[]) =>
    execOk(tool(binaries, 'pgbench'), ['-h', source.server.socketDir, '-p', String(source.server.port), '-U', 'postgres', ...args, 'postgres']);
  log(`scale ${scale}: pgbench -i -s ${scale}`);
  await pgbench(['-i', '-q', '-s', String(scale)]);
  await source.query('checkpoint');
  log(`scale ${scale}: base backup`);
  const backup = await source.takeBaseBackup('bench');
  const backupBytes = await treeBytes(backup);
  for (const method of methods) await method.afterBaseBackup?.(context);
  const label = await readFile(join(backup, 'backup_label'), 'utf8');
  const startLsn = /START WAL LOCATION: (\S+)/.exec(label)![1]!;
  // Like pg_archivecleanup after a new base backup: the archive starts where the backup needs it.
  const history = (await readdir(source.archiveDir)).find((name) => name.endsWith('.backup'))!;
  await execOk(tool(binaries, 'pg_archivecleanup'), [source.archiveDir, history]);
  const wanted = backupBytes * WAL_RATIO;
  for (;;) {
    const [row] = await source.query<{ bytes: string }>(`select pg_wal_lsn_diff(pg_current_wal_lsn(), '${startLsn}')::bigint::text as bytes`);
    const written = Number(row!.bytes);
    log(`scale ${scale}: WAL since the backup ${(written / MB).toFixed(0)} MB of ${(wanted / MB).toFixed(0)} MB`);
    if (written >= wanted) break;
    // Short bursts near the end, so that the WAL ends close to the size wanted.
    await pgbench(['-n', '-c', '2', '-j', '2', '-T', wanted - written > 1024 * MB ? '10' : '2']);
  }
  await source.switchWal();
  const wal = await folderBytes(source.archiveDir, (name) => /^[0-9A-F]{24}$/.test(name));
  const facts = { backupBytes, walBytes: wal.bytes, walSegments: wal.files, buildSeconds: (Date.now() - started) / 1000 };
  log(`scale ${scale}: source ready in ${facts.buildSeconds.toFixed(0)} s: backup ${(facts.backupBytes / MB).toFixed(0)} MB, ` +
    `WAL ${(facts.walBytes / MB).toFixed(0)} MB in ${facts.walSegments} segments`);
  return facts;
}

/** The engine as a drill (throwaway) or restore --keep (durable) starts it: restoreCopy, which plans, copies, configures, starts and waits. */
async function engine(source: SourceCluster, throwaway: boolean): Promise<Timed> {
  const started = Date.now();
  const { handle } = await restoreCopy({
    source: { baseBackups: source.backupsDir, walArchive: source.archiveDir },
    target: { kind: 'latest' },
    name: copyName('bench', new Date()),
    expiresAt: new Date(Date.now() + 3_600_000),
    connection: { database: 'postgres', user: 'postgres' },
    timeoutMs: 3_600_000,
    throwaway,
    copySettings: COPY_SETTINGS,
  });
  const promoted = Date.now();
  try {
    const expected = throwaway ? 'throwaway' : 'durable';
    if (handle.baseBackup.recovery?.path !== expected) throw new Error(`the engine ran the ${handle.baseBackup.recovery?.path} path, not ${expected}`);
    return await phasesFromLog(handle.logFile, started, promoted);
  } finally {
    await destroyCopy(handle.name);
  }
}

/**
 * The same restore by hand: copy the backup, recovery settings in postgresql.auto.conf (the archive
 * read with plain cp), chown, pg_ctl start -w, then wait on a live connection for promotion.
 */
async function byHand(context: BenchSource, dirs: Set<string>): Promise<Timed> {
  const { source, binaries, user } = context;
  await ensureScratchRoot();
  const started = Date.now();
  const dir = await mkdtemp(join(scratchFolders.sources(), 'by-hand-'));
  dirs.add(dir);
  const data = join(dir, 'data');
  const socket = join(dir, 'socket');
  const logFile = join(dir, 'server.log');
  const port = 20_000 + Math.floor(Math.random() * 12_000);
  try {
    await execOk('cp', ['-a', context.backup, data]);
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
    await execOk(tool(binaries, 'pg_ctl'), ['start', '-w', '-t', '3600', '-D', data, '-l', logFile], {
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
    return await phasesFromLog(logFile, started, Date.now());
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

/** Planning as a drill's first step pays it: in a fresh process, which has read none of this WAL yet. */
async function coldPlanMs(local: LocalSource): Promise<number> {
  const script = [
    `import { planRestore } from ${JSON.stringify(resolve(import.meta.dirname, '../lib/providers/local/plan.ts'))};`,
    'const started = performance.now();',
    `await planRestore(${JSON.stringify(local)}, { kind: 'latest' });`,
    'process.stdout.write(String(performance.now() - started));',
  ].join('\n');
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const code = await new Promise<number | null>((done) => child.on('close', done));
  if (code !== 0) throw new Error(`planning in a fresh process exited with ${code}`);
  return Number(out);
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
 * 2-core machine slows replay by half. On a shared machine it may never be quiet: the alternating order
 * and the medians are what keep the comparison fair then, and "machine busy" says how it was.
 */
async function waitForQuiet(): Promise<number> {
  const started = Date.now();
  let quietSeconds = 0;
  while (quietSeconds < 2 && Date.now() - started < QUIET_WAIT_S * 1000) {
    const before = cpuTimes();
    await delay(1_000);
    quietSeconds = busyBetween(before, cpuTimes()) <= 10 ? quietSeconds + 1 : 0;
  }
  return (Date.now() - started) / 1000;
}

/** Between runs: flush what the last run left dirty, so that each run starts from the same disk state. */
async function settle(): Promise<void> {
  await execOk('sync', []);
  await delay(1_000);
}

type Phase = keyof Timed;

function report(results: SizeResult[], binaries: PgBinaries, load: string): string {
  const cpu = cpus();
  const lines: string[] = [
    '## Restore',
    '',
    `Written by \`npm run bench:restore${LARGE ? ' -- --large' : ''}\` (bench/restore.ts) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC;`,
    `${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown'}), ${(totalmem() / GB).toFixed(0)} GB RAM, PostgreSQL ${binaries.version}, load average at the end ${load}.`,
    'At each size a pgbench base backup plus about as much WAL written after it, restored to `latest` (the end of the',
    'archive) by each method in turn, the order reversed every round, each timed from the start of the copy until',
    '`pg_is_in_recovery()` is false on a live server; medians of the rounds. The methods:',
    `- **${ENGINE_DRILL}**: what \`run\` does. The copy is ours and removed at the end, so it recovers with fsync off and no`,
    '  restartpoints during replay (`backup.recovery.path` = `throwaway` in its report).',
    `- **${ENGINE_KEEP}**: what \`restore --keep\` does: a real restore, fsync on, the source's checkpoint settings,`,
    '  `recovery_init_sync_method = syncfs` (`durable`). On both engine paths the archive\'s WAL is copied into the copy\'s',
    '  `pg_wal` while the backup is verified, and restore_command skips those segments (`backup.recovery.stagedWalSegments`).',
    `- **${BY_HAND}**: cp -a, recovery.signal, restore_command = cp, fsync on, pg_ctl start -w, \`pg_is_in_recovery()\` polled every 25 ms.`,
    '',
    'Both engine paths include planning from warm caches (the drill plans before its restore starts:',
    'its cold planning, which reads and checks every WAL record once, is the "planning, fresh process" column and is not in the restore time).',
    '"machine busy" is the share of all cores in use during a run, ours included: a restore alone keeps about half of 2 cores busy.',
    ...(Object.keys(COPY_SETTINGS).length ? [`Both engine paths ran with these copySettings (BENCH_COPY_SETTINGS): ${JSON.stringify(COPY_SETTINGS)}.`] : []),
    '',
  ];
  for (const result of results) {
    const ratio = medianOf(result, ENGINE_DRILL, 'totalMs') / medianOf(result, BY_HAND, 'totalMs');
    const keepRatio = medianOf(result, ENGINE_KEEP, 'totalMs') / medianOf(result, BY_HAND, 'totalMs');
    lines.push(
      `- scale ${result.scale} (${gb(result.facts.backupBytes)} backup, ${gb(result.facts.walBytes)} WAL): restore ratio: ${ratio.toFixed(2)}x ` +
        `(drill / by hand; target ${TARGET.toFixed(2)}x: ${ratio <= TARGET ? 'met' : 'NOT met'}); restore --keep / by hand: ${keepRatio.toFixed(2)}x`,
    );
  }
  lines.push(
    '',
    'Growth (medians; "per GB": the copy and start phases per GB of base backup, replay per GB of WAL):',
    '',
    '| scale | backup | WAL | method | restore | ratio to by hand | copy + start per GB of backup | replay per GB of WAL | end of recovery | planning, fresh process |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const result of results) {
    const byHandMs = medianOf(result, BY_HAND, 'totalMs');
    for (const method of result.methods) {
      const total = medianOf(result, method, 'totalMs');
      const copyStart = medianOf(result, method, 'beforeServerMs') + medianOf(result, method, 'startupMs');
      lines.push(
        `| ${result.scale} | ${gb(result.facts.backupBytes)} | ${gb(result.facts.walBytes)} | ${method} | ${s(total)} | ${(total / byHandMs).toFixed(2)}x | ` +
          `${s(copyStart / (result.facts.backupBytes / GB))} | ${s(medianOf(result, method, 'replayMs') / (result.facts.walBytes / GB))} | ` +
          `${s(medianOf(result, method, 'endOfRecoveryMs'))} | ${method.startsWith('engine') ? s(result.planColdMs) : '-'} |`,
      );
    }
  }
  lines.push('', growthSentence(results), '');
  for (const result of results) {
    lines.push(
      `Scale ${result.scale}: base backup ${(result.facts.backupBytes / MB).toFixed(0)} MB, WAL after it ${(result.facts.walBytes / MB).toFixed(0)} MB ` +
        `(${result.facts.walSegments} segments of 16 MB), source built in ${result.facts.buildSeconds.toFixed(0)} s; planning ${ms(result.planColdMs)} in a fresh process, ${ms(result.planWarmMs)} warm. Medians per phase (server log timestamps):`,
      '',
      `| phase | ${result.methods.join(' | ')} |`,
      `|---|${result.methods.map(() => '---').join('|')}|`,
      ...(
        [
          ['before server start (plan, copy, config)', 'beforeServerMs'],
          ['server start to redo start (syncs the data folder when fsync is on)', 'startupMs'],
          ['replay', 'replayMs'],
          ['end of recovery (checkpoint, new timeline)', 'endOfRecoveryMs'],
          ['promoted until noticed', 'noticeMs'],
          ['total', 'totalMs'],
        ] as [string, Phase][]
      ).map(([label, key]) => `| ${label} | ${result.methods.map((method) => s(medianOf(result, method, key))).join(' | ')} |`),
      '',
      'Every run, in order:',
      '',
      '| run | total | before server | startup | replay | end of recovery | noticed after | machine busy |',
      '|---|---|---|---|---|---|---|---|',
      ...result.runs.map(
        (run) =>
          `| ${run.method} #${run.round} | ${s(run.totalMs)} | ${s(run.beforeServerMs)} | ${s(run.startupMs)} | ${s(run.replayMs)} | ` +
          `${s(run.endOfRecoveryMs)} | ${s(run.noticeMs)} | ${run.busyPercent.toFixed(0)} % |`,
      ),
      '',
    );
  }
  return lines.join('\n');
}

/** How the drill's restore grows from the smallest size to each larger one, against how the data grew. */
function growthSentence(results: SizeResult[]): string {
  if (results.length < 2) return 'Growth: one size only; run with more sizes (BENCH_SIZES) to see how it grows.';
  const first = results[0]!;
  const parts = results.slice(1).map((result) => {
    const data = (result.facts.backupBytes + result.facts.walBytes) / (first.facts.backupBytes + first.facts.walBytes);
    const drill = medianOf(result, ENGINE_DRILL, 'totalMs') / medianOf(first, ENGINE_DRILL, 'totalMs');
    const hand = medianOf(result, BY_HAND, 'totalMs') / medianOf(first, BY_HAND, 'totalMs');
    return `scale ${first.scale} to ${result.scale}: ${data.toFixed(1)}x the data (backup + WAL), the drill's restore ${drill.toFixed(1)}x the time, by hand ${hand.toFixed(1)}x`;
  });
  return `Growth (measured, not fitted): ${parts.join('; ')}. Equal factors are linear growth; a time factor above the data's means it bends upward.`;
}

function medianOf(result: SizeResult, method: string, key: Phase): number {
  return median(result.runs.filter((run) => run.method === method).map((run) => run[key]));
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
const gb = (bytes: number) => `${(bytes / GB).toFixed(2)} GB`;

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

// BENCH_ONLY=local or BENCH_ONLY=pgbackrest runs one of the two benchmarks (bench/pgbackrest.ts: the pgBackRest row).
if (process.env.BENCH_ONLY !== 'pgbackrest') await main();
if (process.env.BENCH_ONLY !== 'local') await (await import('./pgbackrest.ts')).pgbackrestBench();
