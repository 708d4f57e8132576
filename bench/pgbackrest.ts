/**
 * The pgBackRest row of `npm run bench:restore`: the pgbackrest provider's restore, as a drill runs it,
 * against what a DBA runs by hand on the same backup: `pgbackrest restore` into an empty folder, then
 * `pg_ctl start -w`, Postgres fetching WAL with the `archive-get` restore_command pgBackRest wrote,
 * until pg_is_in_recovery() is false. Each run is timed from its start until the copy is promoted;
 * engine and by hand alternate, the order reversed every round. Medians and their ratio go to the
 * "## Restore (pgBackRest)" section of bench/RESULTS.md.
 *
 * Knobs: BENCH_PGBR_SCALE (pgbench scale, 20: about 300 MB), BENCH_PGBR_WAL_MB (WAL written after the
 * backup, 300), BENCH_PGBR_RUNS (3), BENCH_NO_WRITE=1 (print only). `BENCH_ONLY=pgbackrest npm run
 * bench:restore` runs this row alone.
 */
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { findPgBinaries, tool } from '../lib/providers/local/binaries.ts';
import { serverUserEnv } from '../lib/providers/local/childEnv.ts';
import { copyName } from '../lib/providers/copyName.ts';
import { ensureScratchRoot, scratchFolders } from '../lib/providers/local/scratch.ts';
import { stopServer } from '../lib/providers/local/server.ts';
import { serverUser } from '../lib/providers/local/serverUser.ts';
import { SourceCluster } from '../lib/providers/local/sourceCluster.ts';
import { pgbackrestProvider } from '../lib/providers/pgbackrest/index.ts';
import { readStanzaInfo } from '../lib/providers/pgbackrest/info.ts';
import { onShutdown } from '../lib/shutdown.ts';
import { execOk } from '../lib/util/exec.ts';
import { newClient } from '../lib/util/pgClient.ts';
import { repoSource, type RepoSource } from '../test/pgbackrest/repoSource.ts';
import { writeResultsSection } from './results.ts';

const SCALE = Number(process.env.BENCH_PGBR_SCALE ?? 20);
const WAL_MB = Number(process.env.BENCH_PGBR_WAL_MB ?? 300);
const RUNS = Number(process.env.BENCH_PGBR_RUNS ?? 3);
const MB = 1024 * 1024;
const TARGET_RATIO = 1.1;

type Method = 'engine' | 'engine, durable' | 'by hand';
const METHODS: readonly Method[] = ['engine', 'engine, durable', 'by hand'];

const log = (text: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 23)}] pgbackrest: ${text}\n`);

interface Run {
  method: Method;
  round: number;
  ms: number;
}

export async function pgbackrestBench(): Promise<void> {
  const binaries = await findPgBinaries({ major: 15 });
  const user = await serverUser();
  await ensureScratchRoot();
  let repo: RepoSource | undefined;
  const byHandDirs = new Set<string>();
  const forget = onShutdown(async () => {
    for (const dir of byHandDirs) await removeByHand(dir);
    await repo?.remove();
  });
  try {
    const source = await SourceCluster.create({ binaries, walSegmentSizeMb: 16, fsync: false });
    repo = await repoSource({ source });
    const pgbench = (args: string[]) =>
      execOk(tool(binaries, 'pgbench'), ['-h', source.server.socketDir, '-p', String(source.server.port), '-U', 'postgres', ...args, 'postgres']);
    log(`pgbench -i -s ${SCALE}, a full backup, then ${WAL_MB} MB of WAL`);
    await pgbench(['-i', '-q', '-s', String(SCALE)]);
    await repo.backup('full');
    const startLsn = await currentLsn(source);
    while ((await currentLsn(source)) - startLsn < WAL_MB * MB) await pgbench(['-n', '-c', '2', '-j', '2', '-T', '5']);
    await source.switchWal();
    // The source is done: stopped, it competes with neither method.
    await source.stop();
    const info = await readStanzaInfo({ stanza: repo.stanza, config: repo.drillConfig, repo: 1 }, repo.dir);
    const backup = info.backups.at(-1)!;
    const walBytes = (await execOk('du', ['-sb', join(repo.repoPath, 'archive')])).stdout.split('\t')[0];
    const repoBytes = (await execOk('du', ['-sb', repo.repoPath])).stdout.split('\t')[0];

    const provider = pgbackrestProvider(
      { kind: 'pgbackrest', stanza: repo.stanza, config: repo.drillConfig, repo: 1 },
      { connection: { database: 'postgres', user: 'postgres' }, database: 'bench-pgbr' },
    );
    // A drill plans first (window), then times the restore: the same here.
    // keep: false is a drill's throwaway copy (fsync off while it replays); keep: true is restore --keep's durable one.
    const engine = async (keep: boolean): Promise<number> => {
      await provider.window();
      const started = Date.now();
      const handle = await provider.start({ target: { kind: 'latest' }, copyName: copyName('bench-pgbr', new Date()), expiresAt: new Date(Date.now() + 3_600_000), keep });
      try {
        for (;;) {
          const poll = await provider.poll(handle);
          if (poll.state === 'ready') return Date.now() - started;
          if (poll.state === 'failed') throw new Error(poll.reason);
          await delay(25);
        }
      } finally {
        await provider.destroy(handle);
      }
    };
    const byHand = async (): Promise<number> => {
      const started = Date.now();
      const dir = await mkdtemp(join(scratchFolders.sources(), 'pgbr-by-hand-'));
      byHandDirs.add(dir);
      const data = join(dir, 'data');
      const socket = join(dir, 'socket');
      const port = 20_000 + Math.floor(Math.random() * 12_000);
      try {
        await mkdir(data, { mode: 0o700 });
        await mkdir(socket, { mode: 0o700 });
        await mkdir(join(dir, 'pgbackrest'));
        if (user.runAs) await execOk('chown', ['-R', `${user.uid}:${user.gid}`, dir]);
        // As the postgres user, as the DBA's runbook has it; lock and log paths of its own (they land in restore_command too).
        const asPostgres = { as: user.runAs, env: serverUserEnv() };
        await execOk(
          'pgbackrest',
          [`--config=${repo!.drillConfig}`, `--stanza=${repo!.stanza}`, `--pg1-path=${data}`, `--lock-path=${join(dir, 'pgbackrest')}`, `--log-path=${join(dir, 'pgbackrest')}`, '--archive-mode=off', 'restore'],
          asPostgres,
        );
        await execOk(tool(binaries, 'pg_ctl'), ['start', '-w', '-t', '3600', '-D', data, '-l', join(dir, 'server.log'), '-o', `-p ${port} -k ${socket} -c listen_addresses= -c fsync=on`], asPostgres);
        const client = newClient({ host: socket, port, user: 'postgres', database: 'postgres' });
        await client.connect();
        try {
          for (;;) {
            const { rows } = await client.query<{ r: boolean }>('select pg_is_in_recovery() as r');
            if (!rows[0]!.r) return Date.now() - started;
            await delay(25);
          }
        } finally {
          await client.end().catch(() => undefined);
        }
      } catch (error) {
        const tail = (await readFile(join(dir, 'server.log'), 'utf8').catch(() => '')).split('\n').slice(-5).join('\n');
        throw new Error(`pgbackrest restore by hand failed: ${(error as Error).message}\n${tail}`, { cause: error });
      } finally {
        await removeByHand(dir);
        byHandDirs.delete(dir);
      }
    };

    // One untimed run of each first: neither pays alone for a cold cache (and the engine's WAL cache is filled, as after a first drill).
    await engine(false);
    await byHand();
    const runs: Run[] = [];
    for (let round = 1; round <= RUNS; round++) {
      const order = round % 2 ? METHODS : [...METHODS].reverse();
      for (const method of order) {
        const ms = method === 'by hand' ? await byHand() : await engine(method === 'engine, durable');
        runs.push({ method, round, ms });
        log(`${method} #${round}: ${(ms / 1000).toFixed(2)} s`);
      }
    }
    const medianOf = (method: Run['method']) => median(runs.filter((run) => run.method === method).map((run) => run.ms));
    const engineMs = medianOf('engine');
    const byHandMs = medianOf('by hand');
    const durableMs = medianOf('engine, durable');
    const ratio = engineMs / byHandMs;
    const section = [
      '## Restore (pgBackRest)',
      '',
      `\`npm run bench:restore\` (\`BENCH_ONLY=pgbackrest\` for this row alone), ${new Date().toISOString().slice(0, 10)}: pgBackRest ${backup.label} (full, ` +
        `${(backup.sizeBytes / MB).toFixed(0)} MB database, pgbench scale ${SCALE}), then ${WAL_MB} MB of WAL; the repository ${(Number(repoBytes) / MB).toFixed(0)} MB ` +
        `(archive ${(Number(walBytes) / MB).toFixed(0)} MB, gz). Restored to \`latest\`, ${RUNS} rounds, order alternating, each from its start until ` +
        '`pg_is_in_recovery()` is false on a live server. Machine: ' +
        `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), ${(totalmem() / 1024 ** 3).toFixed(0)} GB, shared with other work.`,
      '',
      '- **engine**: the pgbackrest provider as `run` drives it (a plan first, untimed, as a drill\'s Plan step), then timed: `pgbackrest info`, `repo-ls`, ' +
        'the WAL checked (cached by the plan), `pgbackrest verify` beside `pgbackrest restore`, the copy isolated, the server started, promotion.',
      '- **engine, durable**: the same as `restore --keep` makes it (fsync on throughout, as by hand).',
      '- **by hand**: `pgbackrest restore --pg1-path=<empty folder> --archive-mode=off`, then `pg_ctl start -w` (fsync on, as production\'s config), ' +
        'Postgres fetching each WAL file with pgBackRest\'s own `archive-get`, until promotion.',
      '',
      '| method | median | runs |',
      '|---|---|---|',
      `| engine | ${(engineMs / 1000).toFixed(2)} s | ${runs.filter((run) => run.method === 'engine').map((run) => (run.ms / 1000).toFixed(2)).join(', ')} |`,
      `| engine, durable | ${(durableMs / 1000).toFixed(2)} s | ${runs.filter((run) => run.method === 'engine, durable').map((run) => (run.ms / 1000).toFixed(2)).join(', ')} |`,
      `| by hand | ${(byHandMs / 1000).toFixed(2)} s | ${runs.filter((run) => run.method === 'by hand').map((run) => (run.ms / 1000).toFixed(2)).join(', ')} |`,
      '',
      `Ratio engine / by hand: **${ratio.toFixed(2)}x** (target within ${TARGET_RATIO.toFixed(2)}x: ${ratio <= TARGET_RATIO ? 'met' : 'missed'}); ` +
        `engine, durable / by hand: ${(durableMs / byHandMs).toFixed(2)}x.`,
      '',
    ].join('\n');
    process.stdout.write(`\n${section}\n`);
    if (process.env.BENCH_NO_WRITE !== '1') await writeResultsSection('## Restore (pgBackRest)', section);
  } finally {
    for (const dir of byHandDirs) await removeByHand(dir);
    await repo?.remove();
    forget();
  }
}

async function currentLsn(source: SourceCluster): Promise<number> {
  const [row] = await source.query<{ lsn: string }>("select (pg_current_wal_lsn() - '0/0')::text as lsn");
  return Number(row!.lsn);
}

async function removeByHand(dir: string): Promise<void> {
  const data = join(dir, 'data');
  const pid = Number((await readFile(join(data, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  if (pid > 0) await stopServer({ pid, dataDir: data }, 'immediate');
  if (await stat(dir).then(() => true, () => false)) await rm(dir, { recursive: true, force: true });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
