import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import { runDrill } from '../../lib/drill/drill.ts';
import { copyPostgresqlConf, recoverySettings } from '../../lib/providers/local/copyConfig.ts';
import { destroyCopy } from '../../lib/providers/local/engine.ts';
import { stagingMayOverlapReplay } from '../../lib/providers/local/stageWal.ts';
import { localProvider } from '../../lib/providers/local/index.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { withClient } from '../../lib/util/pgClient.ts';
import { testSource } from '../support/source.ts';

// Issue 18: a drill's copy is ours and thrown away, so it skips what only a copy that must survive a
// crash needs (fsync, restartpoints during replay); restore --keep is a real restore and stays durable.
// The report says which path ran. Settings a server's version lacks are left out (the fallback).

const conf = (options: Partial<Parameters<typeof copyPostgresqlConf>[0]>) =>
  copyPostgresqlConf({ copyName: 'rd-x-20261201000000-abcd', socketDir: '/tmp/s', restoreCommand: 'cp', recoveryTargetTime: undefined, durable: true, sourceSettings: [], ...options });

/** The value a postgresql.conf gives a setting: its last line wins, as Postgres reads it. */
const valueIn = (text: string, name: string) => text.split('\n').filter((line) => line.startsWith(`${name} = `)).at(-1)?.slice(name.length + 3);

/** Replay's prefetch, deeper than the defaults, where the server prefetches (PostgreSQL 15+ on Linux). */
const PREFETCH = ['maintenance_io_concurrency = 100', 'wal_decode_buffer_size = 4MB'];

describe('the recovery path, in the copy configuration', () => {
  test('a throwaway copy: fsync off, no restartpoints during replay, over the source\'s own checkpoint settings', () => {
    const { text, recovery } = conf({
      throwaway: true,
      pgMajor: 15,
      sourceSettings: [{ name: 'checkpoint_timeout', value: '5min' }, { name: 'max_wal_size', value: '1GB' }],
    });
    expect(recovery).toEqual({ path: 'throwaway', settings: ['fsync = off', 'synchronous_commit = off', 'checkpoint_timeout = 1d', 'max_wal_size = 1TB', ...PREFETCH] });
    expect(valueIn(text, 'fsync')).toBe("'off'");
    expect(valueIn(text, 'checkpoint_timeout')).toBe("'1d'");
    expect(valueIn(text, 'max_wal_size')).toBe("'1TB'");
  });

  test('copySettings win over the path\'s own settings, the report says which did, and a copy that may make restartpoints waits for its staged WAL', () => {
    const { text, recovery } = conf({ throwaway: true, pgMajor: 15, extraSettings: { fsync: 'on', max_wal_size: '4GB', maintenance_io_concurrency: '8', work_mem: '64MB' } });
    expect(valueIn(text, 'fsync')).toBe("'on'");
    expect(valueIn(text, 'max_wal_size')).toBe("'4GB'");
    expect(valueIn(text, 'maintenance_io_concurrency')).toBe("'8'");
    expect(recovery).toEqual({
      path: 'throwaway',
      settings: ['synchronous_commit = off', 'checkpoint_timeout = 1d', 'wal_decode_buffer_size = 4MB', 'fsync = on (copySettings)', 'max_wal_size = 4GB (copySettings)', 'maintenance_io_concurrency = 8 (copySettings)'],
    });
    // Restartpoints recycle segments into the names staging writes: with the user's max_wal_size they may happen.
    expect(stagingMayOverlapReplay({ durable: false, extraSettings: { max_wal_size: '4GB' } })).toBe(false);
    expect(stagingMayOverlapReplay({ durable: false, extraSettings: { checkpoint_timeout: '5min' } })).toBe(false);
    expect(stagingMayOverlapReplay({ durable: false, extraSettings: { work_mem: '64MB' } })).toBe(true);
  });

  test('a durable copy keeps fsync and the source\'s checkpoints, and syncs its data folder with syncfs from PostgreSQL 14 on', () => {
    const { text, recovery } = conf({ throwaway: false, pgMajor: 15, sourceSettings: [{ name: 'checkpoint_timeout', value: '5min' }] });
    expect(recovery).toEqual({ path: 'durable', settings: ['fsync = on', 'recovery_init_sync_method = syncfs', ...PREFETCH] });
    expect(valueIn(text, 'fsync')).toBe("'on'");
    expect(valueIn(text, 'checkpoint_timeout')).toBe("'5min'");
  });

  test.each([13, 12, undefined])('PostgreSQL %s has no recovery_init_sync_method: a durable copy goes without it (the server would refuse the setting)', (pgMajor) => {
    const { text, recovery } = conf({ throwaway: false, pgMajor });
    expect(recovery.settings).toEqual(['fsync = on']);
    expect(text).not.toContain('recovery_init_sync_method');
  });

  test.each([
    ['PostgreSQL 14 (no recovery prefetch)', 14, 'linux'],
    ['a server without posix_fadvise (macOS), which refuses a non-zero io concurrency', 15, 'darwin'],
  ] as const)('%s: no prefetch settings', (_, pgMajor, platform) => {
    expect(recoverySettings({ durable: false, pgMajor }, platform).settings).toEqual(['fsync = off', 'synchronous_commit = off', 'checkpoint_timeout = 1d', 'max_wal_size = 1TB']);
    expect(recoverySettings({ durable: true, pgMajor: 17 }, 'linux').settings).toEqual(['fsync = on', 'recovery_init_sync_method = syncfs', ...PREFETCH]);
  });

  test('durable: false (test copies) is the throwaway path whatever else is said', () => {
    expect(recoverySettings({ durable: false, throwaway: false }).path).toBe('throwaway');
    expect(recoverySettings({ durable: true }).path).toBe('durable');
  });
});

describe('the recovery path, as a drill and a kept restore run it', () => {
  let source: SourceCluster;

  beforeAll(async () => {
    source = await testSource();
    await source.query('create table events (id int primary key)');
    await source.query('insert into events select generate_series(1, 100)');
    await source.takeBaseBackup('base-1');
    await source.query('insert into events select generate_series(101, 200)');
    await source.switchWal();
  }, 120_000);

  afterAll(async () => {
    await source?.remove();
  });

  async function drill(keepForSeconds: number | undefined) {
    const config = await validateConfig(
      { databases: [{ name: 'rpath', provider: { kind: 'local', baseBackups: source.backupsDir, walArchive: source.archiveDir }, checks: {} }], report: { dir: './unused' } },
      source.dir,
    );
    const database = config.databases[0]!;
    const provider = localProvider(database.provider as never, { connection: database.connection });
    const seen: Record<string, string> = {};
    const result = await runDrill(config, database, provider, {
      trigger: 'cli',
      keepForSeconds,
      inspect: async (copy) =>
        withClient(copy, async (client) => {
          const { rows } = await client.query<{ name: string; setting: string }>(
            "select name, setting from pg_settings where name in ('fsync', 'checkpoint_timeout', 'recovery_init_sync_method', 'maintenance_io_concurrency')",
          );
          for (const row of rows) seen[row.name] = row.setting;
          seen.rows = String((await client.query<{ count: string }>('select count(*) from events')).rows[0]!.count);
        }),
    });
    return { report: result.report, seen };
  }

  test('a drill runs the throwaway path, says so, and its copy holds every row', async () => {
    const { report, seen } = await drill(undefined);
    expect(report.status, JSON.stringify(report.error)).toBe('passed');
    expect(report.backup?.recovery).toEqual({ path: 'throwaway', settings: ['fsync = off', 'synchronous_commit = off', 'checkpoint_timeout = 1d', 'max_wal_size = 1TB', ...PREFETCH], stagedWalSegments: expect.any(Number) });
    expect(seen).toMatchObject({ fsync: 'off', checkpoint_timeout: '86400', maintenance_io_concurrency: '100', rows: '200' });
    expect(report.copy.removed).toBe(true);
  });

  test('restore --keep runs the durable path (fsync on, syncfs at start) and says so', async () => {
    const { report, seen } = await drill(600);
    try {
      expect(report.status, JSON.stringify(report.error)).toBe('passed');
      expect(report.copy.kept).toBe(true);
      expect(report.backup?.recovery).toEqual({ path: 'durable', settings: ['fsync = on', 'recovery_init_sync_method = syncfs', ...PREFETCH], stagedWalSegments: expect.any(Number) });
      expect(seen).toMatchObject({ fsync: 'on', checkpoint_timeout: '300', recovery_init_sync_method: 'syncfs', rows: '200' });
    } finally {
      if (report.copy.name) await destroyCopy(report.copy.name);
    }
  });
});
