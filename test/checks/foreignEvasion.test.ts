import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checksConfigSchema } from '../../lib/checks/config.ts';
import type { IsolationDetails } from '../../lib/checks/foreign.ts';
import type { RowCountsDetails } from '../../lib/checks/rowCounts.ts';
import { runChecks } from '../../lib/checks/runChecks.ts';
import { closeSession, openSession } from '../../lib/checks/sql.ts';
import { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { machineBinaries } from '../support/source.ts';

/**
 * The red team's ways around isolation (session 2): code in the copy that runs before or around the
 * isolation step, or reaches dblink's library by another name, or shadows pg_catalog's functions.
 * "Production" is a real cluster that logs every connection and keeps an audit table.
 */
let production: SourceCluster;

async function cluster(settings: Record<string, string> = {}): Promise<SourceCluster> {
  return SourceCluster.create({ binaries: await machineBinaries(), walSegmentSizeMb: 1, settings });
}

function productionConnstr(): string {
  return `host=${production.server.socketDir} port=${production.server.port} dbname=postgres user=postgres`;
}

async function connectionsSince(offset: number): Promise<string[]> {
  const log = await readFile(production.server.logFile, 'utf8');
  return log.slice(offset).split('\n').filter((line) => line.includes('connection received'));
}

const logSize = async () => (await readFile(production.server.logFile, 'utf8')).length;
const auditRows = async () => (await production.query<{ what: string }>('select what from audit order by at')).map((row) => row.what);

beforeAll(async () => {
  production = await cluster({ log_connections: 'on' });
  await production.query(`create table audit (at timestamptz not null default clock_timestamp(), what text)`);
  await production.query(`create table orders (id int primary key); insert into orders select generate_series(1, 500)`);
});

afterAll(async () => {
  await production?.remove();
});

describe('isolation holds against code in the copy (red team, session 2)', () => {
  test('finding 2: an event trigger on ddl_command_start that calls dblink_exec is disabled before isolation\'s own DDL, so nothing reaches production, dblink is disabled in place, and the undo gives the trigger back as it was', async () => {
    const copy = await cluster();
    try {
      await copy.query(`
        create extension dblink;
        create view remote_count as select n from dblink('${productionConnstr()}', 'select count(*) from orders') as t(n bigint);
        create function public.ddl_audit() returns event_trigger language plpgsql as $$
          begin perform dblink_exec('${productionConnstr()}', format('insert into audit(what) values (%L)', tg_tag)); end $$;
        create event trigger ddl_audit on ddl_command_start execute function public.ddl_audit();
        create function public.drop_audit() returns event_trigger language plpgsql as $$
          begin perform dblink_exec('${productionConnstr()}', 'insert into audit(what) values (''drop'')'); end $$;
        create event trigger drop_audit on sql_drop execute function public.drop_audit();
        alter event trigger drop_audit enable always;
      `);
      // The trigger is real: DDL on the "copy" writes to production.
      await production.query('delete from audit');
      await copy.query('create table probe (id int)');
      expect(await auditRows()).toEqual(['CREATE TABLE']);
      await production.query('delete from audit');
      const before = await logSize();

      const results = await runChecks({ copy: copy.clientConfig(), target: new Date(), rpoTargetSeconds: 300 }, checksConfigSchema.parse({}));

      expect(await connectionsSince(before), 'the copy connected to production').toEqual([]);
      expect(await auditRows(), 'the copy wrote to production').toEqual([]);
      const isolation = results.find((result) => result.check === 'isolation')!;
      expect(isolation.status, isolation.summary).toBe('pass');
      const details = isolation.details as IsolationDetails;
      expect(details.eventTriggers).toEqual([
        { name: 'ddl_audit', event: 'ddl_command_start', disabled: true, undo: 'ALTER EVENT TRIGGER ddl_audit ENABLE' },
        { name: 'drop_audit', event: 'sql_drop', disabled: true, undo: 'ALTER EVENT TRIGGER drop_audit ENABLE ALWAYS' },
      ]);
      expect(details.dblink.dropped).toBeUndefined();
      expect(isolation.summary).toMatch(/event triggers disabled: ddl_audit, drop_audit/);
      expect(isolation.summary).toMatch(/dblink's connecting functions disabled/);
      expect(await copy.query<{ evtenabled: string }>(`select evtenabled from pg_event_trigger order by evtname`)).toEqual([{ evtenabled: 'D' }, { evtenabled: 'D' }]);
      await expect(copy.query('select * from remote_count')).rejects.toThrow(/restore-drill: dblink is disabled/);
    } finally {
      await copy.remove();
    }
  });

  test('finding 2, a checks\' user that may not disable an event trigger (not a superuser): isolation is an error naming the trigger, changes nothing else (the trigger would fire on each change), and no other check runs', async () => {
    const copy = await cluster();
    try {
      await copy.query(`
        create extension postgres_fdw;
        create role checker login;
        grant usage on foreign data wrapper postgres_fdw to checker;
        create function public.ddl_audit() returns event_trigger language plpgsql as $$ begin raise notice 'ddl'; end $$;
        create event trigger ddl_audit on ddl_command_start execute function public.ddl_audit();
      `);
      await copy.query(`set role checker; create server prod_srv foreign data wrapper postgres_fdw options (host '${production.server.socketDir}')`);

      const results = await runChecks(
        { copy: { ...copy.clientConfig(), user: 'checker' }, target: new Date(), rpoTargetSeconds: 300 },
        checksConfigSchema.parse({ rowCounts: [{ table: 'pg_class', min: 1 }] }),
      );

      expect(results.map((result) => [result.check, result.status])).toEqual([
        ['connection', 'pass'],
        ['isolation', 'error'],
        ['rowCounts', 'error'],
      ]);
      expect(results[1]!.summary).toMatch(/event trigger ddl_audit \(ddl_command_start\): must be owner of event trigger ddl_audit, so nothing else was changed/);
      expect(await copy.query<{ options: string[] }>(`select srvoptions as options from pg_foreign_server`)).toEqual([{ options: [`host=${production.server.socketDir}`] }]);
    } finally {
      await copy.remove();
    }
  });

  test('finding 3: a LANGUAGE c function outside the dblink extension, bound to dblink\'s library, is disabled too: a view on it no longer reads production, with or without the extension', async () => {
    const copy = await cluster();
    try {
      await copy.query(`
        create schema ext;
        create function ext.remote_rows(text, text) returns setof record language c strict as '$libdir/dblink', 'dblink_record';
        create function public.open_link(text) returns text language c strict as '$libdir/dblink', 'dblink_connect';
        create view prod_orders as select * from ext.remote_rows('${productionConnstr()}', 'select id from orders') as t(id int);
      `);
      expect(await copy.query<{ n: string }>('select count(*)::text as n from prod_orders')).toEqual([{ n: '500' }]);
      const before = await logSize();

      const results = await runChecks(
        { copy: copy.clientConfig(), target: new Date(), rpoTargetSeconds: 300 },
        checksConfigSchema.parse({ rowCounts: [{ table: 'prod_orders', min: 10 }], sql: [{ name: 'remote', query: 'select count(*) from prod_orders', expect: { min: 10 } }] }),
      );

      expect(await connectionsSince(before), 'the copy connected to production').toEqual([]);
      const isolation = results.find((result) => result.check === 'isolation')!;
      expect(isolation.status, isolation.summary).toBe('pass');
      expect((isolation.details as IsolationDetails).dblink.functions).toEqual(['ext.remote_rows(text, text)', 'public.open_link(text)']);
      expect(results.find((result) => result.check === 'rowCounts')!.status).not.toBe('pass');
      expect(results.find((result) => result.check === 'sql')!.status).not.toBe('pass');
      await expect(copy.query(`select open_link('${productionConnstr()}')`)).rejects.toThrow(/restore-drill: dblink is disabled/);
      expect(await connectionsSince(before)).toEqual([]);
    } finally {
      await copy.remove();
    }
  });

  test('finding 8: the checks\' sessions put pg_catalog first, so a public.count(*) aggregate under the database\'s search_path does not decide the count; unqualified names still resolve through the copy\'s own search_path', async () => {
    const copy = await cluster();
    try {
      await copy.query(`
        create schema app;
        create table app.users (id int primary key);
        insert into app.users select generate_series(1, 103);
        create function public.fake_count_final(int8) returns int8 language sql immutable as 'select 1000000::int8';
        create aggregate public.count(*) (sfunc = int8inc, stype = int8, initcond = '0', finalfunc = public.fake_count_final);
        alter database postgres set search_path = app, public, pg_catalog;
      `);
      expect(await copy.query<{ n: string }>('select count(*)::text as n from users')).toEqual([{ n: '1000000' }]);

      const results = await runChecks(
        { copy: copy.clientConfig(), target: new Date(), rpoTargetSeconds: 300 },
        checksConfigSchema.parse({ rowCounts: [{ table: 'users', min: 500_000 }] }),
      );

      const rowCounts = results.find((result) => result.check === 'rowCounts')!;
      expect((rowCounts.details as RowCountsDetails).counts).toEqual({ users: 103 });
      expect(rowCounts.status).toBe('fail');
      // What a check creates unqualified (integrity's CREATE EXTENSION amcheck) still goes where the database's
      // search_path says, never into pg_catalog.
      const session = await openSession(copy.clientConfig(), { statementTimeoutMs: 10_000 });
      try {
        expect((await session.query<{ schema: string }>('select current_schema() as schema')).rows).toEqual([{ schema: 'app' }]);
      } finally {
        await closeSession(session);
      }
    } finally {
      await copy.remove();
    }
  });
});
