import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import { copyName, destroyCopy, restoreCopy } from '../../lib/providers/local/engine.ts';
import type { LocalSource, RestoreTarget } from '../../lib/providers/local/plan.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { skipStaged, stagingMayOverlapReplay, startWalStaging } from '../../lib/providers/local/stageWal.ts';
import { scratchFolders } from '../../lib/providers/local/scratch.ts';
import type { WalFile } from '../../lib/providers/local/wal/archive.ts';
import { newClient } from '../../lib/util/pgClient.ts';
import { folderFingerprint } from '../support/archive.ts';
import { insertRow, localSourceOf, testSource } from '../support/source.ts';

// Issue 18: the WAL recovery will read is copied into the copy's pg_wal before the server starts, and
// the restore_command skips exactly those segments, so replay does not wait on one process per
// segment. Compressed archives fall back to restore_command. The archive is never written.

let source: SourceCluster;
let local: LocalSource;
const commits = new Map<number, bigint>();

beforeAll(async () => {
  source = await testSource();
  local = localSourceOf(source);
  await source.query('create table events (id int primary key, note text)');
  await source.query('insert into events (id) values (0)');
  await source.takeBaseBackup('base-1');
  for (const id of [1, 2, 3]) {
    commits.set(id, await insertRow(source, 'events', id));
    // A segment of its own for each row: the target below falls between segments.
    await source.switchWal();
  }
}, 120_000);

afterAll(async () => {
  await source?.remove();
});

async function restore(from: LocalSource, target: RestoreTarget, path: 'throwaway' | 'durable' = 'throwaway'): Promise<{ ids: number[]; log: string; staged: number | undefined }> {
  const { handle, connection } = await restoreCopy({
    source: from,
    target,
    name: copyName('stage', new Date()),
    expiresAt: new Date(Date.now() + 3_600_000),
    connection: { database: 'postgres', user: 'postgres' },
    timeoutMs: 60_000,
    ...(path === 'throwaway' ? { throwaway: true } : { durable: true }),
  });
  try {
    const client = newClient({ host: connection.host, port: connection.port, user: connection.user, database: connection.database });
    await client.connect();
    const { rows } = await client.query<{ id: number }>('select id from events order by id');
    await client.end();
    return { ids: rows.map((row) => row.id), log: await readFile(handle.logFile, 'utf8'), staged: handle.baseBackup.recovery?.stagedWalSegments };
  } finally {
    await destroyCopy(handle.name);
  }
}

/** Segments Postgres fetched through restore_command (history files aside). */
const restoredSegments = (log: string) => [...log.matchAll(/restored log file "([0-9A-F]{24})" from archive/g)].map((match) => match[1]);

describe('WAL staged into the copy\'s pg_wal', () => {
  test('a durable copy (restore --keep) starts once every planned segment is staged: none is read through restore_command; the archive is untouched', async () => {
    const before = await folderFingerprint(source.archiveDir);

    const { ids, log, staged } = await restore(local, { kind: 'latest' }, 'durable');

    expect(ids).toEqual([0, 1, 2, 3]);
    expect(staged).toBeGreaterThan(0);
    expect(restoredSegments(log)).toEqual([]);
    expect(await folderFingerprint(source.archiveDir)).toEqual(before);
  });

  test('a drill\'s throwaway copy starts while staging goes on: each segment is read once, from pg_wal or through restore_command, and the copy is complete', async () => {
    const before = await folderFingerprint(source.archiveDir);

    const { ids, log, staged } = await restore(local, { kind: 'latest' });

    expect(ids).toEqual([0, 1, 2, 3]);
    expect(staged).toBeGreaterThan(0);
    const fetched = restoredSegments(log);
    expect(new Set(fetched).size).toBe(fetched.length);
    expect(await folderFingerprint(source.archiveDir)).toEqual(before);
  });

  test('a time target stops where it should with the later segments lying in pg_wal', async () => {
    // Ceil to the millisecond: at or just after the commit of row 2, before row 3's.
    const target = new Date(Number((commits.get(2)! + 999n) / 1000n));

    const { ids, staged } = await restore(local, { kind: 'time', time: target });

    expect(staged).toBeGreaterThan(0);
    expect(ids).toEqual([0, 1, 2]);
  });

  test('a compressed archive falls back to restore_command for every segment (nothing staged) and is as complete', async () => {
    // Prepare: the same archive with each segment gzipped, as some archive_commands write it
    const gzDir = join(source.dir, 'wal-gz');
    await mkdir(gzDir, { recursive: true });
    for (const name of await readdir(source.archiveDir)) {
      const content = await readFile(join(source.archiveDir, name));
      if (/^[0-9A-F]{24}$/.test(name)) await writeFile(join(gzDir, `${name}.gz`), gzipSync(content));
      else await writeFile(join(gzDir, name), content);
    }

    const { ids, log, staged } = await restore({ ...local, walArchive: gzDir }, { kind: 'latest' });

    expect(ids).toEqual([0, 1, 2, 3]);
    expect(staged).toBe(0);
    expect(restoredSegments(log).length).toBeGreaterThan(0);
  });

  test('the restore_command says which file the server asked for, fails at once for a staged segment and runs the command for any other file, % in the folder written as %%', () => {
    const command = skipStaged("cp '/a/%f' '%p'", '/copies/rd-x-%p/staged-wal');
    expect(command).toBe("echo %f > '/copies/rd-x-%%p/staged-wal/asked'; test ! -e '/copies/rd-x-%%p/staged-wal/%f' && { cp '/a/%f' '%p'; }");
  });
});

describe('startWalStaging on its own', () => {
  const segment = (name: string, dir: string) => ({ name, path: join(dir, name), gzip: false }) as unknown as WalFile;
  /** An archive folder and a data folder with its pg_wal, removed after the test. */
  const stagingFolders = async () => {
    const dir = await mkdtemp(join(scratchFolders.sources(), 'staging-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    await mkdir(join(dir, 'archive'));
    await mkdir(join(dir, 'data', 'pg_wal'), { recursive: true });
    // A copy in recovery, as the engine starts it: the server removes this when recovery ends.
    await writeFile(join(dir, 'data', 'recovery.signal'), '');
    return dir;
  };

  test('stages in replay order, each segment whole in pg_wal before its marker, and leaves no partial file', async () => {
    const dir = await stagingFolders();
    const names = ['000000010000000000000003', '000000010000000000000004', '000000010000000000000005'];
    for (const [i, name] of names.entries()) await writeFile(join(dir, 'archive', name), Buffer.alloc(64 * 1024, i + 1));

    const staging = await startWalStaging(names.map((name) => segment(name, join(dir, 'archive'))), join(dir, 'archive'), join(dir, 'data'), join(dir, 'staged'));
    const result = await staging.done;

    expect(result).toEqual({ staged: 3 });
    expect(staging.segments).toBe(3);
    expect((await readdir(join(dir, 'staged'))).sort()).toEqual([...names, 'asked']);
    for (const [i, name] of names.entries()) expect((await readFile(join(dir, 'data', 'pg_wal', name))).equals(Buffer.alloc(64 * 1024, i + 1))).toBe(true);
  });

  test('a segment that cannot be staged stops the staging: no marker, no file in pg_wal and no partial file for it, and restore_command is left to fetch the rest', async () => {
    const dir = await stagingFolders();
    const names = ['000000010000000000000003', '000000010000000000000004', '000000010000000000000005', '000000010000000000000006'];
    // The second is listed but gone from the archive (a cleanup run, a disk error).
    for (const name of [names[0]!, names[2]!, names[3]!]) await writeFile(join(dir, 'archive', name), Buffer.alloc(1024, 7));
    let calls = 0;

    const staging = await startWalStaging(names.map((name) => segment(name, join(dir, 'archive'))), join(dir, 'archive'), join(dir, 'data'), join(dir, 'staged'), {
      beforeEach: () => void calls++,
    });
    const result = await staging.done;

    expect(result.stoppedBy).toMatch(/^000000010000000000000004: .*ENOENT/);
    const markers = await readdir(join(dir, 'staged'));
    expect(markers).not.toContain(names[1]);
    expect(markers.filter((name) => name.endsWith('.partial'))).toEqual([]);
    expect(await readdir(join(dir, 'data', 'pg_wal'))).not.toContain(names[1]);
    // Both workers stop at their next segment: only the one already under way beside the failed one may still be staged.
    expect(result.staged).toBeLessThanOrEqual(2);
    expect(calls).toBeLessThanOrEqual(3);
  });

  test('with a lead, staging stays that many segments ahead of the one the server last asked for, and skips what replay already asked for', async () => {
    const dir = await stagingFolders();
    const names = Array.from({ length: 6 }, (_, i) => `00000001000000000000001${i}`);
    for (const name of names) await writeFile(join(dir, 'archive', name), Buffer.alloc(1024, 3));
    const staging = await startWalStaging(names.map((name) => segment(name, join(dir, 'archive'))), join(dir, 'archive'), join(dir, 'data'), join(dir, 'staged'), { lead: 1 });
    const markers = async () => (await readdir(join(dir, 'staged'))).filter((name) => /^[0-9A-F]{24}$/.test(name)).sort();
    const until = async (wanted: string[]) => {
      while ((await markers()).join() !== wanted.join()) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    const settled = () => new Promise((resolve) => setTimeout(resolve, 150));

    // Nothing asked yet: the first segment only.
    await until(names.slice(0, 1));
    await settled();
    expect(await markers()).toEqual(names.slice(0, 1));
    // The server asks for the first (through the restore_command's echo): one more.
    await writeFile(join(dir, 'staged', 'asked'), `${names[0]}\n`);
    await until(names.slice(0, 2));
    // A history file asked for says nothing about replay.
    await writeFile(join(dir, 'staged', 'asked'), '00000002.history\n');
    await settled();
    expect(await markers()).toEqual(names.slice(0, 2));
    // The server asked for the third before it was staged (restore_command fetched it itself): skipped, the fourth staged.
    await writeFile(join(dir, 'staged', 'asked'), `${names[2]}\n`);
    await until([names[0]!, names[1]!, names[3]!]);
    // Replay overtook staging again: the fifth is skipped, the sixth staged.
    await writeFile(join(dir, 'staged', 'asked'), `${names[4]}\n`);
    const result = await staging.done;

    expect(result).toEqual({ staged: 4 });
    expect((await readdir(join(dir, 'data', 'pg_wal'))).sort()).toEqual([names[0], names[1], names[3], names[5]]);
  });

  test('staging that waits for replay stops when the copy is removed', async () => {
    const dir = await stagingFolders();
    const name = '000000010000000000000020';
    await writeFile(join(dir, 'archive', name), Buffer.alloc(1024, 3));
    let removed = false;
    let waits = 0;
    // A lead of 0 with nothing asked: it waits for the server, which never asks.
    const staging = await startWalStaging([segment(name, join(dir, 'archive'))], join(dir, 'archive'), join(dir, 'data'), join(dir, 'staged'), {
      lead: 0,
      beforeEach: () => {
        waits++;
        if (removed) throw new Error('the copy is being removed');
      },
    });
    while (waits < 2) await new Promise((resolve) => setTimeout(resolve, 10));
    removed = true;
    const result = await staging.done;

    expect(result).toEqual({ staged: 0, stoppedBy: `${name}: the copy is being removed` });
    expect(await readdir(join(dir, 'data', 'pg_wal'))).toEqual([]);
  });

  test('staging that waits for replay ends once recovery has (the server removed its recovery.signal): nothing more will be read', async () => {
    const dir = await stagingFolders();
    const names = Array.from({ length: 4 }, (_, i) => `00000001000000000000003${i}`);
    for (const name of names) await writeFile(join(dir, 'archive', name), Buffer.alloc(1024, 3));
    const staging = await startWalStaging(names.map((name) => segment(name, join(dir, 'archive'))), join(dir, 'archive'), join(dir, 'data'), join(dir, 'staged'), { lead: 1 });
    const inPgWal = async (name: string) => {
      while (!(await readdir(join(dir, 'data', 'pg_wal'))).includes(name)) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    // Before the server asks for anything a missing signal says nothing (it may not be written yet); once it has asked, it does.
    await inPgWal(names[0]!);
    await writeFile(join(dir, 'staged', 'asked'), `${names[0]}\n`);
    await inPgWal(names[1]!);
    // A time target reached at the second segment: the server promotes and removes the signal.
    await rm(join(dir, 'data', 'recovery.signal'));
    const result = await staging.done;

    expect(result).toEqual({ staged: 2 });
    expect((await readdir(join(dir, 'data', 'pg_wal'))).sort()).toEqual(names.slice(0, 2));
  }, 10_000);

  test('the server may start before staging ends only on the throwaway path', () => {
    expect(stagingMayOverlapReplay({ durable: false, throwaway: true })).toBe(true);
    expect(stagingMayOverlapReplay({ durable: false, throwaway: undefined })).toBe(true);
    expect(stagingMayOverlapReplay({ durable: true, throwaway: undefined })).toBe(false);
  });
});
