import { cp, mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { RestoreFailedError } from '../../lib/errors.ts';
import { tool } from '../../lib/providers/local/binaries.ts';
import { copyName, destroyCopy, restoreCopy, type RestoreCopyOptions } from '../../lib/providers/local/engine.ts';
import { WalCorruptError } from '../../lib/providers/local/errors.ts';
import { readWindow, type LocalSource, type RestoreTarget } from '../../lib/providers/local/plan.ts';
import { scratchFolders } from '../../lib/providers/local/scratch.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { CRC32C_INIT, crc32cFinish, crc32cUpdate } from '../../lib/providers/local/wal/crc32c.ts';
import { formatLsn, microsToDate, parseLsn, segmentName, segnoOf } from '../../lib/providers/local/wal/lsn.ts';
import { execOk } from '../../lib/util/exec.ts';
import { newClient } from '../../lib/util/pgClient.ts';
import { copyFolders, copyServers } from '../support/leftovers.ts';
import { insertRow, localSourceOf, machineBinaries, testSource } from '../support/source.ts';

/**
 * A copy must hold everything the WAL archive holds up to where replay had to end. A base backup,
 * then 60 rows, one commit each; damaged copies of the archive as a bad day brings them.
 */
let source: SourceCluster;
let local: LocalSource;
let damaged: string;
/** Commit time (µs) of row i at index i - 1. */
const commits: bigint[] = [];
interface WalRecord {
  lsn: number;
  length: number;
  rmgr: string;
  desc: string;
}
let records: WalRecord[];

/** A Date at or just after a commit (ceil to the ms): recovery_target_inclusive takes that commit in. */
const atCommit = (micros: bigint) => new Date(Number((micros + 999n) / 1000n));

/** The restore's error; a restore that succeeded when it should not have is removed first. */
async function failedRestore(restore: RestoreCopyOptions): Promise<unknown> {
  const result = await restoreCopy(restore).catch((e: unknown) => e);
  if (!(result instanceof Error)) await destroyCopy((result as { handle: { name: string } }).handle.name);
  return result;
}

function options(target: RestoreTarget, from: LocalSource): RestoreCopyOptions {
  return {
    source: from,
    target,
    name: copyName('complete', new Date()),
    expiresAt: new Date(Date.now() + 3_600_000),
    connection: { database: 'postgres', user: 'postgres' },
    timeoutMs: 60_000,
    durable: false,
  };
}

async function rowsIn(target: RestoreTarget, from: LocalSource): Promise<number> {
  const { handle, connection } = await restoreCopy(options(target, from));
  try {
    const client = newClient({ host: connection.host, port: connection.port, user: connection.user, database: connection.database });
    await client.connect();
    const { rows } = await client.query<{ n: number }>('select count(*)::int as n from events');
    await client.end();
    return rows[0]!.n;
  } finally {
    await destroyCopy(handle.name);
  }
}

/** The archive's records, as pg_waldump reads them. */
async function waldump(): Promise<WalRecord[]> {
  const segments = (await readdir(source.archiveDir)).filter((name) => /^[0-9A-F]{24}$/.test(name)).sort();
  const { stdout } = await execOk(tool(await machineBinaries(), 'pg_waldump'), ['-p', source.archiveDir, segments[0]!, segments.at(-1)!]);
  return stdout
    .split('\n')
    .map((line) => /^rmgr: (\S+)\s+len \(rec\/tot\):\s+\d+\/\s*(\d+), tx:\s+\d+, lsn: (\S+), prev \S+, desc: (.*)$/.exec(line))
    .filter((match) => match !== null)
    .map((match) => ({ rmgr: match[1]!, length: Number(match[2]), lsn: parseLsn(match[3]!), desc: match[4]! }));
}

/** The n-th (0-based) record of our 60 commits' kind that lies within one WAL page, so that its bytes are contiguous in the file. */
function recordOnOnePage(kind: (record: WalRecord) => boolean, from: number): { record: WalRecord; index: number } {
  const ours = records.filter(kind).slice(-60);
  for (let index = from; index < ours.length; index++) {
    const record = ours[index]!;
    if ((record.lsn % 8192) + record.length <= 8192) return { record, index };
  }
  throw new Error('no record on one page');
}

/** A copy of the archive with `patch` applied to the bytes of one record; returns where that record is. */
async function patchedArchive(name: string, record: WalRecord, patch: (bytes: Buffer) => void): Promise<{ source: LocalSource; segment: string; offset: number }> {
  const archive = join(damaged, name);
  await cp(source.archiveDir, archive, { recursive: true });
  const segment = segmentName({ timeline: 1, segno: segnoOf(record.lsn, source.walSegmentSize) }, source.walSegmentSize);
  const offset = record.lsn % source.walSegmentSize;
  const file = await open(join(archive, segment), 'r+');
  const bytes = Buffer.alloc(record.length);
  await file.read(bytes, 0, record.length, offset);
  patch(bytes);
  await file.write(bytes, 0, record.length, offset);
  await file.close();
  return { source: { ...local, walArchive: archive }, segment, offset };
}

const isCommit = (record: WalRecord) => record.rmgr === 'Transaction' && record.desc.startsWith('COMMIT');
const isInsert = (record: WalRecord) => record.rmgr === 'Heap' && record.desc.startsWith('INSERT');

beforeAll(async () => {
  source = await testSource();
  local = localSourceOf(source);
  damaged = await mkdtemp(join(scratchFolders.sources(), 'complete-'));
  await source.query('create table events (id int primary key)');
  await source.takeBaseBackup('base-1');
  for (let id = 1; id <= 60; id++) commits.push(await insertRow(source, 'events', id));
  await source.switchWal();
  records = await waldump();
  expect(records.filter(isCommit).length).toBeGreaterThanOrEqual(60);
});

afterAll(async () => {
  await source?.remove();
  if (damaged) await rm(damaged, { recursive: true, force: true });
});

afterEach(async () => {
  expect(await copyFolders('complete')).toEqual([]);
  expect(await copyServers('complete')).toEqual([]);
});

describe('a corrupt WAL record (8 bytes inverted in a commit record)', () => {
  let corrupt: { source: LocalSource; segment: string; offset: number };
  /** Rows committed before the bad record. */
  let reached: number;

  beforeAll(async () => {
    const { record, index } = recordOnOnePage(isCommit, 30);
    reached = index;
    corrupt = await patchedArchive('corrupt-commit', record, (bytes) => {
      for (let i = 24; i < 32; i++) bytes[i] = bytes[i]! ^ 0xff;
    });
  });

  const named = (message: string) => {
    expect(message).toContain(`segment ${corrupt.segment}`);
    expect(message).toContain(`offset 0x${corrupt.offset.toString(16).toUpperCase()}`);
  };

  test('ends the window at the last commit before it, and the window names segment and offset', async () => {
    const { window } = await readWindow(corrupt.source);

    expect(window.latest.toISOString()).toBe(microsToDate(commits[reached - 1]!).toISOString());
    expect(window.corrupt).toMatchObject({ segment: corrupt.segment, offset: corrupt.offset });
  });

  test('with target latest: the restore fails, naming segment, offset and the last commit it would reach', async () => {
    const error = await failedRestore(options({ kind: 'latest' }, corrupt.source));

    expect(error).toBeInstanceOf(WalCorruptError);
    expect((error as WalCorruptError).kind).toBe('backup');
    named((error as Error).message);
    expect((error as Error).message).toContain(microsToDate(commits[reached - 1]!).toISOString());
  });

  test('with a time target after it: fails, naming segment and offset (a WAL failure, not bad input)', async () => {
    const error = await failedRestore(options({ kind: 'time', time: atCommit(commits[55]!) }, corrupt.source));

    expect(error).toBeInstanceOf(WalCorruptError);
    named((error as Error).message);
  });

  test('a target before it still restores, to the target', async () => {
    expect(await rowsIn({ kind: 'time', time: atCommit(commits[9]!) }, corrupt.source)).toBe(10);
  });
});

describe('a record whose length is damaged (a plausible 5 MB instead of its own)', () => {
  test('ends the window there and fails a restore to latest, naming segment and offset', async () => {
    const { record, index } = recordOnOnePage(isInsert, 20);
    const { source: damagedLength, segment, offset } = await patchedArchive('bad-length', record, (bytes) => bytes.writeUInt32LE(5_000_000, 0));

    const { window } = await readWindow(damagedLength);
    const error = await failedRestore(options({ kind: 'latest' }, damagedLength));

    expect(window.corrupt).toMatchObject({ segment, offset });
    expect(window.latest.toISOString()).toBe(microsToDate(commits[index - 1]!).toISOString());
    expect(error).toBeInstanceOf(WalCorruptError);
    expect((error as Error).message).toContain(`segment ${segment}, offset 0x${offset.toString(16).toUpperCase()}`);
  });
});

describe('where replay really ended, against where it had to end', () => {
  test('the whole archive: replay reaches its end and the copy holds every row', async () => {
    expect(await rowsIn({ kind: 'latest' }, local)).toBe(60);
    expect(await rowsIn({ kind: 'time', time: atCommit(commits[40]!) }, local)).toBe(41);
  });

  test('a record Postgres refuses that our reader cannot see (a valid CRC around an invalid block id): the copy is ready but short, and the drill fails naming where replay stopped and the last commit reached', async () => {
    const { record, index } = recordOnOnePage(isInsert, 45);
    const { source: refused, segment, offset } = await patchedArchive('bad-block-id', record, (bytes) => {
      // The first block reference's id: 0 for an insert; 80 is beyond XLR_MAX_BLOCK_ID.
      bytes[24] = 80;
      const crc = crc32cFinish(crc32cUpdate(crc32cUpdate(CRC32C_INIT, bytes, 24, bytes.length), bytes, 0, 20));
      bytes.writeUInt32LE(crc, 20);
    });
    const { window } = await readWindow(refused);
    expect(window.corrupt).toBeUndefined();

    const error = await failedRestore(options({ kind: 'latest' }, refused));

    expect(error).toBeInstanceOf(RestoreFailedError);
    const message = (error as Error).message;
    expect(message).toContain(`replay ended at ${formatLsn(record.lsn)} (segment ${segment}, offset 0x${offset.toString(16).toUpperCase()})`);
    expect(message).toContain(`last commit reached: ${microsToDate(commits[index - 1]!).toISOString()}`);
    expect(message).toContain('invalid block_id 80');
  });
});
