import { describe, expect, it } from 'vitest';
import { databaseSchema, type DatabaseConfig } from '../../lib/config/schema.ts';
import { providerFor } from '../../lib/providers/index.ts';
import { localProvider } from '../../lib/providers/local/index.ts';
import { neonProvider } from '../../lib/providers/neon/index.ts';
import { pgbackrestProvider } from '../../lib/providers/pgbackrest/index.ts';
import { auroraProvider, rdsInstanceProvider } from '../../lib/providers/rds/index.ts';
import type { RestoreProvider } from '../../lib/providers/types.ts';

const connection = { database: 'app', user: 'postgres' };
const aws = { region: 'eu-west-1', instanceClass: 'db.t4g.medium', credentials: { secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x' } };
const databases = [
  { name: 'local', provider: { kind: 'local', baseBackups: '/nowhere', walArchive: '/nowhere' }, connection },
  { name: 'rds', provider: { kind: 'rds', instanceId: 'orders', ...aws }, connection },
  { name: 'aurora', provider: { kind: 'aurora', clusterId: 'billing', ...aws }, connection },
  { name: 'neon', provider: { kind: 'neon', projectId: 'shiny-wind-028834', apiKey: { env: 'NEON_API_KEY' } }, connection },
  { name: 'pgbackrest', provider: { kind: 'pgbackrest', stanza: 'main' }, connection },
].map((database) => databaseSchema.parse(database));

/** The provider itself, built without providerFor. */
function realProvider(database: DatabaseConfig): RestoreProvider<never> {
  const { provider } = database;
  const options = { connection: database.connection, database: database.name };
  switch (provider.kind) {
    case 'local':
      return localProvider(provider, options) as RestoreProvider<never>;
    case 'rds':
      return rdsInstanceProvider(provider, options) as RestoreProvider<never>;
    case 'aurora':
      return auroraProvider(provider, options) as RestoreProvider<never>;
    case 'neon':
      return neonProvider(provider, options) as RestoreProvider<never>;
    case 'pgbackrest':
      return pgbackrestProvider(provider, { ...options, durable: true }) as RestoreProvider<never>;
  }
}

describe('providerFor (the provider loaded at its first call)', () => {
  it.each(databases.map((database) => [database.provider.kind, database] as const))('%s: what the drill reads without awaiting is what the provider says', (_kind, database) => {
    // Prepare
    const real = realProvider(database);

    // Act
    const lazy = providerFor(database);

    // Assess
    expect(lazy.kind).toBe(real.kind);
    expect(lazy.pollIntervalMs).toBe(real.pollIntervalMs);
    expect(lazy.copyNameOf({ name: 'rd-app-20260101000000-abcd' })).toBe(real.copyNameOf({ name: 'rd-app-20260101000000-abcd' } as never));
  });

  it('local: no connection secrets, as the provider itself has none', async () => {
    // Prepare
    const lazy = providerFor(databases[0]!);

    // Act
    const secrets = await lazy.connectionSecrets!({ host: '/tmp', port: 5432, database: 'app', user: 'postgres', passwordFrom: 'none (local socket)' });

    // Assess
    expect(realProvider(databases[0]!).connectionSecrets).toBeUndefined();
    expect(secrets).toEqual({});
  });
});
