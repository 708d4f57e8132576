import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drizzle as drizzleV0 } from 'drizzle-orm/node-postgres';
import { migrate as migrateV0 } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzleV1 } from 'drizzle-orm-v1/node-postgres';
import { migrate as migrateV1 } from 'drizzle-orm-v1/node-postgres/migrator';
import pg from 'pg';
import type { CheckContext } from '../../lib/checks/types.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { withClient } from '../../lib/util/pgClient.ts';
export { withClient };

export const fixturesDir = join(import.meta.dirname, '..', 'fixtures', 'drizzle');

/** A fresh database in the cluster, for one scenario. */
export async function createDatabase(source: SourceCluster, name: string): Promise<pg.ClientConfig> {
  await source.query(`create database "${name.replaceAll('"', '""')}"`);
  return source.clientConfig(name);
}

/** A copy of a committed fixture folder that a test may edit. */
export async function fixtureCopy(layout: 'v0' | 'v1', scratch: string, name: string): Promise<string> {
  const folder = join(scratch, name);
  await cp(join(fixturesDir, layout, 'migrations'), folder, { recursive: true });
  return folder;
}

export async function scratchDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'rd-checks-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface LedgerLocation {
  migrationsSchema?: string;
  migrationsTable?: string;
}

/** drizzle-orm 0.x's own migrator, as an app on 0.x runs it at deploy. */
export async function migrateWithV0(config: pg.ClientConfig, migrationsFolder: string, ledger: LedgerLocation = {}): Promise<void> {
  await withClient(config, (client) => migrateV0(drizzleV0(client), { migrationsFolder, ...ledger }));
}

/** drizzle-orm 1.x's own migrator. */
export async function migrateWithV1(config: pg.ClientConfig, migrationsFolder: string, ledger: LedgerLocation = {}): Promise<void> {
  await withClient(config, async (client) => {
    await migrateV1(drizzleV1({ client }), { migrationsFolder, ...ledger });
  });
}

export function checkContext(copy: pg.ClientConfig, overrides: Partial<CheckContext> = {}): CheckContext {
  return { copy, target: new Date(), rpoTargetSeconds: 300, statementTimeoutMs: 30_000, ...overrides };
}
