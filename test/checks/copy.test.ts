import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checksConfigSchema } from '../../lib/checks/config.ts';
import type { ConnectionDetails } from '../../lib/checks/connection.ts';
import type { FreshnessDetails } from '../../lib/checks/freshness.ts';
import type { LedgerDetails } from '../../lib/checks/ledger.ts';
import { checkRowCounts, type RowCountsDetails } from '../../lib/checks/rowCounts.ts';
import { runChecks } from '../../lib/checks/runChecks.ts';
import { copyName, destroyCopy, restoreCopy } from '../../lib/providers/local/engine.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { localSourceOf, testSource } from '../support/source.ts';
import { newClient } from '../../lib/util/pgClient.ts';
import { createDatabase, fixtureCopy, migrateWithV0, scratchDir, withClient } from './helpers.ts';

/**
 * The checks against a real point-in-time copy: two migrations and 80 orders before the target,
 * then a deploy (the third migration) and 20 more orders after it, on the source.
 */
let source: SourceCluster;
let scratch: { dir: string; remove: () => Promise<void> };
let app: pg.ClientConfig;
let copy: pg.ClientConfig;
let copyHandle: string | undefined;
let lastReplayedAt: string | null;
let target: Date;
let migrationsFolder: string;

async function insertOrders(count: number): Promise<void> {
  await withClient(app, async (c) => {
    for (let i = 0; i < count; i++) {
      await c.query(`insert into orders (user_id, total_cents, placed_at) values (1, $1, clock_timestamp())`, [100 + i]);
    }
  });
}

beforeAll(async () => {
  scratch = await scratchDir();
  source = await testSource();
  app = await createDatabase(source, 'app');
  migrationsFolder = await fixtureCopy('v0', scratch.dir, 'app');
  const journalPath = join(migrationsFolder, 'meta', '_journal.json');
  const journal = await readFile(journalPath, 'utf8');
  const parsed = JSON.parse(journal) as { entries: unknown[] };
  await writeFile(journalPath, JSON.stringify({ ...parsed, entries: parsed.entries.slice(0, 2) }));
  await migrateWithV0(app, migrationsFolder);
  await writeFile(journalPath, journal);
  await withClient(app, (c) => c.query(`insert into users (email) values ('someone@example.com')`));
  await insertOrders(50);
  await source.takeBaseBackup('b1');
  await insertOrders(30);
  const [now] = await source.query<{ now: Date }>('select clock_timestamp() as now');
  // A Date drops the microseconds: round up so that the last commit before it stays before it.
  target = new Date(now!.now.getTime() + 1);
  // Everything below commits after the target (one clock, one machine).
  await migrateWithV0(app, migrationsFolder);
  await insertOrders(20);
  await source.switchWal();

  const restored = await restoreCopy({
    source: localSourceOf(source),
    target: { kind: 'time', time: target },
    name: copyName('checks', new Date()),
    expiresAt: new Date(Date.now() + 3_600_000),
    connection: { database: 'app', user: 'postgres' },
    timeoutMs: 60_000,
    durable: false,
  });
  copyHandle = restored.handle.name;
  lastReplayedAt = restored.lastReplayedAt;
  const { host, port, database, user } = restored.connection;
  copy = { host, port, database, user };
});

afterAll(async () => {
  if (copyHandle) await destroyCopy(copyHandle);
  await source?.remove();
  await scratch?.remove();
});

describe('checks on a restored copy', () => {
  it('the connection check runs first, even with no other check: version, promoted, timeline, replay position', async () => {
    const results = await runChecks({ copy, target, rpoTargetSeconds: 60 }, checksConfigSchema.parse({}));

    expect(results.map((r) => [r.check, r.status])).toEqual([['connection', 'pass']]);
    const details = results[0]!.details as ConnectionDetails;
    expect(details).toMatchObject({ inRecovery: false, timeline: 2 });
    expect(details.serverVersionNum).toBeGreaterThanOrEqual(150000);
    // Promotion leaves the replay position where recovery stopped; the copy writes on past it.
    expect(details.replayLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(results[0]!.summary).toBe(`${/^PostgreSQL \S+/.exec(details.version)![0]}, promoted on timeline 2, replayed to ${details.replayLsn}`);
  });


  it('the connection check says which evidence dates the copy\'s newest commit, and fails a copy holding commits after its target', async () => {
    const [ok] = await runChecks({ copy, target, rpoTargetSeconds: 60 }, checksConfigSchema.parse({}));
    const details = ok!.details as ConnectionDetails;
    expect(details.newestCommit).toEqual({
      at: lastReplayedAt,
      evidence: 'pg_last_xact_replay_timestamp(): the last commit replayed in recovery',
      secondsBeforeTarget: expect.any(Number),
    });
    expect((details.newestCommit as { secondsBeforeTarget: number }).secondsBeforeTarget).toBeGreaterThanOrEqual(0);
    expect(ok!.status).toBe('pass');

    // The same copy judged against a target before its last commit: it was restored past the point asked for.
    const earlier = new Date(Date.parse(lastReplayedAt!) - 1000);
    const [late] = await runChecks({ copy, target: earlier, rpoTargetSeconds: 60 }, checksConfigSchema.parse({}));
    expect(late!.status).toBe('fail');
    expect(late!.summary).toContain(`its newest commit (${lastReplayedAt}) is after the target ${earlier.toISOString()}`);
    // To latest, the archive may have grown since the plan read the window: newer commits are no fault then.
    const [latest] = await runChecks({ copy, target: earlier, targetIsLatest: true, rpoTargetSeconds: 60 }, checksConfigSchema.parse({}));
    expect(latest!.status).toBe('pass');
  });

  it('asOf: the copy holds exactly the source rows up to the target, not the source as it is now', async () => {
    // Prepare
    const config = checksConfigSchema.parse({
      rowCounts: [{ table: 'public.orders', min: 1, asOf: { column: 'placed_at', marginSeconds: 0 } }],
    });
    const [sourceNow] = await source.query<{ count: string }>('select count(*) from orders', [], 'app');

    // Act
    const [connection, result] = await runChecks({ copy, source: app, target, rpoTargetSeconds: 60 }, config);

    // Assess
    const details = result!.details as RowCountsDetails;
    expect(Number(sourceNow!.count)).toBe(100);
    expect(connection!.check).toBe('connection');
    expect(result!.status).toBe('pass');
    expect(details.rules[0]).toMatchObject({ count: 80, asOf: { sourceCount: 80, copyCount: 80 } });
  });

  it('asOf catches a copy that lacks rows the source had by the time checked', async () => {
    // The same copy checked as if it had been restored to now: the 20 later orders are missing.
    const rules = checksConfigSchema.parse({ rowCounts: [{ table: 'orders', asOf: { column: 'placed_at', marginSeconds: 0 } }] }).rowCounts!;

    const result = await checkRowCounts({ copy, source: app, target: new Date(), rpoTargetSeconds: 60, statementTimeoutMs: 30_000 }, rules);

    expect(result.status).toBe('fail');
    expect((result.details as RowCountsDetails).rules[0]!.summary).toMatch(/rows with placed_at <= .*: 100 in the source, 80 in the copy/);
  });

  it('runs ledger, row counts and freshness together on the copy', async () => {
    const config = checksConfigSchema.parse({
      ledger: { migrationsFolder, expect: 'prefix' },
      rowCounts: [{ table: 'orders', min: 80 }, { table: 'users', min: 1 }],
      freshness: { table: 'orders', column: 'placed_at' },
    });

    const results = await runChecks({ copy, target, rpoTargetSeconds: 60, lastReplayedAt: lastReplayedAt ? new Date(lastReplayedAt) : null }, config);

    expect(results.map((r) => [r.check, r.status])).toEqual([
      ['connection', 'pass'],
      ['ledger', 'pass'],
      ['rowCounts', 'pass'],
      ['freshness', 'pass'],
    ]);
    const ledger = results[1]!.details as LedgerDetails;
    expect(ledger.applied).toHaveLength(2);
    expect(ledger.pending).toEqual([{ tag: '0002_step3', olderThanNewestApplied: false }]);
    const freshness = results[3]!.details as FreshnessDetails;
    expect(freshness.dataLagSeconds).toBeGreaterThanOrEqual(0);
    expect(freshness.dataLagSeconds).toBeLessThan(60);
    expect(freshness.lastReplayedAt).not.toBeNull();
    expect(freshness.replayLagSeconds).toBeGreaterThanOrEqual(0);
  });

  it('keeps going when one check errors and another fails', async () => {
    const config = checksConfigSchema.parse({
      ledger: { migrationsFolder: join(scratch.dir, 'no-such-folder') },
      rowCounts: [{ table: 'orders', min: 1 }],
      freshness: { table: 'audit_log', column: 'at' },
    });

    const results = await runChecks({ copy, target, rpoTargetSeconds: 60 }, config);

    expect(results.map((r) => [r.check, r.status])).toEqual([
      ['connection', 'pass'],
      ['ledger', 'error'],
      ['rowCounts', 'pass'],
      ['freshness', 'fail'],
    ]);
    expect(results[1]!.summary).toContain('cannot read the migrations folder');
    // audit_log came with the third migration, after the target.
    expect(results[3]!.summary).toContain('relation "audit_log" does not exist');
  });

  it('a check still waiting at the deadline (Lambda\'s time limit) is reported as an error; the others report what they found', async () => {
    const config = checksConfigSchema.parse({
      statementTimeoutMs: 60_000,
      ledger: { migrationsFolder, expect: 'prefix' },
      rowCounts: [{ table: 'orders', min: 80 }],
    });
    const locker = newClient(copy);
    await locker.connect();
    await locker.query('begin; lock table orders in access exclusive mode');
    try {
      const started = Date.now();
      const results = await runChecks({ copy, target, rpoTargetSeconds: 60 }, config, { deadline: new Date(started + 1_000) });

      expect(Date.now() - started).toBeLessThan(10_000);
      expect(results.map((r) => [r.check, r.status])).toEqual([
        ['connection', 'pass'],
        ['ledger', 'pass'],
        ['rowCounts', 'error'],
      ]);
      expect(results[2]!.summary).toMatch(/^the rowCounts check had not finished when the time left \(1 s\) ran out: lower checks.statementTimeoutMs/);
    } finally {
      await locker.query('rollback');
      await locker.end();
    }
  });

  it('turns a check that throws into an error result, for every check, when the copy is unreachable', async () => {
    const config = checksConfigSchema.parse({
      ledger: { migrationsFolder },
      rowCounts: [{ table: 'orders' }],
      freshness: { table: 'orders', column: 'placed_at' },
    });
    const unreachable = { ...copy, host: join(scratch.dir, 'no-socket-here') };

    const results = await runChecks({ copy: unreachable, target, rpoTargetSeconds: 60 }, config);

    expect(results.map((r) => [r.check, r.status])).toEqual([
      ['connection', 'error'],
      ['ledger', 'error'],
      ['rowCounts', 'error'],
      ['freshness', 'error'],
    ]);
    for (const result of results) expect(result.summary).toMatch(/could not finish: .*ENOENT/);
  });
});
