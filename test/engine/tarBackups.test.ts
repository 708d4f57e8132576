import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readdir, rm, stat, statfs, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { extract, pack, type Header } from 'tar-stream';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import { runDrill } from '../../lib/drill/drill.ts';
import { EnvironmentError, RestoreDrillError } from '../../lib/errors.ts';
import { providerFor } from '../../lib/providers/index.ts';
import { tool } from '../../lib/providers/local/binaries.ts';
import { copyName, destroyCopy, restoreCopy, type RestoreCopyOptions } from '../../lib/providers/local/engine.ts';
import { BrokenBackupError } from '../../lib/providers/local/errors.ts';
import { readWindow, type LocalSource, type RestoreTarget } from '../../lib/providers/local/plan.ts';
import { scratchFolders } from '../../lib/providers/local/scratch.ts';
import { serverUser } from '../../lib/providers/local/serverUser.ts';
import { readEntries, readMembers } from '../../lib/providers/local/tarEntries.ts';
import { unpackTarBackup } from '../../lib/providers/local/tarUnpack.ts';
import { findTarLayout, type TarFile } from '../../lib/providers/local/tarFiles.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { serverUserEnv } from '../../lib/providers/local/childEnv.ts';
import { microsToDate } from '../../lib/providers/local/wal/lsn.ts';
import { execOk } from '../../lib/util/exec.ts';
import { newClient } from '../../lib/util/pgClient.ts';
import { folderFingerprint } from '../support/archive.ts';
import { copyFolders, copyServers } from '../support/leftovers.ts';
import { insertRow, testSource } from '../support/source.ts';

/**
 * Tar-format base backups as pg_basebackup -Ft writes them, one folder of backups per format, all
 * taken after row 0 and before rows 1 and 2: a restore to a time between rows 1 and 2 holds 0 and 1.
 */
const FORMATS = [
  { name: 'gzip', args: ['-z', '-X', 'fetch'], files: ['backup_manifest', 'base.tar.gz'], format: 'tar format, gzip-compressed: base.tar.gz' },
  { name: 'gzip-stream', args: ['-z', '-X', 'stream'], files: ['backup_manifest', 'base.tar.gz', 'pg_wal.tar.gz'], format: 'tar format, gzip-compressed: base.tar.gz and pg_wal.tar.gz' },
  { name: 'lz4', args: ['--compress=lz4', '-X', 'stream'], files: ['backup_manifest', 'base.tar.lz4', 'pg_wal.tar'], format: 'tar format, lz4-compressed: base.tar.lz4 and pg_wal.tar' },
  { name: 'zstd', args: ['--compress=zstd', '-X', 'stream'], files: ['backup_manifest', 'base.tar.zst', 'pg_wal.tar'], format: 'tar format, zstd-compressed: base.tar.zst and pg_wal.tar' },
  { name: 'plain-tar', args: ['-X', 'stream'], files: ['backup_manifest', 'base.tar', 'pg_wal.tar'], format: 'tar format, uncompressed: base.tar and pg_wal.tar' },
] as const;

let source: SourceCluster;
let work: string;
let rowBefore: bigint;
let rowAfter: bigint;
const fingerprints = new Map<string, Record<string, string>>();

/** The backups folder of one format (its one backup is base-1). */
function backupsOf(format: string): string {
  return join(source.dir, 'tars', format);
}

function sourceOf(baseBackups: string): LocalSource {
  return { baseBackups, walArchive: source.archiveDir };
}

function options(target: RestoreTarget, from: LocalSource): RestoreCopyOptions {
  return {
    source: from,
    target,
    name: copyName('tars', new Date()),
    expiresAt: new Date(Date.now() + 3_600_000),
    connection: { database: 'postgres', user: 'postgres' },
    timeoutMs: 60_000,
    durable: false,
  };
}

function between(): RestoreTarget {
  return { kind: 'time', time: microsToDate((rowBefore + rowAfter) / 2n) };
}

async function pgBasebackup(dir: string, args: readonly string[]): Promise<void> {
  const user = await serverUser();
  await mkdir(join(dir, '..'), { recursive: true });
  if (user.runAs) await execOk('chown', ['-R', `${user.uid}:${user.gid}`, join(source.dir, 'tars')]);
  await execOk(
    tool(source.binaries, 'pg_basebackup'),
    ['-D', dir, '-Ft', ...args, '-c', 'fast', '-l', 'base-1', '-h', source.server.socketDir, '-p', String(source.server.port), '-U', 'postgres'],
    { as: user.runAs, env: serverUserEnv() },
  );
}

/** A copy of one format's backups that a test may damage; the archive stays the source's own. */
async function damageable(format: string, name: string): Promise<string> {
  const dir = join(work, name);
  await cp(backupsOf(format), dir, { recursive: true });
  return dir;
}

/** Rewrites a tar, with `extra` entries put in just before the entry named `before` (pg_control, near the end), or at its end for ''. */
async function repack(path: string, before: string, extra: { header: Header | Pick<Header, 'name'> & Partial<Header>; body?: string | Buffer }[]): Promise<void> {
  const input = extract();
  const output = pack();
  const written = pipeline(output, createWriteStream(`${path}.new`));
  const read = pipeline(createReadStream(path), input);
  for await (const entry of input) {
    if (entry.header.name === before) {
      for (const item of extra) await new Promise<void>((resolve, reject) => output.entry(item.header, item.body ?? '', (error) => (error ? reject(error) : resolve())));
    }
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    await new Promise<void>((resolve, reject) => output.entry(entry.header, Buffer.concat(chunks), (error) => (error ? reject(error) : resolve())));
  }
  await read;
  if (before === '') {
    for (const item of extra) await new Promise<void>((resolve, reject) => output.entry(item.header, item.body ?? '', (error) => (error ? reject(error) : resolve())));
  }
  output.finalize();
  await written;
  await execOk('mv', [`${path}.new`, path]);
}

async function idsIn(target: RestoreTarget, from: LocalSource): Promise<{ ids: number[]; baseBackup: unknown }> {
  const { handle, connection } = await restoreCopy(options(target, from));
  try {
    const client = newClient({ host: connection.host, port: connection.port, user: connection.user, database: connection.database });
    await client.connect();
    const { rows } = await client.query<{ id: number }>('select id from events order by id');
    await client.end();
    return { ids: rows.map((row) => row.id), baseBackup: handle.baseBackup };
  } finally {
    await destroyCopy(handle.name);
  }
}

/** Polls a condition until it yields a value (at most 30 s). */
async function until<T>(probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('condition not met within 30 s');
    await delay(2);
  }
}

const exists = (path: string) => stat(path).then(() => true, () => false);

beforeAll(async () => {
  source = await testSource();
  work = await mkdtemp(join(scratchFolders.sources(), 'tars-'));
  await source.query('create table events (id int primary key)');
  await source.query('insert into events values (0)');
  for (const format of FORMATS) await pgBasebackup(join(backupsOf(format.name), 'base-1'), format.args);
  // Each backup's history file (<segment>.<offset>.backup) tells where it ends; the archiver copies it with the next segment.
  await source.switchWal();
  const deadline = Date.now() + 60_000;
  while ((await readdir(source.archiveDir)).filter((name) => name.endsWith('.backup')).length < FORMATS.length) {
    if (Date.now() > deadline) throw new Error('the backup history files were not archived');
    await source.switchWal();
  }
  // A backup's window opens after its stop time, which the history file gives in whole seconds: the rows come after that.
  let opens = 0;
  for (const format of FORMATS) opens = Math.max(opens, (await readWindow(sourceOf(backupsOf(format.name)))).window.earliest.getTime());
  await delay(Math.max(0, opens - Date.now() + 5));
  rowBefore = await insertRow(source, 'events', 1);
  rowAfter = await insertRow(source, 'events', 2);
  expect(rowAfter - rowBefore).toBeGreaterThan(2000n);
  await source.switchWal();
  for (const format of FORMATS) fingerprints.set(format.name, await folderFingerprint(join(backupsOf(format.name), 'base-1')));
}, 120_000);

afterAll(async () => {
  await source?.remove();
  if (work) await rm(work, { recursive: true, force: true });
});

afterEach(async () => {
  // Passing or failing, a test leaves no copy folder and no copy server behind.
  expect(await copyFolders('tars')).toEqual([]);
  expect(await copyServers('tars')).toEqual([]);
});

describe('tar-format base backups (pg_basebackup -Ft)', () => {
  test.each(FORMATS)('a $name backup restores to a time between two writes: the row before is in, the row after is out', async (format) => {
    expect((await readdir(join(backupsOf(format.name), 'base-1'))).sort()).toEqual(format.files);

    const { ids, baseBackup } = await idsIn(between(), sourceOf(backupsOf(format.name)));

    expect(ids).toEqual([0, 1]);
    expect(baseBackup).toMatchObject({
      used: 'base-1',
      files: expect.stringMatching(new RegExp(`^\\d+ files verified against the backup_manifest by pg_verifybackup \\(size and checksum\\), once unpacked from ${format.format.replace(/[.]/g, '\\.')}$`)),
      filesVerifiedBy: 'pg_verifybackup',
      skipped: [],
    });
    // The backup is read, never written: its files as they were.
    expect(await folderFingerprint(join(backupsOf(format.name), 'base-1'))).toEqual(fingerprints.get(format.name));
  });

  test('a drill of a tar backup runs the same checks and its report names the backup and its format', async () => {
    const config = await validateConfig(
      {
        rpoTargetSeconds: 86_400,
        databases: [
          {
            name: 'tars',
            provider: { kind: 'local', baseBackups: backupsOf('zstd'), walArchive: source.archiveDir },
            connection: { database: 'postgres', user: 'postgres' },
            checks: { rowCounts: [{ table: 'events', min: 2 }] },
          },
        ],
      },
      work,
    );
    const database = config.databases[0]!;

    const { report } = await runDrill(config, database, providerFor(database, { durable: false }), { trigger: 'cli', target: 'latest', pollIntervalMs: 20 });

    expect(report.error ?? null).toBeNull();
    expect(report.checks.map((check) => [check.check, check.status])).toContainEqual(['rowCounts', 'pass']);
    expect(report.backup).toMatchObject({ used: 'base-1', filesVerifiedBy: 'pg_verifybackup' });
    expect(report.backup?.files).toMatch(/ verified against the backup_manifest by pg_verifybackup \(size and checksum\), once unpacked from tar format, zstd-compressed: base\.tar\.zst and pg_wal\.tar$/);
  });

  test('the window of a tar backup comes from its backup_label and the archive, without unpacking it', async () => {
    const { window } = await readWindow(sourceOf(backupsOf('gzip')));

    expect(window.backups.map((b) => b.backup.name)).toEqual(['base-1']);
    expect(window.backups[0]!.backup.pgMajor).toBe(15);
    expect(window.earliest.getTime()).toBeLessThan(Number(rowBefore / 1000n));
    expect(window.latest.getTime()).toBe(Number(rowAfter / 1000n));
    expect(await readdir(join(backupsOf('gzip'), 'base-1'))).toEqual(['backup_manifest', 'base.tar.gz']);
  });

  test('an lz4 backup on a machine without the lz4 program is refused as such (install lz4), not as a broken backup', async () => {
    const path = process.env.PATH;
    process.env.PATH = join(work, 'no-programs-here');
    const error = await readWindow(sourceOf(backupsOf('lz4'))).catch((e: unknown) => e).finally(() => (process.env.PATH = path));

    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as EnvironmentError).kind).toBe('input');
    expect((error as Error).message).toContain('base.tar.lz4 is lz4-compressed (pg_basebackup --compress=lz4), and reading it needs the lz4 program, which is not on PATH');
  });

  test('a tar backup restores with WAL fetched by a restoreCommand (the archive read through a command, not a folder)', async () => {
    const fetched: LocalSource = { baseBackups: backupsOf('gzip'), restoreCommand: `cp '${source.archiveDir}/%f' %p` };

    const { ids } = await idsIn(between(), fetched);

    expect(ids).toEqual([0, 1]);
  });

  test('the WAL of a -X stream backup (pg_wal.tar) serves where the archive lacks it, as a plain backup\'s own pg_wal does', async () => {
    const archive = join(work, 'archive-without-the-backups-wal');
    await cp(source.archiveDir, archive, { recursive: true });
    const inTar = (await execOk('tar', ['-tf', join(backupsOf('lz4'), 'base-1', 'pg_wal.tar')])).stdout.split('\n').filter((name) => /^[0-9A-F]{24}$/.test(name));
    expect(inTar.length).toBeGreaterThan(0);
    for (const segment of inTar) await rm(join(archive, segment));

    const { ids } = await idsIn(between(), { baseBackups: backupsOf('lz4'), walArchive: archive });

    expect(ids).toEqual([0, 1]);
  });

  test('a copy removed while its tar backup is being unpacked leaves no folder, and its restore fails saying so', async () => {
    const restoring = restoreCopy(options(between(), sourceOf(backupsOf('gzip'))));
    const outcome = restoring.then(() => 'restored', (error: Error) => error);
    const name = await until(async () => (await copyFolders('tars'))[0]);
    await until(async () => (await exists(join(scratchFolders.copies(), name, 'data', 'global'))) || undefined);

    await destroyCopy(name);

    const error = await outcome;
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/removed while/);
    expect(await copyFolders('tars')).toEqual([]);
  });

  test.each([
    ['a path that climbs out with ".."', { name: '../../escaped-by-dots', type: 'file' as const }, 'climbs out of the folder with ".."'],
    ['an absolute path', { name: '/tmp/restore-drill-escaped-absolute', type: 'file' as const }, 'is an absolute path'],
    ['a symbolic link out of the folder', { name: 'global/escape-link', type: 'symlink' as const, linkname: '/etc' }, 'is a symbolic link (to "/etc")'],
    ['a hard link', { name: 'global/hard-link', type: 'link' as const, linkname: '/etc/passwd' }, 'is a hard link (to "/etc/passwd")'],
  ])('a tar entry escaping the copy (%s) is refused, naming it, and nothing is written outside', async (_, header, why) => {
    const dir = await damageable('plain-tar', `escape-${header.type}-${header.name.length}`);
    await repack(join(dir, 'base-1', 'base.tar'), 'global/pg_control', [{ header, body: header.type === 'file' ? 'escaped\n' : '' }]);

    const error = await restoreCopy(options(between(), sourceOf(dir))).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(BrokenBackupError);
    expect((error as Error).message).toContain(`base backup base-1: base.tar holds the entry ${JSON.stringify(header.name)}, which ${why}`);
    expect(await exists(join(scratchFolders.copies(), 'escaped-by-dots'))).toBe(false);
    expect(await exists('/tmp/restore-drill-escaped-absolute')).toBe(false);
  });

  test.each([
    ['base.tar', 'plain-tar'],
    ['base.tar.gz', 'gzip'],
  ])('a truncated %s fails the restore before the copy starts, naming the backup and the file', async (file, format) => {
    const dir = await damageable(format, `truncated-${format}`);
    const path = join(dir, 'base-1', file);
    await truncate(path, Math.floor((await stat(path)).size / 2) + 100);

    const error = await restoreCopy(options(between(), sourceOf(dir))).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(BrokenBackupError);
    expect((error as BrokenBackupError).kind).toBe('backup');
    expect((error as Error).message).toMatch(new RegExp(`^base backup base-1: ${file.replace('.', '\\.')} \\(.*\\) is damaged or cut short at entry \\d+, "[^"]+": `));
  });

  test('a file of the tar that does not match the backup_manifest fails the restore, found once unpacked', async () => {
    const dir = await damageable('plain-tar', 'edited');
    await repack(join(dir, 'base-1', 'base.tar'), 'global/pg_control', [{ header: { name: 'global/not-in-manifest', type: 'file' }, body: 'x' }]);

    const error = await restoreCopy(options(between(), sourceOf(dir))).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(BrokenBackupError);
    expect((error as Error).message).toContain('"global/not-in-manifest" is present on disk but not in the manifest');
  });

  test('a tar backup with a tablespace (its <oid>.tar) is refused, naming it, before anything is made', async () => {
    const location = join(source.dir, 'tablespace');
    await mkdir(location);
    const user = await serverUser();
    if (user.runAs) await execOk('chown', [`${user.uid}:${user.gid}`, location]);
    await chmod(location, 0o700);
    await source.query(`create tablespace elsewhere location '${location}'`);
    await source.query('create table placed (id int) tablespace elsewhere');
    const [{ oid } = { oid: '' }] = await source.query<{ oid: string }>(`select oid::text from pg_tablespace where spcname = 'elsewhere'`);
    const backups = join(source.dir, 'tars', 'tablespace');
    await pgBasebackup(join(backups, 'base-1'), ['-z', '-X', 'fetch']);
    expect(await readdir(join(backups, 'base-1'))).toContain(`${oid}.tar.gz`);

    const error = await restoreCopy(options({ kind: 'latest' }, sourceOf(backups))).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RestoreDrillError);
    expect((error as RestoreDrillError).kind).toBe('input');
    expect((error as Error).message).toContain(`has tablespaces (pg_tblspc: ${oid}.tar.gz, ${oid} (was ${location}))`);
  });
});

describe('what a tar may unpack: under pg_wal, one name once, within the free space', () => {
  const NOT_WAL = 'is not a WAL segment, a .history, .backup or .partial file, or archive_status';
  test.each([
    ['base.tar', 'pg_wal/sparse', 'x'],
    ['pg_wal.tar', 'sparse', 'x'],
    ['pg_wal.tar', 'sub/000000010000000000000099', 'x'],
    ['pg_wal.tar', '000000010000000000000099', 'a segment and a byte'],
    ['pg_wal.tar', '00000002.history', 'a segment and a byte'],
  ])('%s: an entry %s under pg_wal that a WAL folder does not hold is refused, naming it', async (tarName, name, content) => {
    // The test cluster's segments are 1 MB (initdb --wal-segsize).
    const segment = source.walSegmentSize;
    const body = content === 'x' ? 'x' : Buffer.alloc(segment + 1);
    const why = content === 'x' ? NOT_WAL : `holds ${segment + 1} bytes, more than a WAL segment of this cluster (${segment})`;
    const dir = await damageable('plain-tar', `wal-${tarName}-${name.replace(/\W/g, '_')}`);
    await repack(join(dir, 'base-1', tarName), tarName === 'base.tar' ? 'global/pg_control' : '', [{ header: { name, type: 'file', size: body.length }, body }]);

    const error = await restoreCopy(options(between(), sourceOf(dir))).then(
      async (restored) => (await destroyCopy(restored.handle.name), restored),
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(BrokenBackupError);
    expect((error as Error).message).toContain(`base backup base-1: ${tarName} holds the entry ${JSON.stringify(name)} under pg_wal, which ${why}`);
  });

  test.each([
    ['a file then a folder of the same name, one after the other', [{ name: 'global/twice', type: 'file' as const }, { name: 'global/twice', type: 'directory' as const }], 'global/twice'],
    ['a folder over a file written long before', [{ name: 'PG_VERSION', type: 'directory' as const }], 'PG_VERSION'],
    ['a folder then a file of the same name', [{ name: 'global/twice', type: 'directory' as const }, { name: 'global/twice', type: 'file' as const }], 'global/twice'],
  ])('%s: always a broken backup naming the entry (exit 1), and the drill says its copy was made and removed', async (_, entries, named) => {
    const dir = await damageable('plain-tar', `same-name-${entries.map((entry) => entry.type).join('-')}-${named.length}`);
    await repack(join(dir, 'base-1', 'base.tar'), 'global/pg_control', entries.map((header) => ({ header, body: header.type === 'file' ? 'x' : '' })));
    const config = await validateConfig(
      {
        rpoTargetSeconds: 86_400,
        databases: [{ name: 'tars', provider: { kind: 'local', baseBackups: dir, walArchive: source.archiveDir }, connection: { database: 'postgres', user: 'postgres' } }],
      },
      work,
    );
    const database = config.databases[0]!;

    const { report } = await runDrill(config, database, providerFor(database, { durable: false }), { trigger: 'cli', target: 'latest', pollIntervalMs: 20 });

    expect(report.error).toMatchObject({ step: 'restore', kind: 'backup', message: expect.stringContaining(`base.tar holds ${JSON.stringify(named)} twice`) });
    expect(report.copy).toMatchObject({ removed: true, fate: 'removed' });
    expect(report.copy.made).toBeUndefined();
    expect(await copyFolders('tars')).toEqual([]);
  });

  test('the WAL files, histories and archive_status of real backups pass (fetch into base.tar, stream into pg_wal.tar)', async () => {
    const dir = await damageable('plain-tar', 'wal-kinds');
    await repack(join(dir, 'base-1', 'pg_wal.tar'), '', [
      { header: { name: '00000001.history', type: 'file' }, body: '' },
      { header: { name: '000000010000000000000001.00000028.backup', type: 'file' }, body: 'START WAL LOCATION: 0/1000028\n' },
      { header: { name: 'archive_status/000000010000000000000001.done', type: 'file' }, body: '' },
    ]);
    const data = join(work, 'wal-kinds-data');
    await mkdir(data);
    const totals = await unpackTarBackup((await findTarLayout(join(dir, 'base-1')))!, 'base-1', data, { segmentSize: source.walSegmentSize });
    expect(totals.files).toBeGreaterThan(900);
    expect((await readdir(join(data, 'pg_wal'))).sort()).toEqual(expect.arrayContaining(['00000001.history', 'archive_status']));
  });

  test('an unpack that would leave less than its reserve free stops before writing the entry, naming it and the space, never filling the disk', async () => {
    const layout = (await findTarLayout(join(backupsOf('gzip'), 'base-1')))!;
    const data = join(work, 'space-data');
    await mkdir(data);
    const disk = await statfs(data);
    const free = disk.bavail * disk.bsize;
    // Room for 2 MB of the backup: pg_basebackup's first files fit, the whole (about 24 MB with its WAL) does not.
    const reserveBytes = free - 2 * 1024 * 1024;

    const error = await unpackTarBackup(layout, 'base-1', data, { segmentSize: source.walSegmentSize, reserveBytes }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RestoreDrillError);
    expect((error as RestoreDrillError).kind).toBe('tool');
    expect((error as Error).message).toMatch(/^not enough free space in .*: unpacking base\.tar\.gz, the entry ".+" \(\d+ bytes\) would leave less than \d+ MB free; it stopped before writing it\. Free space there, or set RESTORE_DRILL_SCRATCH to a bigger disk$/);
    const written = (await execOk('find', [data, '-type', 'f', '-printf', '%s\n'])).stdout.split('\n').filter(Boolean).reduce((sum, size) => sum + Number(size), 0);
    expect(written).toBeGreaterThan(0);
    // Other tests write and free space on the same disk between this reading and the unpack's own: a few MB of slack.
    expect(written).toBeLessThanOrEqual(8 * 1024 * 1024);
  });
});

describe('reading tar entries', () => {
  test('a "backup_label" far bigger than pg_basebackup writes is refused, naming it, not read into memory', async () => {
    const path = join(work, 'big-label.tar');
    const output = pack();
    const written = pipeline(output, createWriteStream(path));
    output.entry({ name: 'backup_label' }, Buffer.alloc(2 << 20, 'x'));
    output.finalize();
    await written;
    const file: TarFile = { name: 'base.tar', path, compression: 'none', bytes: (await stat(path)).size };

    const error = await readMembers(file, ['backup_label'], { backup: 'base-1' }).catch((e: unknown) => e);

    expect((error as Error).message).toBe('base.tar holds a backup_label of 2097152 bytes, far more than pg_basebackup writes (at most 1048576 for it): it is not a backup pg_basebackup made');
  });

  test('an error of the one unpacking (a full disk) comes through as it is, never as a damaged backup', async () => {
    const path = join(work, 'small.tar');
    const output = pack();
    const written = pipeline(output, createWriteStream(path));
    output.entry({ name: 'PG_VERSION' }, '15\n');
    output.finalize();
    await written;
    const file: TarFile = { name: 'small.tar', path, compression: 'none', bytes: (await stat(path)).size };

    const error = await readEntries(file, async () => {
      throw new Error('No space left on device, unpacking small.tar: PG_VERSION');
    }, { backup: 'base-1' }).catch((e: unknown) => e);

    expect(error).not.toBeInstanceOf(BrokenBackupError);
    expect((error as Error).message).toBe('No space left on device, unpacking small.tar: PG_VERSION');
  });
});

