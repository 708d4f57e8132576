import { configSchema, type RestoreDrillConfig } from '../../lib/config/schema.ts';
import { runDrill } from '../../lib/drill/drill.ts';
import type { DrillState } from '../../lib/drill/steps.ts';
import { localProvider } from '../../lib/providers/local/index.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';

/**
 * A local drill of `source` whose verify lasts `sleepSeconds` (an SQL assertion waiting in pg_sleep),
 * its lease renewed every 50 ms, and a promise of the moment its checks begin.
 */
export function longVerifyDrill(source: SourceCluster, database: string, sleepSeconds: number) {
  const local = { kind: 'local', baseBackups: source.backupsDir, walArchive: source.archiveDir } as const;
  const config = configSchema.parse({
    restoreTimeoutSeconds: 60,
    databases: [
      {
        name: database,
        provider: local,
        checks: { sql: [{ name: 'a long verify', query: `select count(*) from (select pg_sleep(${sleepSeconds})) s`, expect: { equals: 1 } }] },
      },
    ],
  }) as RestoreDrillConfig;
  const provider = localProvider(local, { connection: { database: 'postgres', user: 'postgres' }, durable: false, leaseRenewMs: 50 });
  let state: DrillState | undefined;
  let verifying!: () => void;
  const verifyBegins = new Promise<void>((resolve) => (verifying = resolve));
  const drill = runDrill(config, config.databases[0]!, provider, {
    trigger: 'manual',
    onState: (next) => (state = next),
    onProgress: (event) => event.step === 'verify' && verifying(),
  });
  return { config, provider, drill, verifyBegins, state: () => state! };
}
