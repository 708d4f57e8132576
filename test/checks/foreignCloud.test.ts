import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { IsolationDetails } from '../../lib/checks/foreign.ts';
import type { RowCountsDetails } from '../../lib/checks/rowCounts.ts';
import { validateConfig } from '../../lib/config/load.ts';
import { runDrill } from '../../lib/drill/drill.ts';
import { providerFor } from '../../lib/providers/index.ts';
import { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import type { DrillReport } from '../../lib/report/types.ts';
import { withClient } from '../../lib/util/pgClient.ts';
import { NEON_API_KEY, neonDatabaseConfig, neonWorld, ROLE, type NeonWorld } from '../emulators/neon/world.ts';
import { removeWorldCheckingSource } from '../emulators/rds/teardown.ts';
import { databaseConfig, rdsWorld, useFakeAwsCredentials, useOwnScratch, type RdsWorld } from '../emulators/rds/world.ts';
import { machineBinaries } from '../support/source.ts';

// The emulators' copies (real local restores) live in a scratch root of this file's own.
useOwnScratch('foreign-cloud-test');
useFakeAwsCredentials();
process.env.NEON_API_KEY = NEON_API_KEY;

/**
 * The same isolation through the cloud providers' drills (the emulators' copies are real restores of a
 * real source): RDS, Aurora and Neon copies inherit a foreign table that reads "production", a second
 * real cluster logging every connection; the drill counts it, and production sees nobody.
 */
let production: SourceCluster;
let rds: RdsWorld;
let neon: NeonWorld;

const connectionsSince = async (offset: number) =>
  (await readFile(production.server.logFile, 'utf8')).slice(offset).split('\n').filter((line) => line.includes('connection received'));
const logSize = async () => (await readFile(production.server.logFile, 'utf8')).length;

function foreignServerSql(owner: string, password?: string): string {
  return `
    create server prod_srv foreign data wrapper postgres_fdw options (host '${production.server.socketDir}', port '${production.server.port}', dbname 'postgres');
    create user mapping for ${owner} server prod_srv options (user 'postgres'${password ? `, password '${password}'` : ''});
    create foreign table remote_orders (id int) server prod_srv options (table_name 'orders');`;
}

beforeAll(async () => {
  production = await SourceCluster.create({ binaries: await machineBinaries(), walSegmentSizeMb: 1, settings: { log_connections: 'on' } });
  await production.query('create table orders (id int primary key)');
  await production.query('insert into orders select generate_series(1, 500)');
  [rds, neon] = await Promise.all([rdsWorld(), neonWorld()]);
  // After the worlds' base backups: the objects reach the copies through WAL replay.
  await rds.source.query(`create extension postgres_fdw; ${foreignServerSql('postgres')}`);
  await rds.source.switchWal();
  // Neon's checks role owns its database and made the server, as an application's role does.
  await neon.source.query('create extension postgres_fdw', [], 'neondb');
  await neon.source.query(`grant usage on foreign data wrapper postgres_fdw to ${ROLE}`, [], 'neondb');
  await withClient(neon.sourceClient(), (c) => c.query(foreignServerSql(ROLE, 'not-a-real-password')));
  await neon.source.switchWal();
}, 180_000);

afterAll(async () => {
  // Neon's emulator first: its local restores share this file's scratch root, which the RDS teardown holds empty.
  await neon?.remove();
  await removeWorldCheckingSource(rds);
  await production?.remove();
});

function expectIsolated(report: DrillReport): void {
  const isolation = report.checks.find((check) => check.check === 'isolation');
  expect(isolation?.status, JSON.stringify(report.checks.map((c) => [c.check, c.summary]))).toBe('pass');
  const details = isolation!.details as IsolationDetails;
  expect(details.servers.map((server) => [server.name, server.disabled])).toEqual([['prod_srv', true]]);
  expect(details.foreignTables.map((table) => table.table)).toEqual(['public.remote_orders']);
  const rowCounts = report.checks.find((check) => check.check === 'rowCounts')!.details as RowCountsDetails;
  expect(rowCounts.skippedForeignTables).toEqual(['public.remote_orders']);
  expect(rowCounts.counts.remote_orders).toBeUndefined();
}

describe('a cloud copy never reaches production through a foreign table (issue 14 item 4: RDS, Aurora, Neon)', () => {
  for (const kind of ['rds', 'aurora'] as const) {
    test(`${kind}: the drill disables the copy's foreign server before counting, skips the foreign table, and production sees no connection`, async () => {
      const config = await validateConfig(
        { rpoTargetSeconds: 3600, databases: [databaseConfig(rds, kind, { checks: { rowCounts: [{ table: 'users', min: 3 }, { table: 'remote_orders', min: 500 }] } })] },
        rds.project,
      );
      const database = config.databases[0]!;
      const before = await logSize();

      const { report } = await runDrill(config, database, providerFor(database, { aws: { removalRetryMs: 20, removalWaitMs: 5_000 } }), { trigger: 'cli', pollIntervalMs: 20 });

      expect(await connectionsSince(before), 'the copy connected to production').toEqual([]);
      expectIsolated(report);
      expect(report.status, JSON.stringify(report.error)).toBe('passed');
    });
  }

  test('neon: the same, with the checks role owning the server (not a superuser)', async () => {
    const config = await validateConfig(
      { rpoTargetSeconds: 3600, databases: [neonDatabaseConfig(neon, 'app', { checks: { rowCounts: [{ table: 'users', min: 3 }, { table: 'remote_orders', min: 500 }] } })] },
      neon.project,
    );
    const database = config.databases[0]!;
    const before = await logSize();

    const { report } = await runDrill(config, database, providerFor(database, { neon: { retry: { baseDelayMs: 5, maxDelayMs: 200, attempts: 150 } } }), { trigger: 'cli', pollIntervalMs: 20 });

    expect(await connectionsSince(before), 'the copy connected to production').toEqual([]);
    expectIsolated(report);
    expect(report.status, JSON.stringify(report.error)).toBe('passed');
  });
});
