import { randomUUID } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { onShutdown } from '../../shutdown.ts';
import { execFile, execOk } from '../../util/exec.ts';
import { tool, type PgBinaries } from './binaries.ts';
import { quoteConfValue } from './postgresConf.ts';
import { parseSegmentName, segmentName } from './wal/lsn.ts';
import { ensureScratchRoot, scratchFolders } from './scratch.ts';
import { startServer, stopServer, waitUntilReady, type ServerLocation } from './server.ts';
import { serverUser, type ServerUser } from './serverUser.ts';
import { serverUserEnv } from './childEnv.ts';
import { newClient, withClient } from '../../util/pgClient.ts';

/**
 * A source cluster with WAL archiving, for tests, the demo and benchmarks: the production database
 * restore-drill would be pointed at, played by a local server. Its archive and base backups sit in
 * `archiveDir` and `backupsDir`, the layout the local provider reads.
 */
export interface SourceClusterOptions {
  binaries: PgBinaries;
  /** WAL segment size in MB (initdb --wal-segsize); small segments keep test archives small. */
  walSegmentSizeMb?: number;
  /** fsync on the source; off by default (sources are throwaway; copies keep theirs on). */
  fsync?: boolean;
  settings?: Record<string, string>;
  /** initdb --data-checksums: pages carry checksums, and a damaged one fails when it is read. @default false */
  dataChecksums?: boolean;
}

export class SourceCluster {
  readonly dir: string;
  readonly dataDir: string;
  readonly archiveDir: string;
  readonly backupsDir: string;
  readonly binaries: PgBinaries;
  /** Changes on restart() (a new port). */
  server: ServerLocation;
  readonly walSegmentSize: number;
  private readonly user: ServerUser;
  private readonly forget: () => void;

  private constructor(dir: string, binaries: PgBinaries, server: ServerLocation, user: ServerUser, walSegmentSize: number) {
    this.dir = dir;
    this.walSegmentSize = walSegmentSize;
    this.dataDir = join(dir, 'data');
    this.archiveDir = join(dir, 'wal');
    this.backupsDir = join(dir, 'base');
    this.binaries = binaries;
    this.server = server;
    this.user = user;
    this.forget = onShutdown(() => this.remove());
  }

  static async create(options: SourceClusterOptions): Promise<SourceCluster> {
    await ensureScratchRoot();
    const user = await serverUser();
    const segmentMb = options.walSegmentSizeMb ?? 16;
    const template = await dataTemplate(options.binaries, user, segmentMb, options.dataChecksums ?? false);
    const dir = await mkdtemp(join(scratchFolders.sources(), 'source-'));
    const dataDir = join(dir, 'data');
    const socketDir = join(dir, 'socket');
    const archiveDir = join(dir, 'wal');
    await execOk('cp', ['-a', template, dataDir]);
    await mkdir(socketDir, { mode: 0o700 });
    await mkdir(archiveDir);
    await mkdir(join(dir, 'base'));
    const settings: Record<string, string> = {
      listen_addresses: '127.0.0.1',
      wal_level: 'replica',
      archive_mode: 'on',
      archive_command: `test ! -f '${archiveDir}/%f' && cp %p '${archiveDir}/%f'`,
      fsync: options.fsync ? 'on' : 'off',
      track_commit_timestamp: 'on',
      max_wal_senders: '4',
      timezone: 'UTC',
      log_timezone: 'UTC',
      ...options.settings,
    };
    await appendFile(
      join(dataDir, 'postgresql.conf'),
      Object.entries(settings).map(([name, value]) => `${name} = ${quoteConfValue(value)}\n`).join(''),
    );
    await chmodChown(user, dir);
    const server = await startServer({ binaries: options.binaries, user, dataDir, socketDir, logFile: join(dir, 'server.log') });
    await waitUntilReady(server, { timeoutMs: 60_000, onTimeout: () => new Error(`source cluster in ${dir} did not start`) });
    return new SourceCluster(dir, options.binaries, server, user, segmentMb * 1024 * 1024);
  }

  /** A pg client config for this cluster, over its socket. */
  clientConfig(database = 'postgres'): pg.ClientConfig {
    return { host: this.server.socketDir, port: this.server.port, user: 'postgres', database };
  }

  async query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params: unknown[] = [], database = 'postgres'): Promise<R[]> {
    return withClient(this.clientConfig(database), async (client) => (await client.query<R>(sql, params)).rows);
  }

  /** Closes the current WAL segment and waits until the archiver has copied it. Returns its name. */
  async switchWal(): Promise<string> {
    const [row] = await this.query<{ switched: string; current: string }>(
      'select pg_walfile_name(pg_switch_wal()) as switched, pg_walfile_name(pg_current_wal_insert_lsn()) as current',
    );
    // With nothing written since the last switch, pg_switch_wal does nothing: the last closed segment is the one before.
    let segment = row!.switched;
    if (row!.switched === row!.current) {
      const id = parseSegmentName(segment, this.walSegmentSize);
      segment = segmentName({ timeline: id.timeline, segno: id.segno - 1 }, this.walSegmentSize);
    }
    await this.waitArchived(segment);
    return segment;
  }

  /** Waits for the archiver: its .done mark, or the file in the archive with no .ready mark left. */
  async waitArchived(walFile: string, timeoutMs = 60_000): Promise<void> {
    const status = join(this.dataDir, 'pg_wal', 'archive_status');
    const exists = (path: string) => stat(path).then(() => true, () => false);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await exists(join(status, `${walFile}.done`))) return;
      if ((await exists(join(this.archiveDir, walFile))) && !(await exists(join(status, `${walFile}.ready`)))) return;
      if (Date.now() > deadline) throw new Error(`WAL file ${walFile} was not archived within ${timeoutMs} ms; see ${this.server.logFile}`);
      await delay(10);
    }
  }

  /**
   * Takes a plain-format base backup into backupsDir/<name>: pg_basebackup where the binaries have
   * it, else the low-level pg_backup_start/pg_backup_stop API. Returns once its WAL is archived.
   */
  async takeBaseBackup(name: string): Promise<string> {
    const target = join(this.backupsDir, name);
    const hasBasebackup = await stat(tool(this.binaries, 'pg_basebackup')).then(() => true, () => false);
    if (hasBasebackup) {
      await execOk(
        tool(this.binaries, 'pg_basebackup'),
        ['-D', target, '-Fp', '-X', 'none', '-c', 'fast', '-l', name, '-h', this.server.socketDir, '-p', String(this.server.port), '-U', 'postgres'],
        { as: this.user.runAs, env: serverUserEnv() },
      );
    } else {
      await this.lowLevelBackup(name, target);
    }
    await this.switchWal();
    await this.waitArchived(await backupHistoryName(target, this.walSegmentSize));
    return target;
  }

  private async lowLevelBackup(name: string, target: string): Promise<void> {
    const client = newClient(this.clientConfig());
    await client.connect();
    try {
      await client.query('select pg_backup_start($1, true)', [name]);
      const copied = await execFile('cp', ['-a', this.dataDir, target]);
      // Files of a live cluster can vanish while they are copied; that is what backup_label covers.
      const serious = copied.stderr.split('\n').filter((line) => line && !/No such file or directory/.test(line));
      if (copied.code !== 0 && serious.length > 0) throw new Error(`copying ${this.dataDir} failed: ${serious.join('; ')}`);
      for (const entry of await readdir(join(target, 'pg_wal'))) {
        if (entry !== 'archive_status') await rm(join(target, 'pg_wal', entry), { recursive: true, force: true });
      }
      await rm(join(target, 'pg_wal', 'archive_status'), { recursive: true, force: true });
      await mkdir(join(target, 'pg_wal', 'archive_status'), { recursive: true });
      for (const file of ['postmaster.pid', 'postmaster.opts']) await rm(join(target, file), { force: true });
      const { rows } = await client.query<{ labelfile: string }>('select labelfile from pg_backup_stop(true)');
      await writeFile(join(target, 'backup_label'), rows[0]!.labelfile);
    } finally {
      await client.end();
    }
  }

  /** Stops and starts the server (shared buffers emptied: the next read comes from the files). */
  async restart(): Promise<void> {
    await stopServer(this.server, 'fast');
    this.server = await startServer({ binaries: this.binaries, user: this.user, dataDir: this.dataDir, socketDir: this.server.socketDir, logFile: join(this.dir, 'server.log') });
    await waitUntilReady(this.server, { timeoutMs: 60_000, onTimeout: () => new Error(`source cluster in ${this.dir} did not restart`) });
  }

  async stop(): Promise<void> {
    await stopServer(this.server, 'fast');
  }

  /** Stops the server and removes data, archive and backups. */
  async remove(): Promise<void> {
    this.forget();
    await stopServer(this.server, 'immediate');
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** The archive's name for a backup's history file: <start segment>.<offset in it>.backup. */
async function backupHistoryName(backup: string, segmentSize: number): Promise<string> {
  const label = await readFile(join(backup, 'backup_label'), 'utf8');
  const match = /START WAL LOCATION: ([0-9A-F]+)\/([0-9A-F]+) \(file ([0-9A-F]{24})\)/.exec(label);
  if (!match) throw new Error(`${backup}/backup_label has no START WAL LOCATION`);
  const offset = parseInt(match[2]!, 16) % segmentSize;
  return `${match[3]}.${offset.toString(16).toUpperCase().padStart(8, '0')}.backup`;
}

async function chmodChown(user: ServerUser, dir: string): Promise<void> {
  await execOk('chmod', ['0711', dir]);
  await execOk('chmod', ['0700', join(dir, 'data')]);
  if (user.runAs) await execOk('chown', ['-R', `${user.uid}:${user.gid}`, dir]);
}

/** An initdb'd data folder per binaries and segment size, made once and copied for every source. */
async function dataTemplate(binaries: PgBinaries, user: ServerUser, segmentMb: number, dataChecksums: boolean): Promise<string> {
  const template = join(scratchFolders.templates(), `pg${binaries.version}-${binaries.origin}-wal${segmentMb}mb${dataChecksums ? '-checksums' : ''}`);
  if (await stat(join(template, 'PG_VERSION')).then(() => true, () => false)) return template;
  // Unique per call: two sources made at once in one process each build their own, and the first rename wins.
  const building = `${template}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
  await mkdir(building, { mode: 0o700 });
  if (user.runAs) await execOk('chown', [`${user.uid}:${user.gid}`, building]);
  await execOk(
    tool(binaries, 'initdb'),
    ['-D', building, '-U', 'postgres', '-A', 'trust', '--no-locale', '-E', 'UTF8', `--wal-segsize=${segmentMb}`, '--no-sync', ...(dataChecksums ? ['--data-checksums'] : [])],
    { as: user.runAs, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', TZ: 'UTC' } },
  );
  await rename(building, template).catch(async (error: NodeJS.ErrnoException) => {
    await rm(building, { recursive: true, force: true });
    if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
  });
  return template;
}
