import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { copyName, destroyCopy, restoreCopy } from '../../lib/providers/local/engine.ts';
import type { LocalSource, RestoreTarget } from '../../lib/providers/local/plan.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { skipStaged } from '../../lib/providers/local/stageWal.ts';
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

async function restore(from: LocalSource, target: RestoreTarget): Promise<{ ids: number[]; log: string; staged: number | undefined }> {
  const { handle, connection } = await restoreCopy({
    source: from,
    target,
    name: copyName('stage', new Date()),
    expiresAt: new Date(Date.now() + 3_600_000),
    connection: { database: 'postgres', user: 'postgres' },
    timeoutMs: 60_000,
    throwaway: true,
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
  test('a plain archive: every planned segment is read from pg_wal, none through restore_command, and the copy is complete; the archive is untouched', async () => {
    const before = await folderFingerprint(source.archiveDir);

    const { ids, log, staged } = await restore(local, { kind: 'latest' });

    expect(ids).toEqual([0, 1, 2, 3]);
    expect(staged).toBeGreaterThan(0);
    expect(restoredSegments(log)).toEqual([]);
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

  test('the restore_command fails at once for a staged segment and runs the command for any other file, % in the folder written as %%', () => {
    const command = skipStaged("cp '/a/%f' '%p'", '/copies/rd-x-%p/staged-wal');
    expect(command).toBe("test ! -e '/copies/rd-x-%%p/staged-wal/%f' && { cp '/a/%f' '%p'; }");
  });
});
