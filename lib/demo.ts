import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { newClient } from './util/pgClient.ts';
import { loadConfig } from './config/load.ts';
import type { RestoreDrillConfigInput } from './config/schema.ts';
import { runDrill, type ProgressEvent } from './drill/drill.ts';
import { providerFor } from './providers/index.ts';
import { findDefaultPgBinaries } from './providers/local/binaries.ts';
import { SourceCluster } from './providers/local/sourceCluster.ts';
import { packageRoot } from './packageRoot.ts';
import { writeReport } from './report/store.ts';
import type { DrillReport } from './report/types.ts';

export interface DemoOutcome {
  report: DrillReport;
  reportFile: string;
  /** Users in the copy against users the source held at the target time. */
  copyHeld: string[];
  sourceHeldThen: string[];
  sourceHoldsNow: string[];
  postgres: string;
}

const MIGRATIONS = join(packageRoot(), 'demo', 'drizzle');

/**
 * The full drill on the embedded default: a source cluster with WAL archiving, the demo's Drizzle
 * migrations applied by drizzle-orm's migrator, rows, a base backup, more rows, a config file, then a
 * drill to a point in time between two known writes, with the ledger, row-count and freshness checks.
 */
export async function runDemo(options: { reportDir: string; onProgress?: (event: ProgressEvent | { step: string; detail?: string }) => void }): Promise<DemoOutcome> {
  const say = (step: string, detail?: string) => options.onProgress?.({ step, ...(detail ? { detail } : {}) } as { step: string; detail?: string });
  const binaries = await findDefaultPgBinaries();
  say('source', `PostgreSQL ${binaries.version} (${binaries.origin})`);
  const source = await SourceCluster.create({ binaries, walSegmentSizeMb: 16 });
  try {
    const db = newClient(source.clientConfig());
    await db.connect();
    try {
      await migrate(drizzle(db), { migrationsFolder: MIGRATIONS });
      await db.query(`insert into users (email, bio) values ('ada@example.com', 'first'), ('grace@example.com', null)`);
      say('backup', 'pg_basebackup');
      await source.takeBaseBackup('base-1');
      await db.query(`insert into users (email) values ('edsger@example.com')`);
      await db.query('select pg_sleep(0.05)');
      const { rows } = await db.query<{ at: Date }>('select clock_timestamp() as at');
      const target = rows[0]!.at;
      await db.query('select pg_sleep(0.05)');
      await db.query(`insert into users (email) values ('barbara@example.com')`);
      await source.switchWal();

      const dir = join(source.dir, 'project');
      await mkdir(dir);
      const config: RestoreDrillConfigInput = {
        rpoTargetSeconds: 300,
        rtoTargetSeconds: 3600,
        databases: [
          {
            name: 'demo',
            provider: { kind: 'local', baseBackups: source.backupsDir, walArchive: source.archiveDir, pgBin: binaries.bindir },
            connection: { database: 'postgres', user: 'postgres' },
            target: target.toISOString(),
            source: { host: source.server.socketDir, port: source.server.port, database: 'postgres', user: 'postgres', ssl: false },
            checks: {
              ledger: { migrationsFolder: MIGRATIONS },
              rowCounts: [{ table: 'users', min: 1, asOf: { column: 'created_at', marginSeconds: 0 } }],
              freshness: { table: 'users', column: 'created_at' },
            },
          },
        ],
        report: { dir: options.reportDir },
      };
      await writeFile(join(dir, 'restore-drill.config.json'), `${JSON.stringify(config, null, 2)}\n`);
      const { config: loaded } = await loadConfig(dir);
      const database = loaded.databases[0]!;

      let copyHeld: string[] = [];
      const { report } = await runDrill(loaded, database, providerFor(database), {
        trigger: 'cli',
        onProgress: (event) => options.onProgress?.(event),
        inspect: async (copy) => {
          const client = newClient(copy);
          await client.connect();
          copyHeld = (await client.query<{ email: string }>('select email from users order by id')).rows.map((row) => row.email);
          await client.end();
        },
      });
      const then = await db.query<{ email: string }>('select email from users where created_at <= $1 order by id', [target]);
      const now = await db.query<{ email: string }>('select email from users order by id');
      const reportFile = await writeReport(options.reportDir, report);
      return {
        report,
        reportFile,
        copyHeld,
        sourceHeldThen: then.rows.map((row) => row.email),
        sourceHoldsNow: now.rows.map((row) => row.email),
        postgres: `${binaries.version} (${binaries.origin})`,
      };
    } finally {
      await db.end();
    }
  } finally {
    await source.remove();
  }
}
