import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checksConfigSchema } from '../../lib/checks/config.ts';
import type { ConnectionDetails } from '../../lib/checks/connection.ts';
import { runChecks, type RunChecksContext } from '../../lib/checks/runChecks.ts';
import { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { machineBinaries } from '../support/source.ts';

/**
 * A cloud copy as the checks meet it: promoted and restarted (RDS restarts a restored instance; a Neon
 * compute starts from storage), so pg_last_xact_replay_timestamp() knows nothing, and commits made
 * after promotion (the provider's own housekeeping, RDS's heartbeat, our CREATE EXTENSION) follow the
 * restored ones. A real cluster that never was in recovery plays it: its "restored" commits are made
 * before the moment the copy was asked for, its "own" commits after it.
 */
let copy: SourceCluster;
let lastRestoredCommit: Date;
let copyRequestedAt: Date;

async function commitAt(sql: string): Promise<Date> {
  await copy.query(sql);
  const [row] = await copy.query<{ at: Date }>('select timestamp as at from pg_last_committed_xact()');
  return row!.at;
}

beforeAll(async () => {
  copy = await SourceCluster.create({ binaries: await machineBinaries(), walSegmentSizeMb: 1 });
  await copy.query('create table events (id int primary key)');
  lastRestoredCommit = await commitAt('insert into events values (1)');
  copyRequestedAt = new Date(Date.now() + 50);
  while (Date.now() <= copyRequestedAt.getTime() + 5) await new Promise((resolve) => setImmediate(resolve));
  // After the copy was asked for: what the provider writes in its copy after promotion.
  for (let i = 0; i < 5; i++) await copy.query(`insert into events values (${i + 10})`);
});

afterAll(async () => {
  await copy?.remove();
});

async function connection(context: Partial<RunChecksContext> & { target: Date }) {
  const [result] = await runChecks({ copy: copy.clientConfig(), rpoTargetSeconds: 900, copyRequestedAt, ...context }, checksConfigSchema.parse({}));
  return { result: result!, details: result!.details as ConnectionDetails };
}

describe('completeness of a cloud copy, from its newest commit before the copy was asked for (issue 15 item 1, RDS, Aurora, Neon)', () => {
  test('the newest commit is the newest one from before the copy was asked for: commits the copy made after promotion are left out, and the report names the evidence', async () => {
    const { result, details } = await connection({ target: new Date(lastRestoredCommit.getTime() + 1000), provider: 'rds' });

    expect(result.status).toBe('pass');
    expect(details.newestCommit).toMatchObject({ at: lastRestoredCommit.toISOString(), secondsBeforeTarget: 1 });
    expect(details.newestCommit!.evidence).toMatch(/^commit timestamps \(track_commit_timestamp = on\): the newest commit before the copy was asked for/);
  });

  test('an RDS copy whose newest commit lies further before the target than the tolerance fails: it stops short of the point asked for', async () => {
    const target = new Date(lastRestoredCommit.getTime() + 2000 * 1000);

    const { result, details } = await connection({ target, provider: 'rds' });

    expect(result.status).toBe('fail');
    expect(result.summary).toMatch(/newest commit \(.*\) lies 2000 s before the target .*, more than the 900 s allowed: the copy stops short of the point asked for/);
    expect(details.completeness).toEqual({ judged: true, toleranceSeconds: 900, shortBySeconds: 2000 });
  });

  test('the tolerance is never below RDS\'s 5-minute heartbeat (plus a minute): an RPO target of 60 s does not fail a quiet RDS source', async () => {
    const { result, details } = await connection({ target: new Date(lastRestoredCommit.getTime() + 300 * 1000), provider: 'rds', rpoTargetSeconds: 60 });

    expect(result.status).toBe('pass');
    expect(details.completeness).toMatchObject({ judged: true, toleranceSeconds: 360 });
  });

  test('Aurora and Neon copies are not judged by it (no heartbeat: a quiet source looks the same), and the report says so', async () => {
    for (const provider of ['aurora', 'neon']) {
      const { result, details } = await connection({ target: new Date(lastRestoredCommit.getTime() + 2000 * 1000), provider });
      expect(result.status, provider).toBe('pass');
      expect(details.completeness).toMatchObject({ judged: false });
      expect(result.summary).toMatch(/newest commit 2000 s before the target \(commit timestamps\), not judged:/);
    }
  });

  test('a local copy is judged by the engine\'s exact replay position, not here', async () => {
    const { result, details } = await connection({ target: new Date(lastRestoredCommit.getTime() + 2000 * 1000), provider: 'local' });
    expect(result.status).toBe('pass');
    expect(details.completeness).toMatchObject({ judged: false });
  });

  test('a copy whose clock is more than 60 s from the drill\'s is not judged: commit times and the target are on different clocks, and the report says by how much', async () => {
    const drillClock = new Date(Date.now() + 2 * 3_600_000);
    const { result, details } = await connection({ target: new Date(lastRestoredCommit.getTime() + 2000 * 1000), provider: 'rds', checksStartedAt: drillClock });

    expect(result.status).toBe('pass');
    expect(details.clockSkewSeconds).toBeLessThan(-7000);
    expect(details.completeness).toMatchObject({ judged: false, why: expect.stringMatching(/^the copy's clock is -7\d{3}(\.\d+)? s from the drill's/) });
  });

  test('with track_commit_timestamp off there is no commit time: nothing is judged, and the report sends the reader to the freshness column', async () => {
    const quiet = await SourceCluster.create({ binaries: await machineBinaries(), walSegmentSizeMb: 1, settings: { track_commit_timestamp: 'off' } });
    try {
      await quiet.query('create table events (id int primary key); insert into events values (1)');
      const [result] = await runChecks(
        { copy: quiet.clientConfig(), rpoTargetSeconds: 900, copyRequestedAt: new Date(), target: new Date(Date.now() + 2000 * 1000), provider: 'rds' },
        checksConfigSchema.parse({}),
      );
      const details = result!.details as ConnectionDetails;
      expect(result!.status).toBe('pass');
      expect(details.newestCommit).toEqual({ at: null, evidence: expect.stringMatching(/^none on the copy .*track_commit_timestamp off.*freshness/) });
      expect(details.completeness).toMatchObject({ judged: false, why: expect.stringMatching(/freshness/) });
    } finally {
      await quiet.remove();
    }
  });
});
