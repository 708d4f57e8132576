import type { DatabaseConfig } from '../config/schema.ts';
import { lazyProvider } from './lazy.ts';
import type { NeonProviderOptions } from './neon/index.ts';
import type { AwsProviderOptions } from './rds/index.ts';
import type { RestoreProvider } from './types.ts';

export interface ProviderOptions {
  /** fsync in local copies (tests turn it off). @default true */
  durable?: boolean;
  /** RDS and Aurora: injected clients, client settings, removal waits. */
  aws?: Omit<AwsProviderOptions, 'connection' | 'database'>;
  /** Neon: an injected client or key source, retry timing. */
  neon?: Omit<NeonProviderOptions, 'connection' | 'database'>;
}

/** The provider of a database; its module and SDK are loaded at its first call (see lazyProvider). */
export function providerFor(database: DatabaseConfig, options: ProviderOptions = {}): RestoreProvider {
  const provider = database.provider;
  return lazyProvider(provider.kind, async () => {
    switch (provider.kind) {
      case 'local': {
        const { localProvider } = await import('./local/index.ts');
        return localProvider(provider, { connection: database.connection, durable: options.durable ?? true }) as RestoreProvider;
      }
      case 'rds': {
        const { rdsInstanceProvider } = await import('./rds/index.ts');
        return rdsInstanceProvider(provider, { ...options.aws, connection: database.connection, database: database.name }) as RestoreProvider;
      }
      case 'aurora': {
        const { auroraProvider } = await import('./rds/index.ts');
        return auroraProvider(provider, { ...options.aws, connection: database.connection, database: database.name }) as RestoreProvider;
      }
      case 'pgbackrest': {
        const { pgbackrestProvider } = await import('./pgbackrest/index.ts');
        return pgbackrestProvider(provider, { connection: database.connection, database: database.name, durable: options.durable ?? true }) as RestoreProvider;
      }
      case 'neon': {
        const { neonProvider } = await import('./neon/index.ts');
        return neonProvider(provider, { ...options.neon, connection: database.connection, database: database.name }) as RestoreProvider;
      }
    }
  });
}
