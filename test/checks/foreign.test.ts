import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checksConfigSchema } from '../../lib/checks/config.ts';
import type { IsolationDetails } from '../../lib/checks/foreign.ts';
import type { RowCountsDetails } from '../../lib/checks/rowCounts.ts';
import { runChecks } from '../../lib/checks/runChecks.ts';
import { configSchema, type RestoreDrillConfig } from '../../lib/config/schema.ts';
import { runDrill } from '../../lib/drill/drill.ts';
import { dropCopy } from '../../lib/janitor.ts';
import { localProvider } from '../../lib/providers/local/index.ts';
import { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { machineBinaries } from '../support/source.ts';
import { withClient } from './helpers.ts';

/**
 * "Production" is a second real cluster that logs every connection; the source reaches it through
 * postgres_fdw (a foreign table) and dblink (a view), as a team's database might. A copy of the source
 * inherits both: nothing the drill does may make the copy connect to production.
 */
let production: SourceCluster;
let source: SourceCluster;

const PRODUCTION_ROWS = 500;

async function cluster(settings: Record<string, string> = {}): Promise<SourceCluster> {
  return SourceCluster.create({ binaries: await machineBinaries(), walSegmentSizeMb: 1, settings });
}

/** What production's log says about connections after `offset`: one "connection received" line per attempt. */
async function connectionsSince(offset: number): Promise<string[]> {
  const log = await readFile(production.server.logFile, 'utf8');
  return log.slice(offset).split('\n').filter((line) => line.includes('connection received'));
}

const logSize = async () => (await readFile(production.server.logFile, 'utf8')).length;

function productionConnstr(): string {
  return `host=${production.server.socketDir} port=${production.server.port} dbname=postgres user=postgres`;
}

/** The same objects on a database of either cluster: the foreign server, its table, a dblink view. */
async function reachOutToProduction(config: import('pg').ClientConfig): Promise<void> {
  await withClient(config, (c) =>
    c.query(`
      create extension postgres_fdw;
      create extension dblink;
      create server prod_srv foreign data wrapper postgres_fdw options (host '${production.server.socketDir}', port '${production.server.port}', dbname 'postgres');
      create user mapping for postgres server prod_srv options (user 'postgres');
      create foreign table remote_orders (id int, created_at timestamptz) server prod_srv options (table_name 'orders');
      create server prod_link foreign data wrapper dblink_fdw options (host '${production.server.socketDir}', port '${production.server.port}', dbname 'postgres');
      create user mapping for postgres server prod_link options (user 'postgres');
      create view remote_count as select n from dblink('${productionConnstr()}', 'select count(*) from orders') as t(n bigint);
      create table events (id int primary key, created_at timestamptz not null default now());
      insert into events (id) select generate_series(1, 100);
    `),
  );
}

beforeAll(async () => {
  production = await cluster({ log_connections: 'on' });
  await production.query(`create table orders (id int primary key, created_at timestamptz not null default now())`);
  await production.query(`insert into orders (id) select generate_series(1, ${PRODUCTION_ROWS})`);
  source = await cluster();
  await reachOutToProduction(source.clientConfig());
  // The source itself reaches production: the objects are real, not just declared.
  expect(await source.query<{ n: string }>('select count(*)::text as n from remote_orders')).toEqual([{ n: String(PRODUCTION_ROWS) }]);
  await source.takeBaseBackup('base-1');
  await source.switchWal();
});

afterAll(async () => {
  await source?.remove();
  await production?.remove();
});

function drillConfig(checks: Record<string, unknown>): RestoreDrillConfig {
  return configSchema.parse({
    restoreTimeoutSeconds: 120,
    databases: [{ name: 'fdw', provider: { kind: 'local', baseBackups: source.backupsDir, walArchive: source.archiveDir }, checks }],
  }) as RestoreDrillConfig;
}

function provider() {
  return localProvider({ kind: 'local', baseBackups: source.backupsDir, walArchive: source.archiveDir }, { connection: { database: 'postgres', user: 'postgres' }, durable: false });
}

describe('a copy never reaches production through a foreign table or dblink (issue 14 item 4)', () => {
  test('a drill counting a foreign table makes no connection to production: the table is skipped, the servers are disabled, and the report says both', async () => {
    const config = drillConfig({
      rowCounts: [
        { table: 'events', min: 100 },
        // Production holds exactly this many: a count through the foreign table would "pass" on production's numbers.
        { table: 'remote_orders', min: PRODUCTION_ROWS },
      ],
      freshness: { table: 'remote_orders', column: 'created_at', maxLagSeconds: 86_400 },
    });
    const before = await logSize();

    const { report } = await runDrill(config, config.databases[0]!, provider(), { trigger: 'manual' });

    expect(await connectionsSince(before), 'the copy connected to production').toEqual([]);
    const rowCounts = report.checks.find((check) => check.check === 'rowCounts')!;
    const details = rowCounts.details as RowCountsDetails;
    expect(details.counts).toEqual({ events: 100 });
    const remote = details.rules.find((rule) => rule.table === 'remote_orders')!;
    expect(remote.count).toBeNull();
    expect(remote.summary).toMatch(/remote_orders: skipped, a foreign table \(server prod_srv\)/);
    expect(details.skippedForeignTables).toEqual(['public.remote_orders']);
    const freshness = report.checks.find((check) => check.check === 'freshness')!;
    expect(freshness.summary).toMatch(/remote_orders: skipped, a foreign table/);
    expect(report.rpo.measuredLagSeconds).toBeNull();

    const isolation = report.checks.find((check) => check.check === 'isolation')!;
    expect(isolation.status).toBe('pass');
    const isolated = isolation.details as IsolationDetails;
    expect(isolated.servers.map((server) => [server.name, server.wrapper, server.disabled])).toEqual([
      ['prod_link', 'dblink_fdw', true],
      ['prod_srv', 'postgres_fdw', true],
    ]);
    expect(isolated.foreignTables.map(({ table, server }) => ({ table, server }))).toEqual([{ table: 'public.remote_orders', server: 'prod_srv' }]);
    expect(isolated.dblink).toMatchObject({ installed: true, disabled: true });
    expect(isolation.summary).toMatch(/2 foreign servers disabled \(prod_link, prod_srv\).*dblink/);
    expect(report.status).toBe('passed');
  });

  test('restore --keep: the kept copy keeps its foreign servers disabled, and the undo statements in the report give them back', async () => {
    const config = drillConfig({});
    const { report, connection } = await runDrill(config, config.databases[0]!, provider(), { trigger: 'manual', keepForSeconds: 600 });
    try {
      expect(report.copy.kept).toBe(true);
      const kept = { host: connection!.host, port: connection!.port, database: connection!.database, user: connection!.user };
      const before = await logSize();
      await expect(withClient(kept, (c) => c.query('select count(*) from remote_orders'))).rejects.toThrow(/could not connect to server/);
      expect(await connectionsSince(before)).toEqual([]);

      // What the README tells the user to run, as the report holds it.
      const details = report.checks.find((check) => check.check === 'isolation')!.details as IsolationDetails;
      await withClient(kept, async (c) => {
        for (const server of details.servers) await c.query(server.undo!);
        await c.query(details.dblink.undo!);
      });
      const [back] = await withClient(kept, async (c) => (await c.query<{ n: string; d: string }>(`select (select count(*) from remote_orders)::text as n, (select n from remote_count)::text as d`)).rows);
      expect(back).toEqual({ n: String(PRODUCTION_ROWS), d: String(PRODUCTION_ROWS) });
    } finally {
      await dropCopy(report.copy.name!);
    }
  });

  test('control: the source itself counts production\'s rows through the foreign table, which is what a copy that reaches out reported before the fix', async () => {
    expect(await source.query<{ n: string }>('select count(*)::text as n from remote_orders')).toEqual([{ n: String(PRODUCTION_ROWS) }]);
  });
});

describe('isolation on a database with foreign servers and dblink (the checks\' first step, every provider)', () => {
  let copy: SourceCluster;

  beforeAll(async () => {
    // The checks do not care whether a copy was restored: a cluster with the same objects stands for any provider's copy.
    copy = await cluster();
    await reachOutToProduction(copy.clientConfig());
  });

  afterAll(async () => {
    await copy?.remove();
  });

  test('after the checks, neither the foreign table, nor dblink by connection string, nor dblink by server, nor the dblink view reaches production; each says why', async () => {
    const results = await runChecks({ copy: copy.clientConfig(), target: new Date(), rpoTargetSeconds: 300 }, checksConfigSchema.parse({}));
    expect(results.map((result) => [result.check, result.status])).toEqual([
      ['connection', 'pass'],
      ['isolation', 'pass'],
    ]);
    const before = await logSize();

    const attempts = [
      'select count(*) from remote_orders',
      `select * from dblink('${productionConnstr()}', 'select 1') as t(x int)`,
      `select dblink_connect('${productionConnstr()}')`,
      `select dblink_connect_u('${productionConnstr()}')`,
      `select dblink_exec('${productionConnstr()}', 'select 1')`,
      `select * from dblink('prod_link', 'select 1') as t(x int)`,
      'select * from remote_count',
    ];
    for (const sql of attempts) {
      await expect(copy.query(sql), sql).rejects.toThrow(/restore-drill|could not connect to server/);
    }
    expect(await connectionsSince(before), 'the copy connected to production').toEqual([]);

    // What undoes each change, for a kept copy; never a password.
    const details = results.find((r) => r.check === 'isolation')!.details as IsolationDetails;
    const prodSrv = details.servers.find((server) => server.name === 'prod_srv')!;
    expect(prodSrv.undo).toBe(`ALTER SERVER prod_srv OPTIONS (SET host '${production.server.socketDir}')`);
    expect(details.dblink.undo).toMatch(/CREATE OR REPLACE FUNCTION public\.dblink_connect\(text\)/);
    expect(JSON.stringify(details)).not.toMatch(/password/i);

    // A second run finds everything already disabled and still passes.
    const again = await runChecks({ copy: copy.clientConfig(), target: new Date(), rpoTargetSeconds: 300 }, checksConfigSchema.parse({}));
    expect(again.find((r) => r.check === 'isolation')!.status).toBe('pass');
  });

  test('integrity skips a listed foreign table and says so: its pages live on another server', async () => {
    const results = await runChecks({ copy: copy.clientConfig(), target: new Date(), rpoTargetSeconds: 300 }, checksConfigSchema.parse({ integrity: { relations: ['events', 'remote_orders'] } }));
    const integrity = results.find((result) => result.check === 'integrity')!;
    expect(integrity.status).toBe('pass');
    expect((integrity.details as { skippedForeignTables: string[] }).skippedForeignTables).toEqual(['remote_orders']);
    expect(integrity.summary).toMatch(/skipped, foreign tables \(their pages live on another server\): remote_orders/);
  });

  test('a checks\' user that may not alter a foreign server (not its owner, not a superuser: RDS and Neon roles can be so) gets an error naming the server, and no other check runs', async () => {
    const other = await cluster();
    try {
      await reachOutToProduction(other.clientConfig());
      await other.query(`create role checker login; grant select on all tables in schema public to checker`);
      const results = await runChecks(
        { copy: { ...other.clientConfig(), user: 'checker' }, target: new Date(), rpoTargetSeconds: 300 },
        checksConfigSchema.parse({ rowCounts: [{ table: 'remote_orders', min: 1 }] }),
      );
      expect(results.map((result) => [result.check, result.status])).toEqual([
        ['connection', 'pass'],
        ['isolation', 'error'],
        ['rowCounts', 'error'],
      ]);
      expect(results[1]!.summary).toMatch(/the copy could still reach other servers, so no other check ran: server prod_link \(dblink_fdw\): must be owner of foreign server prod_link; server prod_srv \(postgres_fdw\): must be owner/);
      expect(results[2]!.summary).toMatch(/^the rowCounts check could not finish: not run, the copy could still reach another server/);
    } finally {
      await other.remove();
    }
  });

  test('where dblink\'s functions belong to another role (a managed service\'s superuser) but the checks\' user owns the extension and the servers, dblink is dropped with what depends on it, and nothing reaches production', async () => {
    const other = await cluster();
    try {
      // As on Neon or RDS: the application's role made the servers and owns the extension; a superuser owns the extension's functions.
      await other.query(`create role app_owner login superuser`);
      await withClient({ ...other.clientConfig(), user: 'app_owner' }, (c) => c.query('create extension postgres_fdw; create extension dblink'));
      await other.query(`do $$ declare f regprocedure; begin
          for f in select p.oid::regprocedure from pg_proc p join pg_depend d on d.objid = p.oid and d.deptype = 'e'
                   join pg_extension e on e.oid = d.refobjid where e.extname = 'dblink' loop
            execute format('alter function %s owner to postgres', f);
          end loop; end $$`);
      await withClient({ ...other.clientConfig(), user: 'app_owner' }, (c) =>
        c.query(`
          create server prod_srv foreign data wrapper postgres_fdw options (host '${production.server.socketDir}', port '${production.server.port}', dbname 'postgres');
          create user mapping for app_owner server prod_srv options (user 'postgres');
          create foreign table remote_orders (id int) server prod_srv options (table_name 'orders');
          create view remote_count as select n from dblink('${productionConnstr()}', 'select count(*) from orders') as t(n bigint);
        `),
      );
      await other.query('alter role app_owner nosuperuser');
      const checks = { copy: { ...other.clientConfig(), user: 'app_owner' }, target: new Date(), rpoTargetSeconds: 300 };

      const results = await runChecks(checks, checksConfigSchema.parse({}));

      const isolation = results.find((result) => result.check === 'isolation')!;
      expect(isolation.status, isolation.summary).toBe('pass');
      expect((isolation.details as IsolationDetails).dblink).toMatchObject({ installed: true, disabled: true, dropped: ['view remote_count'] });
      expect(isolation.summary).toMatch(/dblink dropped \(its connecting functions could not be replaced: permission denied for schema public\), with view remote_count/);
      const before = await logSize();
      await expect(withClient(checks.copy, (c) => c.query('select count(*) from remote_orders'))).rejects.toThrow(/could not connect to server|password is required/);
      await expect(withClient(checks.copy, (c) => c.query(`select dblink_connect('${productionConnstr()}')`))).rejects.toThrow(/does not exist/);
      expect(await connectionsSince(before)).toEqual([]);
    } finally {
      await other.remove();
    }
  });

  test('a copy of a subscriber: its logical replication subscription is disabled before any check, so it stops consuming production\'s slot, and the report says how to enable it again', async () => {
    const publisher = await cluster({ wal_level: 'logical', max_replication_slots: '4' });
    const subscriber = await cluster();
    try {
      await publisher.query('create table orders (id int primary key); create publication orders_pub for table orders');
      await subscriber.query('create table orders (id int primary key)');
      await subscriber.query(`create subscription orders_sub connection 'host=${publisher.server.socketDir} port=${publisher.server.port} dbname=postgres user=postgres' publication orders_pub`);
      const slotActive = async () => (await publisher.query<{ active: boolean }>(`select active from pg_replication_slots where slot_name = 'orders_sub'`))[0]?.active;
      while ((await slotActive()) !== true) await new Promise((resolve) => setTimeout(resolve, 20));

      const results = await runChecks({ copy: subscriber.clientConfig(), target: new Date(), rpoTargetSeconds: 300 }, checksConfigSchema.parse({}));

      const isolation = results.find((result) => result.check === 'isolation')!;
      expect(isolation.status).toBe('pass');
      expect((isolation.details as IsolationDetails).subscriptions).toEqual([{ name: 'orders_sub', disabled: true, wasEnabled: true, undo: 'ALTER SUBSCRIPTION "orders_sub" ENABLE' }]);
      expect(isolation.summary).toMatch(/subscriptions disabled: orders_sub/);
      // The copy's worker lets go of production's slot.
      while ((await slotActive()) !== false) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await slotActive()).toBe(false);
    } finally {
      await subscriber.query('alter subscription orders_sub set (slot_name = none)').catch(() => undefined);
      await subscriber.query('drop subscription if exists orders_sub').catch(() => undefined);
      await subscriber.remove();
      await publisher.remove();
    }
  });
});
