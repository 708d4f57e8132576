import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { configSchema, type RestoreDrillConfig } from '../../lib/config/schema.ts';
import { runDrill } from '../../lib/drill/drill.ts';
import { localProvider } from '../../lib/providers/local/index.ts';
import { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { machineBinaries, testSource } from '../support/source.ts';

/**
 * PostgreSQL 17's `on login` event trigger runs on every connection, the drill's first ones included
 * (the readiness probe, the connection check), before the isolation step could disable it. A local
 * copy's server therefore starts with event_triggers = off (red team finding 5).
 */
let production: SourceCluster;
let source: SourceCluster;

const logSize = async () => (await readFile(production.server.logFile, 'utf8')).length;
async function connectionsSince(offset: number): Promise<string[]> {
  const log = await readFile(production.server.logFile, 'utf8');
  return log.slice(offset).split('\n').filter((line) => line.includes('connection received'));
}

beforeAll(async () => {
  production = await SourceCluster.create({ binaries: await machineBinaries(), walSegmentSizeMb: 1, settings: { log_connections: 'on' } });
  await production.query('create table audit (what text)');
  source = await testSource({ embedded: true });
  const prod = `host=${production.server.socketDir} port=${production.server.port} dbname=postgres user=postgres`;
  await source.query(`
    create extension dblink;
    create table users (id int primary key);
    insert into users select generate_series(1, 10);
    create function public.login_audit() returns event_trigger language plpgsql as $$
      begin perform dblink_exec('${prod}', format('insert into audit values (%L)', 'login app=' || current_setting('application_name'))); end $$;
    create event trigger login_audit on login execute function public.login_audit();
  `);
  // The trigger is real: a login on the source writes to production.
  await source.query('select 1');
  expect((await production.query<{ n: string }>('select count(*)::text as n from audit'))[0]!.n).not.toBe('0');
  await source.takeBaseBackup('base-1');
  await source.switchWal();
});

afterAll(async () => {
  await source?.remove();
  await production?.remove();
});

test('a PostgreSQL 17 copy starts with event_triggers off: the source\'s login trigger never runs on the drill\'s connections, so nothing reaches production and the drill passes', async () => {
  const local = { kind: 'local' as const, baseBackups: source.backupsDir, walArchive: source.archiveDir };
  const config = configSchema.parse({
    restoreTimeoutSeconds: 120,
    databases: [{ name: 'login', provider: local, checks: { rowCounts: [{ table: 'users', min: 10 }] } }],
  }) as RestoreDrillConfig;
  const before = await logSize();

  const { report } = await runDrill(config, config.databases[0]!, localProvider(local, { connection: { database: 'postgres', user: 'postgres' }, durable: false }), { trigger: 'manual' });

  expect(await connectionsSince(before), 'the copy connected to production').toEqual([]);
  expect(report.status, JSON.stringify(report.checks.map((check) => [check.check, check.summary]))).toBe('passed');
  const isolation = report.checks.find((check) => check.check === 'isolation');
  expect(isolation?.summary).toMatch(/event triggers disabled: login_audit/);
});
