import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { newClient } from '../../../lib/util/pgClient.ts';
import { findPgBinaries } from '../../../lib/providers/local/binaries.ts';
import { ensureScratchRoot, scratchFolders } from '../../../lib/providers/local/scratch.ts';
import { SourceCluster } from '../../../lib/providers/local/sourceCluster.ts';
import { CLI_ACCESS_KEY_ID, CLI_SECRET_ACCESS_KEY, cliAuthority } from '../../support/iam/cli.ts';
import { RdsEmulator, type ClusterRecord, type InstanceRecord, type RdsEmulatorOptions } from './emulator.ts';
import { makeTestCa, type TestCa } from './tls.ts';

/** The production password of the source's `postgres` role: what the source's secret holds, and what the copies inherit. */
export const SOURCE_PASSWORD = 'pr0d-S3cret-never-in-reports';

const repoRoot = join(import.meta.dirname, '..', '..', '..');

/**
 * A scratch root for one test file: the emulator's local restores live there, so that the file can
 * assert at the end that none is left, whatever other files run beside it.
 */
export function useOwnScratch(file: string): string {
  process.env.RESTORE_DRILL_SCRATCH = join(tmpdir(), `restore-drill-${file}`);
  return process.env.RESTORE_DRILL_SCRATCH;
}

/** Local restores (the emulator's copies) left in this file's scratch root. */
export async function leftoverCopies(): Promise<string[]> {
  return readdir(scratchFolders.copies()).catch(() => []);
}

/**
 * The CLI user's credentials for the real SDK clients: the emulators authorise every call against that
 * user's least-privilege policy (examples/iam/cli-policy.json); they do not check signatures.
 */
export function useFakeAwsCredentials(env: NodeJS.ProcessEnv = process.env): void {
  env.AWS_ACCESS_KEY_ID = CLI_ACCESS_KEY_ID;
  env.AWS_SECRET_ACCESS_KEY = CLI_SECRET_ACCESS_KEY;
  env.AWS_REGION = 'us-east-1';
  delete env.AWS_PROFILE;
  delete env.AWS_SESSION_TOKEN;
}

export interface RdsWorld {
  emulator: RdsEmulator;
  source: SourceCluster;
  ca: TestCa;
  /** A project folder with the demo's Drizzle migrations (./drizzle). */
  project: string;
  sourceInstance: InstanceRecord;
  sourceCluster: ClusterRecord;
  secretArn: string;
  /** Every identifier and ARN of the sources, for "no mutating call names the source". */
  sourceIdentifiers: string[];
  remove(): Promise<void>;
}

/**
 * A source with archiving (PostgreSQL 15), the demo's Drizzle migrations applied, rows written
 * before and after a base backup, and the emulator serving it as the RDS instance `app-prod` and the
 * Aurora cluster `app-aurora`, with its credentials in the secret `app-prod/postgres`. IAM is the CLI
 * user's (cliAuthority()) unless `iam` says otherwise: every test runs under the least privilege.
 */
export async function rdsWorld(options: Partial<Omit<RdsEmulatorOptions, 'tls'>> & { port?: number } = {}): Promise<RdsWorld> {
  await ensureScratchRoot();
  const project = await mkdtemp(join(scratchFolders.sources(), 'rds-project-'));
  const ca = await makeTestCa(join(project, 'ca'));
  const source = await SourceCluster.create({ binaries: await findPgBinaries({ major: 15 }), walSegmentSizeMb: 1 });
  await cp(join(repoRoot, 'demo', 'drizzle'), join(project, 'drizzle'), { recursive: true });
  const client = newClient(source.clientConfig());
  await client.connect();
  try {
    await client.query(`alter role postgres password '${SOURCE_PASSWORD}'`);
    await migrate(drizzle(client), { migrationsFolder: join(project, 'drizzle') });
    await client.query(`insert into users (email) values ('a@example.com'), ('b@example.com')`);
    await source.takeBaseBackup('base-1');
    await client.query(`insert into users (email) values ('c@example.com')`);
  } finally {
    await client.end();
  }
  await source.switchWal();
  const { port, ...emulatorOptions } = options;
  const emulator = new RdsEmulator({ tls: ca, ...emulatorOptions, iam: emulatorOptions.iam ?? cliAuthority() });
  await emulator.start(port ?? 0);
  const local = { baseBackups: source.backupsDir, walArchive: source.archiveDir };
  const engineVersion = source.binaries.version;
  const sourceInstance = emulator.addSourceInstance({ id: 'app-prod', source: local, engineVersion, tags: [{ Key: 'team', Value: 'payments' }] });
  const sourceCluster = emulator.addSourceCluster({ id: 'app-aurora', source: local, engineVersion });
  const secretArn = emulator.addSecret('app-prod/postgres', { username: 'postgres', password: SOURCE_PASSWORD, engine: 'postgres' });
  return {
    emulator,
    source,
    ca,
    project,
    sourceInstance,
    sourceCluster,
    secretArn,
    sourceIdentifiers: [sourceInstance.id, sourceInstance.arn, sourceInstance.resourceId, sourceCluster.id, sourceCluster.arn, sourceCluster.resourceId],
    async remove() {
      await emulator.stop();
      await source.remove();
      await rm(project, { recursive: true, force: true });
    },
  };
}

/** A database config for the emulator's source instance (kind rds) or cluster (kind aurora). */
export function databaseConfig(world: RdsWorld, kind: 'rds' | 'aurora', overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'app',
    provider: {
      kind,
      ...(kind === 'rds' ? { instanceId: world.sourceInstance.id } : { clusterId: world.sourceCluster.id }),
      region: world.emulator.region,
      subnetGroup: 'drill-subnets',
      securityGroupIds: ['sg-0drill000000000001', 'sg-0drill000000000002'],
      instanceClass: 'db.t4g.medium',
      credentials: { secretArn: world.secretArn },
      endpoint: world.emulator.url,
      caFile: world.ca.caFile,
      // Ready after three usable reads in a row, as in production, at the emulator's pace.
      readiness: { consecutiveReads: 3, intervalSeconds: 0.05 },
    },
    connection: { database: 'postgres', user: 'postgres' },
    // The emulator's restores take well under a second: poll it as fast as the tests like.
    pollIntervalSeconds: 0.02,
    checks: {
      ledger: { migrationsFolder: join(world.project, 'drizzle') },
      rowCounts: [{ table: 'users', min: 3 }],
      freshness: { table: 'users', column: 'created_at' },
    },
    ...overrides,
  };
}
