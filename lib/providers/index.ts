import type { DatabaseConfig } from '../config/schema.ts';
import { localProvider } from './local/index.ts';
import type { RestoreProvider } from './types.ts';

export interface ProviderOptions {
  /** fsync in local copies (tests turn it off). @default true */
  durable?: boolean;
}

export function providerFor(database: DatabaseConfig, options: ProviderOptions = {}): RestoreProvider {
  const provider = database.provider;
  switch (provider.kind) {
    case 'local':
      return localProvider(provider, { connection: database.connection, durable: options.durable ?? true }) as RestoreProvider;
  }
}
