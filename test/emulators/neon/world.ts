import { cp, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { findPgBinaries } from '../../../lib/providers/local/binaries.ts';
import { readWindow } from '../../../lib/providers/local/plan.ts';
import { ensureScratchRoot, scratchFolders } from '../../../lib/providers/local/scratch.ts';
import { SourceCluster } from '../../../lib/providers/local/sourceCluster.ts';
import { makeTestCa, type TestCa } from '../rds/tls.ts';
import { NeonEmulator, type NeonEmulatorOptions } from './emulator.ts';
import { newClient } from '../../../lib/util/pgClient.ts';

/** The Neon API key the emulator accepts: a secret, so tests look for it in every output. */
export const NEON_API_KEY = 'napi_emulat0r-k3y-never-in-logs-or-reports';
/** The password of the project's role: what getConnectionUri hands out, and what the copies inherit. */
export const ROLE_PASSWORD = 'npg_R0le-pa55word-never-in-reports';
export const ROLE = 'neondb_owner';
export const DATABASE = 'neondb';

const repoRoot = join(import.meta.dirname, '..', '..', '..');

export interface NeonWorld {
  emulator: NeonEmulator;
  source: SourceCluster;
  ca: TestCa;
  /** A project folder with the demo's Drizzle migrations (./drizzle). */
  project: string;
  /** The default branch's id and name: no mutating call may name them. */
  sourceIdentifiers: string[];
  /** A client config for the source's neondb, as its owner. */
  sourceClient(): pg.ClientConfig;
  /**
   * A read-only login role made in SQL on the source (the default branch), as a checks role usually is:
   * Neon syncs its name but never learns its password. Returns when it was made.
   */
  createSqlRole(name: string, password: string): Promise<Date>;
  remove(): Promise<void>;
}

/**
 * A Neon-like source (PostgreSQL 15 with WAL archiving): the role neondb_owner owns the database
 * neondb, where the demo's Drizzle migrations ran and a few rows were written before and after a
 * base backup. The emulator serves it as the default branch `main` of project shiny-wind-028834.
 */
export async function neonWorld(options: Partial<Omit<NeonEmulatorOptions, 'tls' | 'source' | 'sourceCreatedAt' | 'roles' | 'databases' | 'apiKey'>> & { port?: number } = {}): Promise<NeonWorld> {
  await ensureScratchRoot();
  const project = await mkdtemp(join(scratchFolders.sources(), 'neon-project-'));
  const ca = await makeTestCa(join(project, 'ca'));
  const source = await SourceCluster.create({ binaries: await findPgBinaries({ major: 15 }), walSegmentSizeMb: 1 });
  await cp(join(repoRoot, 'demo', 'drizzle'), join(project, 'drizzle'), { recursive: true });
  await source.query(`create role ${ROLE} login password '${ROLE_PASSWORD}'`);
  await source.query(`create database ${DATABASE} owner ${ROLE}`);
  const sourceClient = (): pg.ClientConfig => ({ ...source.clientConfig(DATABASE), user: ROLE });
  const client = newClient(sourceClient());
  await client.connect();
  try {
    await migrate(drizzle(client), { migrationsFolder: join(project, 'drizzle') });
    await client.query(`insert into users (email) values ('a@example.com'), ('b@example.com')`);
    await source.takeBaseBackup('base-1');
    await client.query(`insert into users (email) values ('c@example.com')`);
  } finally {
    await client.end();
  }
  await source.switchWal();
  const local = { baseBackups: source.backupsDir, walArchive: source.archiveDir };
  const { window } = await readWindow(local);
  const { port, ...emulatorOptions } = options;
  const emulator = new NeonEmulator({
    ...emulatorOptions,
    tls: ca,
    apiKey: NEON_API_KEY,
    source: local,
    sourceCreatedAt: window.earliest,
    flush: () => source.switchWal().then(() => undefined),
    roles: [{ name: ROLE, password: ROLE_PASSWORD }],
    databases: [DATABASE],
  });
  await emulator.start(port ?? 0);
  return {
    emulator,
    source,
    ca,
    project,
    sourceIdentifiers: [emulator.defaultBranch.id, emulator.defaultBranch.name],
    sourceClient,
    async createSqlRole(name, password) {
      const owner = newClient(sourceClient());
      await owner.connect();
      try {
        await source.query(`create role ${name} login password '${password.replace(/'/g, "''")}'`);
        await owner.query(`grant usage on schema public, drizzle to ${name}`);
        await owner.query(`grant select on all tables in schema public, drizzle to ${name}`);
        const { rows } = await owner.query<{ now: Date }>('select clock_timestamp() as now');
        emulator.noteRoleMadeInSql(emulator.defaultBranch, name, rows[0]!.now);
        return rows[0]!.now;
      } finally {
        await owner.end();
      }
    },
    async remove() {
      await emulator.stop();
      await source.remove();
      await rm(project, { recursive: true, force: true });
    },
  };
}

/** A database config for the emulator's project (its default branch unless `branch` is given). */
export function neonDatabaseConfig(world: NeonWorld, name: string, overrides: Record<string, unknown> = {}, provider: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    provider: {
      kind: 'neon',
      projectId: world.emulator.projectId,
      apiKey: { env: 'NEON_API_KEY' },
      apiBaseUrl: world.emulator.apiBaseUrl,
      caFile: world.ca.caFile,
      ...provider,
    },
    connection: { database: DATABASE, user: ROLE },
    checks: {
      ledger: { migrationsFolder: join(world.project, 'drizzle') },
      rowCounts: [{ table: 'users', min: 3 }],
      freshness: { table: 'users', column: 'created_at' },
    },
    ...overrides,
  };
}
