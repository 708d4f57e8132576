import type { DatabaseConfig } from '../config/schema.ts';
import { localProvider } from './local/index.ts';
import { neonProvider, type NeonProviderOptions } from './neon/index.ts';
import { auroraProvider, rdsInstanceProvider, type AwsProviderOptions } from './rds/index.ts';
import type { RestoreProvider } from './types.ts';

export interface ProviderOptions {
  /** fsync in local copies (tests turn it off). @default true */
  durable?: boolean;
  /** RDS and Aurora: injected clients, client settings, removal waits. */
  aws?: Omit<AwsProviderOptions, 'connection' | 'database'>;
  /** Neon: an injected client or key source, retry timing. */
  neon?: Omit<NeonProviderOptions, 'connection' | 'database'>;
}

export function providerFor(database: DatabaseConfig, options: ProviderOptions = {}): RestoreProvider {
  const provider = database.provider;
  switch (provider.kind) {
    case 'local':
      return localProvider(provider, { connection: database.connection, durable: options.durable ?? true }) as RestoreProvider;
    case 'rds':
      return rdsInstanceProvider(provider, { ...options.aws, connection: database.connection, database: database.name }) as RestoreProvider;
    case 'aurora':
      return auroraProvider(provider, { ...options.aws, connection: database.connection, database: database.name }) as RestoreProvider;
    case 'neon':
      return neonProvider(provider, { ...options.neon, connection: database.connection, database: database.name }) as RestoreProvider;
  }
}
