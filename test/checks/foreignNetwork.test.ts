import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { configSchema, type RestoreDrillConfig } from '../../lib/config/schema.ts';
import { runDrill } from '../../lib/drill/drill.ts';
import { localProvider } from '../../lib/providers/local/index.ts';
import { networkNamespaceSupport } from '../../lib/providers/local/server.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { testSource } from '../support/source.ts';

/**
 * Superuser-owned code in a copy runs programs as the server's OS user (COPY ... TO PROGRAM), and no
 * SQL-level guard stops a program from connecting out. A local copy's server runs in a network
 * namespace of its own where the machine allows it (red team finding 1): "production" here is a TCP
 * listener on 127.0.0.1 that counts connections.
 */
let source: SourceCluster;
let production: Server;
let productionPort: number;
let connections = 0;
let drop: string;

beforeAll(async () => {
  production = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => production.listen(0, '127.0.0.1', resolve));
  productionPort = (production.address() as { port: number }).port;
  // Where the copy's program leaves a file: proof that it ran, whatever it could reach.
  drop = await mkdtemp(join(tmpdir(), 'rd-netns-'));
  await chmod(drop, 0o777);
  source = await testSource();
  // It reads what COPY sends first: a program gone before the row is written fails the COPY with EPIPE (XX000).
  const program = `cat > /dev/null; touch ${drop}/ran-$$; bash -c 'exec 3<>/dev/tcp/127.0.0.1/${productionPort}' || true`;
  await source.query(`
    create table users (id int primary key);
    insert into users select generate_series(1, 10);
    create function public.recent_signups() returns setof int language plpgsql security definer as $fn$
      begin execute format('copy (select 1) to program %L', ${literalOf(program)}); return query select 1; end $fn$;
    create view signups as select * from public.recent_signups();
  `);
  await source.takeBaseBackup('base-1');
  await source.switchWal();
});

function literalOf(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

afterAll(async () => {
  await source?.remove();
  await new Promise((resolve) => production?.close(resolve));
  if (drop) await rm(drop, { recursive: true, force: true });
});

test('control: the function run on the source itself reaches "production" over loopback', async () => {
  const before = connections;
  await source.query('select count(*) from signups');
  await expect.poll(() => connections).toBeGreaterThan(before);
});

test('a local copy runs in a network namespace of its own: the copy\'s COPY TO PROGRAM runs, but nothing it starts reaches production over the network, and the report says the copy was network-isolated', async () => {
  const local = { kind: 'local' as const, baseBackups: source.backupsDir, walArchive: source.archiveDir };
  const config = configSchema.parse({
    restoreTimeoutSeconds: 120,
    databases: [{ name: 'netns', provider: local, checks: { rowCounts: [{ table: 'users', min: 10 }, { table: 'signups', min: 1 }] } }],
  }) as RestoreDrillConfig;
  const support = await networkNamespaceSupport();
  const before = connections;
  const ranBefore = await ranCount();

  const { report } = await runDrill(config, config.databases[0]!, localProvider(local, { connection: { database: 'postgres', user: 'postgres' }, durable: false }), { trigger: 'manual' });

  expect(report.status, JSON.stringify(report.checks.map((check) => [check.check, check.summary]))).toBe('passed');
  expect(await ranCount(), 'the copy\'s program ran').toBeGreaterThan(ranBefore);
  if ('unshare' in support) {
    expect(connections - before, 'the copy reached production over the network').toBe(0);
    expect(report.backup?.network).toEqual({ isolated: true, how: expect.stringMatching(/unshare --net/) });
  } else {
    // Where the machine allows no namespace (not root, no unshare), the copy shares the network and the report says so.
    expect(report.backup?.network).toEqual({ isolated: false, how: `shares the machine's network: ${support.unavailable}` });
  }
});

/** How many times a program of the function's has run (each leaves ran-<its pid>). */
async function ranCount(): Promise<number> {
  return (await readdir(drop)).length;
}
