import { cp, mkdtemp, readdir, rm, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { newClient } from '../../lib/util/pgClient.ts';
import { afterAll, afterEach, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import { walCacheDir } from '../../lib/providers/local/wal/fetch.ts';
import { TargetOutsideWindowError, WalGapError, RestoreFailedError } from '../../lib/errors.ts';
import { copyName, destroyCopy, pollCopy, restoreCopy, startCopy, type RestoreCopyOptions } from '../../lib/providers/local/engine.ts';
import { isRunning } from '../../lib/providers/local/server.ts';
import { readWindow, type LocalSource, type RestoreTarget } from '../../lib/providers/local/plan.ts';
import { scratchFolders } from '../../lib/providers/local/scratch.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { microsToDate } from '../../lib/providers/local/wal/lsn.ts';
import { folderFingerprint } from '../support/archive.ts';
import { copyFolders, copyServers } from '../support/leftovers.ts';
import { insertRow, localSourceOf, testSource } from '../support/source.ts';

let source: SourceCluster;
let local: LocalSource;
/** Commit times (µs) of rows 1..4, all written after the base backup. */
const commits = new Map<number, bigint>();
let archiveBefore: Record<string, string>;

function options(target: RestoreTarget, overrides: Partial<RestoreCopyOptions> = {}): RestoreCopyOptions {
  return {
    source: local,
    target,
    name: copyName('engine', new Date()),
    expiresAt: new Date(Date.now() + 3_600_000),
    connection: { database: 'postgres', user: 'postgres' },
    timeoutMs: 60_000,
    durable: false,
    ...overrides,
  };
}

async function idsInCopy(target: RestoreTarget, overrides: Partial<RestoreCopyOptions> = {}): Promise<number[]> {
  const { handle, connection } = await restoreCopy(options(target, overrides));
  try {
    const client = newClient({ host: connection.host, port: connection.port, user: connection.user, database: connection.database });
    await client.connect();
    const { rows } = await client.query<{ id: number }>('select id from events order by id');
    await client.end();
    return rows.map((row) => row.id);
  } finally {
    await destroyCopy(handle.name);
  }
}

async function firstSegmentOfBackup(): Promise<string> {
  const label = await readFile(join(source.backupsDir, 'base-1', 'backup_label'), 'utf8');
  return /\(file ([0-9A-F]{24})\)/.exec(label)![1]!;
}

beforeAll(async () => {
  source = await testSource();
  local = localSourceOf(source);
  await source.query('create table events (id int primary key, note text)');
  await source.query('insert into events (id) values (0)');
  await source.takeBaseBackup('base-1');
  for (const id of [1, 2, 3, 4]) commits.set(id, await insertRow(source, 'events', id));
  await source.switchWal();
  archiveBefore = await folderFingerprint(source.archiveDir);
});

afterAll(async () => {
  await source?.remove();
});

afterEach(async () => {
  // Passing or failing, a test leaves no copy folder and no copy server behind.
  expect(await copyFolders('engine')).toEqual([]);
  expect(await copyServers('engine')).toEqual([]);
});

describe('restoring to a point in time', () => {
  test('a target just before a commit leaves that row out; a target at the commit, in the same second, takes it in', async () => {
    const commit2 = commits.get(2)!;
    const justBefore = microsToDate(commit2 - 1n); // floor to the ms: strictly before the commit
    const atOrJustAfter = new Date(Number((commit2 + 999n) / 1000n)); // ceil to the ms: at or after the commit

    expect(await idsInCopy({ kind: 'time', time: justBefore })).toEqual([0, 1]);
    // recovery_target_inclusive = on: a commit at exactly the target time is in the copy.
    expect(await idsInCopy({ kind: 'time', time: atOrJustAfter })).toEqual([0, 1, 2]);
    expect(atOrJustAfter.getTime() - justBefore.getTime()).toBeLessThanOrEqual(2);
  });

  test('a target between two later commits keeps the earlier and drops the later', async () => {
    const between = microsToDate((commits.get(3)! + commits.get(4)!) / 2n);
    expect(await idsInCopy({ kind: 'time', time: between })).toEqual([0, 1, 2, 3]);
  });

  test('latest brings everything archived, and reports the last replayed commit', async () => {
    const { handle, lastReplayedAt } = await restoreCopy(options({ kind: 'latest' }));
    await destroyCopy(handle.name);
    expect(lastReplayedAt).toBe(microsToDate(commits.get(4)!).toISOString());
    expect(await idsInCopy({ kind: 'latest' })).toEqual([0, 1, 2, 3, 4]);
  });

  test('restores leave the source and the WAL archive untouched', async () => {
    await idsInCopy({ kind: 'latest' });
    expect(await folderFingerprint(source.archiveDir)).toEqual(archiveBefore);
    const rows = await source.query<{ id: number }>('select id from events order by id');
    expect(rows.map((row) => row.id)).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('a copy removed under an open connection', () => {
  test('fails the next query on that connection and nothing else (the emulators poll copies that a delete removes)', async () => {
    const { handle, connection } = await restoreCopy(options({ kind: 'latest' }));
    const client = newClient({ host: connection.host, port: connection.port, user: connection.user, database: connection.database });
    await client.connect();
    const ended = new Promise((resolve) => client.once('end', resolve));

    await destroyCopy(handle.name);
    await ended;

    await expect(client.query('select 1')).rejects.toThrow(/not queryable|terminat|Connection terminated/i);
  });
});

describe('the window', () => {
  test('runs from the end of the oldest base backup to the last archived transaction', async () => {
    const { window } = await readWindow(local);
    expect(window.latest.toISOString()).toBe(microsToDate(commits.get(4)!).toISOString());
    expect(window.earliest.getTime()).toBeLessThan(Number(commits.get(1)! / 1000n));
  });

  test.each([
    ['before the earliest base backup', () => new Date(Date.now() - 86_400_000)],
    ['after the end of the archive', () => new Date(Date.now() + 60_000)],
  ])('a target %s is refused, naming the window, before anything exists', async (_, time) => {
    const before = await copyFolders('engine');
    const error = await restoreCopy(options({ kind: 'time', time: time() })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TargetOutsideWindowError);
    const { window } = await readWindow(local);
    expect((error as Error).message).toContain(window.earliest.toISOString());
    expect((error as Error).message).toContain(window.latest.toISOString());
    expect(await copyFolders('engine')).toEqual(before);
  });
});

describe('the WAL archive', () => {
  let damaged: string;
  beforeAll(async () => {
    damaged = await mkdtemp(join(scratchFolders.sources(), 'archive-'));
  });
  afterAll(async () => {
    await rm(damaged, { recursive: true, force: true });
  });

  /** A copy of the archive without its second-to-last segment. */
  async function holedArchive(name: string): Promise<{ archive: string; missing: string }> {
    const archive = join(damaged, name);
    await cp(source.archiveDir, archive, { recursive: true });
    const segments = (await readdir(archive)).filter((file) => /^[0-9A-F]{24}$/.test(file)).sort();
    const missing = segments.at(-2)!;
    await rm(join(archive, missing));
    return { archive, missing };
  }

  test('a missing segment fails the restore with the segment named, and nothing is created', async () => {
    const { archive, missing } = await holedArchive('holed');

    const error = await restoreCopy(options({ kind: 'latest' }, { source: { ...local, walArchive: archive } })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WalGapError);
    expect((error as WalGapError).missingSegment).toBe(missing);
    expect((error as Error).message).toContain(missing);
  });

  test('a hole ends the window at the last commit before it; a target beyond it is a WAL gap, not bad input', async () => {
    const { archive, missing } = await holedArchive('holed-window');
    const holed = { ...local, walArchive: archive };

    const { window } = await readWindow(holed);
    const { window: whole } = await readWindow(local);

    expect(window.gap?.segment).toBe(missing);
    expect(window.latest.getTime()).toBeLessThan(whole.latest.getTime());
    const error = await restoreCopy(options({ kind: 'time', time: whole.latest }, { source: holed })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WalGapError);
    expect((error as WalGapError).missingSegment).toBe(missing);
  });

  test('WAL fetched by a restore command (as from object storage) restores like an archive folder', async () => {
    const restoreCommand = `cp '${source.archiveDir}/%f' '%p'`;
    onTestFinished(() => rm(walCacheDir(restoreCommand), { recursive: true, force: true }));
    const fetched = { baseBackups: local.baseBackups, restoreCommand };
    const between = microsToDate((commits.get(2)! + commits.get(3)!) / 2n);
    expect(await idsInCopy({ kind: 'time', time: between }, { source: fetched })).toEqual([0, 1, 2]);
    expect(await idsInCopy({ kind: 'latest' }, { source: fetched })).toEqual([0, 1, 2, 3, 4]);
    const first = await firstSegmentOfBackup();
    const segments = async (dir: string) => (await readdir(dir)).filter((name) => /^[0-9A-F]{24}$/.test(name) && name >= first).sort();
    expect(await segments(walCacheDir(restoreCommand))).toEqual(await segments(source.archiveDir));
  });

  test('compressed (.gz) segments restore like plain ones', async () => {
    const archive = join(damaged, 'gzipped');
    await cp(source.archiveDir, archive, { recursive: true });
    for (const name of await readdir(archive)) {
      if (!/^[0-9A-F]{24}$/.test(name)) continue;
      await writeFile(join(archive, `${name}.gz`), gzipSync(await readFile(join(archive, name))));
      await rm(join(archive, name));
    }
    expect(await idsInCopy({ kind: 'latest' }, { source: { ...local, walArchive: archive } })).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('a restore that fails', () => {
  test('removes its copy and says what the server said', async () => {
    const error = await restoreCopy(options({ kind: 'latest' }, { copySettings: { work_mem: 'plenty' } })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RestoreFailedError);
    expect((error as Error).message).toMatch(/work_mem/);
  });

  test('a copy whose server is killed from outside (SIGKILL: it says nothing) is not blamed on the backup (kind tool)', async () => {
    const handle = await startCopy(options({ kind: 'latest' }));
    try {
      process.kill(handle.pid, 'SIGKILL');
      while (await isRunning(handle.pid)) await delay(5);

      const error = await pollCopy(handle).then(
        (poll) => new Error(`polled as ${poll.state}`),
        (caught: Error & { kind?: string }) => caught,
      );
      expect((error as { kind?: string }).kind, error.message).toBe('tool');
      expect(error.message).toMatch(/^the copy's server stopped during recovery: .*says nothing about the backup/);
    } finally {
      await destroyCopy(handle.name);
    }
  });

  test('isolates the copy: no archiving, no preload libraries, loopback only', async () => {
    const { handle, connection } = await restoreCopy(options({ kind: 'latest' }));
    try {
      const client = newClient({ host: connection.host, port: connection.port, user: 'postgres', database: 'postgres' });
      await client.connect();
      const { rows } = await client.query<{ name: string; setting: string }>(
        `select name, setting from pg_settings where name in ('archive_mode', 'shared_preload_libraries', 'listen_addresses', 'max_logical_replication_workers', 'hba_file')`,
      );
      await client.end();
      const settings = Object.fromEntries(rows.map((row) => [row.name, row.setting]));
      expect(settings).toMatchObject({ archive_mode: 'off', shared_preload_libraries: '', listen_addresses: '127.0.0.1', max_logical_replication_workers: '0' });
      expect(settings.hba_file).toBe(join(handle.dataDir, 'pg_hba.conf'));
    } finally {
      await destroyCopy(handle.name);
    }
  });
});
