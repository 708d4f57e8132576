import { cp, mkdtemp, open, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { tool } from '../../lib/providers/local/binaries.ts';
import { copyName, destroyCopy, restoreCopy, type RestoreCopyOptions } from '../../lib/providers/local/engine.ts';
import { BrokenBackupError } from '../../lib/providers/local/errors.ts';
import { verifyBackupFiles } from '../../lib/providers/local/manifest.ts';
import type { LocalSource, RestoreTarget } from '../../lib/providers/local/plan.ts';
import { scratchFolders } from '../../lib/providers/local/scratch.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { execOk } from '../../lib/util/exec.ts';
import { newClient } from '../../lib/util/pgClient.ts';
import { copyFolders, copyServers } from '../support/leftovers.ts';
import { localSourceOf, machineBinaries, testSource } from '../support/source.ts';

/**
 * Broken base backups, as a bad day brings them: a data file cut short, a byte flipped, a backup
 * without its backup_label. A source with two base backups: 5000 rows in `wide` before base-1,
 * 10 rows in `events` between base-1 and base-2.
 */
let source: SourceCluster;
let local: LocalSource;
let damaged: string;
/** The heap file of `wide`, relative to a backup folder (base/<db oid>/<relfilenode>). */
let wideFile: string;
let pgVerifybackup: string;

function options(target: RestoreTarget, source: LocalSource): RestoreCopyOptions {
  return {
    source,
    target,
    name: copyName('backups', new Date()),
    expiresAt: new Date(Date.now() + 3_600_000),
    connection: { database: 'postgres', user: 'postgres' },
    timeoutMs: 60_000,
    durable: false,
  };
}

/** A copy of the backups folder that a test may damage; the archive stays the source's own. */
async function backupsCopy(name: string): Promise<LocalSource> {
  const dir = join(damaged, name);
  await cp(source.backupsDir, dir, { recursive: true });
  return { ...local, baseBackups: dir };
}

async function countIn(target: RestoreTarget, from: LocalSource): Promise<{ wide: number; backup: unknown }> {
  const { handle, connection } = await restoreCopy(options(target, from));
  try {
    const client = newClient({ host: connection.host, port: connection.port, user: connection.user, database: connection.database });
    await client.connect();
    const { rows } = await client.query<{ n: number }>('select count(*)::int as n from wide');
    await client.end();
    return { wide: rows[0]!.n, backup: handle.baseBackup };
  } finally {
    await destroyCopy(handle.name);
  }
}

beforeAll(async () => {
  source = await testSource();
  local = localSourceOf(source);
  damaged = await mkdtemp(join(scratchFolders.sources(), 'backups-'));
  pgVerifybackup = tool(await machineBinaries(), 'pg_verifybackup');
  await source.query(`create table wide (id int primary key, note text)`);
  await source.query(`create table events (id int primary key)`);
  await source.query(`insert into wide select i, repeat('x', 100) from generate_series(1, 5000) i`);
  await source.query('checkpoint');
  const [file] = await source.query<{ path: string; pages: number }>(`select pg_relation_filepath('wide') as path, pg_relation_size('wide') / 8192 as pages`);
  wideFile = file!.path;
  expect(Number(file!.pages)).toBe(87);
  await source.takeBaseBackup('base-1');
  await source.query('insert into events select generate_series(1, 10)');
  await source.takeBaseBackup('base-2');
  await source.switchWal();
});

afterAll(async () => {
  await source?.remove();
  if (damaged) await rm(damaged, { recursive: true, force: true });
});

afterEach(async () => {
  expect(await copyFolders('backups')).toEqual([]);
  expect(await copyServers('backups')).toEqual([]);
});

describe('the files of the base backup, against its backup_manifest', () => {
  test('an intact backup restores, and the copy says which backup it came from, verified by pg_verifybackup, and which it skipped', async () => {
    const { wide, backup } = await countIn({ kind: 'latest' }, local);

    expect(wide).toBe(5000);
    expect(backup).toEqual({
      used: 'base-2',
      files: expect.stringMatching(/^\d+ files verified against the backup_manifest by pg_verifybackup \(size and checksum\)$/),
      filesVerifiedBy: 'pg_verifybackup',
      skipped: [{ name: 'base-1', reason: 'base-2 is newer and ends before the target' }],
      // Which recovery path ran (issue 18): test copies are durable: false, the throwaway path.
      recovery: expect.objectContaining({ path: 'throwaway' }),
      // Whether the copy had a network of its own depends on the machine (root and unshare): either way it is said.
      network: { isolated: expect.any(Boolean), how: expect.any(String) },
    });
  });

  test('a data file cut short (87 pages to 9) fails the restore before the copy starts, naming the backup and the file', async () => {
    const cut = await backupsCopy('truncated');
    await truncate(join(cut.baseBackups, 'base-2', wideFile), 9 * 8192);

    const error = await restoreCopy(options({ kind: 'latest' }, cut)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(BrokenBackupError);
    expect((error as BrokenBackupError).kind).toBe('backup');
    expect((error as Error).message).toContain('base backup base-2');
    expect((error as Error).message).toContain(`"${wideFile}" has size 73728 on disk but size 712704 in the manifest`);
    expect((error as Error).message).toContain('pg_verifybackup');
  });

  test('a backup without a manifest (the low-level API) restores, and says its files were not verified', async () => {
    const bare = await backupsCopy('no-manifest');
    await rm(join(bare.baseBackups, 'base-2', 'backup_manifest'));

    const { wide, backup } = await countIn({ kind: 'latest' }, bare);

    expect(wide).toBe(5000);
    expect(backup).toMatchObject({ used: 'base-2', files: 'files not verified: no manifest (a low-level API backup)', filesVerifiedBy: 'no manifest' });
  });

  describe('our own manifest reader (for binaries without pg_verifybackup) finds what pg_verifybackup finds', () => {
    const damages: [string, (backup: string) => Promise<void>, RegExp][] = [
      ['a file cut short', (backup) => truncate(join(backup, wideFile), 9 * 8192), /has size 73728 on disk but size 712704 in the manifest/],
      [
        'a byte flipped inside a page (same size)',
        async (backup) => {
          const handle = await open(join(backup, wideFile), 'r+');
          const byte = Buffer.alloc(1);
          await handle.read(byte, 0, 1, 40 * 8192 + 4000);
          byte[0] = byte[0]! ^ 0xff;
          await handle.write(byte, 0, 1, 40 * 8192 + 4000);
          await handle.close();
        },
        /checksum mismatch for file/,
      ],
      ['a file removed', (backup) => rm(join(backup, wideFile)), /is present in the manifest but not on disk/],
      ['a file added', (backup) => writeFile(join(backup, 'base', 'stray'), 'x'), /is present on disk but not in the manifest/],
      [
        'the manifest edited (a field no file check reads)',
        async (backup) => {
          const manifest = join(backup, 'backup_manifest');
          await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('"Last-Modified": "20', '"Last-Modified": "19'));
        },
        /manifest('s own)? checksum/i,
      ],
    ];

    test('an intact backup passes both, CRC-32C and SHA-256 manifests alike', async () => {
      const sha = join(damaged, 'sha256');
      await execOk(tool(await machineBinaries(), 'pg_basebackup'), ['-D', sha, '-Fp', '-X', 'none', '-c', 'fast', '--manifest-checksums=SHA256', '-h', source.server.socketDir, '-p', String(source.server.port), '-U', 'postgres']);
      for (const backup of [join(source.backupsDir, 'base-2'), sha]) {
        const [ours, theirs] = [await verifyBackupFiles(backup), await verifyBackupFiles(backup, { pgVerifybackup })];
        expect([ours.ok, ours.method, ours.problems]).toEqual([true, 'manifest reader', []]);
        expect([theirs.ok, theirs.method]).toEqual([true, 'pg_verifybackup']);
        expect(ours.files).toBe(theirs.files);
        expect(ours.files).toBeGreaterThan(900);
      }
    });

    test.each(damages)('%s', async (name, damage, expected) => {
      const copy = await backupsCopy(`reader-${name.replaceAll(' ', '-')}`);
      const backup = join(copy.baseBackups, 'base-2');
      await damage(backup);

      const [ours, theirs] = [await verifyBackupFiles(backup), await verifyBackupFiles(backup, { pgVerifybackup })];

      expect(theirs.ok).toBe(false);
      expect(ours.ok).toBe(false);
      expect(ours.summary).toMatch(expected);
      expect(theirs.summary).toMatch(expected);
    });
  });
});

describe('a base backup that cannot be used', () => {
  test('the newest without a backup_label fails the restore, naming it (no quiet fall back to an older one)', async () => {
    const unlabelled = await backupsCopy('no-label');
    await rm(join(unlabelled.baseBackups, 'base-2', 'backup_label'));

    const error = await restoreCopy(options({ kind: 'latest' }, unlabelled)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(BrokenBackupError);
    expect((error as BrokenBackupError).backup).toBe('base-2');
    expect((error as Error).message).toMatch(/^base backup base-2 \(.*\) cannot be used: it has no backup_label\. It is newer than base-1/);
  });

  test('an older one without a label is listed as skipped, with its reason, when the newest serves the target', async () => {
    const unlabelled = await backupsCopy('old-no-label');
    await rm(join(unlabelled.baseBackups, 'base-1', 'backup_label'));

    const { wide, backup } = await countIn({ kind: 'latest' }, unlabelled);

    expect(wide).toBe(5000);
    expect(backup).toMatchObject({ used: 'base-2', skipped: [{ name: 'base-1', reason: 'it has no backup_label' }] });
  });
});
