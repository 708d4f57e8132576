import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { checkFreshness } from '../../lib/checks/freshness.ts';
import { NotOurCopyError } from '../../lib/errors.ts';
import { copyName, destroyCopy, MARKER_FILE, restoreCopy, type LocalCopyHandle, type RestoreCopyOptions } from '../../lib/providers/local/engine.ts';
import { isRunning } from '../../lib/providers/local/server.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { copyFolders, copyServers } from '../support/leftovers.ts';
import { SourceCluster as Cluster } from '../../lib/providers/local/sourceCluster.ts';
import { localSourceOf, testSource } from '../support/source.ts';

let source: SourceCluster;
/** A row value that must never reach a log (the newest text in events.note). */
const ROW_VALUE = 'secret-row-value-91c2';

function options(overrides: Partial<RestoreCopyOptions> = {}): RestoreCopyOptions {
  return {
    source: localSourceOf(source),
    target: { kind: 'latest' },
    name: copyName('isolation', new Date()),
    expiresAt: new Date(Date.now() + 3_600_000),
    connection: { database: 'postgres', user: 'postgres' },
    timeoutMs: 60_000,
    durable: false,
    ...overrides,
  };
}

async function editMarker(handle: LocalCopyHandle, edit: (marker: { managed: true; handle: LocalCopyHandle }) => void): Promise<void> {
  const path = join(handle.dir, MARKER_FILE);
  const marker = JSON.parse(await readFile(path, 'utf8')) as { managed: true; handle: LocalCopyHandle };
  edit(marker);
  await writeFile(path, JSON.stringify(marker));
}

beforeAll(async () => {
  source = await testSource();
  await source.query('create table events (id int primary key, note text)');
  await source.query(`insert into events values (1, 'first')`);
  await source.takeBaseBackup('base-1');
  await source.query(`insert into events values (2, 'second')`);
  await source.query(`insert into events values (3, $1)`, [ROW_VALUE]);
  await source.switchWal();
});

afterAll(async () => {
  await source?.remove();
});

afterEach(async () => {
  expect(await copyFolders('isolation')).toEqual([]);
  expect(await copyServers('isolation')).toEqual([]);
});

describe('a hand-edited marker (issue 14 item 3)', () => {
  // The source's postmaster is a process this test started: the one an edited marker aimed at.
  test.each([
    ['pid and dataDir of the source', (marker: { handle: LocalCopyHandle }) => ((marker.handle.pid = source.server.pid), (marker.handle.dataDir = source.dataDir))],
    ['dataDir "" (matches every command line)', (marker: { handle: LocalCopyHandle }) => ((marker.handle.pid = source.server.pid), (marker.handle.dataDir = ''))],
    ['pid of the source only', (marker: { handle: LocalCopyHandle }) => (marker.handle.pid = source.server.pid)],
    ['no pid at all', (marker: { handle: LocalCopyHandle }) => (marker.handle.pid = 0)],
  ])('with %s, destroy stops the copy\'s own server and nothing else', async (_, edit) => {
    const { handle } = await restoreCopy(options());
    const copyServer = handle.pid;
    await editMarker(handle, edit);

    await destroyCopy(handle.name);

    expect(await isRunning(source.server.pid)).toBe(true);
    expect(await source.query('select 1 as one')).toEqual([{ one: 1 }]);
    expect(await isRunning(copyServer)).toBe(false);
  });

  test('a marker in one copy folder that names another folder removes neither', async () => {
    const { handle: other } = await restoreCopy(options());
    const name = copyName('isolation', new Date());
    const dir = join(other.dir, '..', name);
    await mkdir(dir);
    await writeFile(join(dir, MARKER_FILE), JSON.stringify({ managed: true, handle: { ...other, name } }));
    try {
      await expect(destroyCopy(name)).rejects.toThrow(NotOurCopyError);
      expect(await readFile(join(other.dir, MARKER_FILE), 'utf8')).toContain(other.name);
      expect(await isRunning(other.pid)).toBe(true);
    } finally {
      await destroyCopy(other.name);
      const { rm } = await import('node:fs/promises');
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** Every file below a folder (or one file) with its size, mtime and content hash. */
async function checksum(path: string): Promise<Record<string, string>> {
  const info = await stat(path);
  if (info.isFile()) return { [path]: `${info.size}:${info.mtimeMs}:${createHash('sha256').update(await readFile(path)).digest('hex')}` };
  const result: Record<string, string> = {};
  for (const name of (await readdir(path)).sort()) Object.assign(result, await checksum(join(path, name)));
  return result;
}

describe('a backup holding symbolic links (issue 14 item 2)', () => {
  test.each(['pg_xact', 'global/pg_filenode.map'])('a low-level backup whose %s is a link is refused by name, the linked bytes unchanged', async (linked) => {
    // Prepare: a low-level backup (backup_label, no manifest) whose entry points into the source's own files.
    const other: Cluster = await testSource();
    try {
      await other.query('create table events (id int primary key)');
      const backup = await other.takeBaseBackup('base-1');
      await rm(join(backup, 'backup_manifest'), { force: true });
      await other.query('insert into events select generate_series(1, 1000)');
      await other.switchWal();
      const outside = join(other.dir, `outside-${linked.replaceAll('/', '-')}`);
      await rename(join(backup, linked), outside);
      await symlink(outside, join(backup, linked));
      const before = await checksum(outside);

      // Act
      const outcome = await restoreCopy(options({ source: localSourceOf(other) })).then(
        async ({ handle }) => {
          await destroyCopy(handle.name);
          return 'restored';
        },
        (error: Error) => error.message,
      );

      // Assess
      expect(await checksum(outside)).toEqual(before);
      expect(outcome).toContain(`${linked} -> ${outside}`);
    } finally {
      await other.remove();
    }
  });
});

describe('the copy\'s log (issue 14 item 5)', () => {
  test('is readable by its owner only, and a freshness check on a text column leaves no row value in it', async () => {
    const { handle, connection } = await restoreCopy(options());
    try {
      // Act: max(note)::timestamptz fails on the row's text, which Postgres puts in its error and statement lines.
      const result = await checkFreshness(
        { copy: { host: connection.host, port: connection.port, user: connection.user, database: connection.database }, target: new Date(), rpoTargetSeconds: 3600, statementTimeoutMs: 10_000 },
        { table: 'events', column: 'note' },
      );
      expect(result.status).not.toBe('pass');

      // Assess: the server got the query (its log is still written), and kept the value out of it.
      const log = await readFile(handle.logFile, 'utf8');
      expect(log).toMatch(/database system is ready to accept connections/);
      expect(log).not.toContain(ROW_VALUE);
      expect((await stat(handle.logFile)).mode & 0o077).toBe(0);
    } finally {
      await destroyCopy(handle.name);
    }
  });
});

describe('copySettings as the copy\'s server reads them (issue 14 item 1, the engine\'s own check)', () => {
  test.each([
    [{ 'hba_file ': '/tmp/evil_hba.conf' }, 'hba_file '],
    [{ 'work_mem = 4MB\nhba_file': '/tmp/evil_hba.conf' }, 'hba_file'],
    [{ HBA_FILE: '/tmp/evil_hba.conf' }, 'HBA_FILE'],
    [{ include: '/tmp/evil.conf' }, 'include'],
    [{ include_dir: '/tmp' }, 'include_dir'],
    [{ work_mem: "4MB'\nhba_file = '/tmp/evil_hba.conf" }, 'work_mem'],
    // The engine reads the server's log for why it stopped: a translated FATAL would read as no reason.
    [{ lc_messages: 'sv_SE.UTF-8' }, "lc_messages is set by restore-drill to read the copy server's log, which it needs in English (C)"],
  ])('%j is refused before anything is made, naming it', async (copySettings, named) => {
    const outcome = await restoreCopy(options({ copySettings })).then(
      async ({ handle }) => {
        await destroyCopy(handle.name);
        return 'restored';
      },
      (error: Error & { kind?: string }) => `${error.kind}: ${error.message}`,
    );
    expect(outcome).toMatch(/^input: copySettings/);
    expect(outcome).toContain(named);
  });
});

describe('archive paths holding % (issue 14 item 15, the local part)', () => {
  test('an archive folder named with %f, %p and %% restores like any other', async () => {
    const archive = join(source.dir, 'wal-%f-%p-%%-%r');
    await cp(source.archiveDir, archive, { recursive: true });
    try {
      const { handle, connection } = await restoreCopy(options({ source: { ...localSourceOf(source), walArchive: archive } }));
      try {
        const { newClient } = await import('../../lib/util/pgClient.ts');
        const client = newClient({ host: connection.host, port: connection.port, user: connection.user, database: connection.database });
        await client.connect();
        const { rows } = await client.query<{ n: number }>('select count(*)::int as n from events');
        await client.end();
        expect(rows[0]!.n).toBe(3);
      } finally {
        await destroyCopy(handle.name);
      }
    } finally {
      await rm(archive, { recursive: true, force: true });
    }
  });
});
