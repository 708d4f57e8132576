import { describe, expect, test } from 'vitest';
import type { RestoreDrillConfig } from '../../lib/config/schema.ts';
import { restoreWindow } from '../../lib/drill/runner.ts';
import { NotOurCopyError } from '../../lib/errors.ts';
import { dropCopy, runJanitor } from '../../lib/janitor.ts';
import type { ListedCopy, RestoreProvider } from '../../lib/providers/types.ts';

// issue 14, "Also": drop, window and the janitor as use cases in lib/, with one guard that decides
// "ours" for every provider; the CLI only parses and prints.
const config = {
  rpoTargetSeconds: 300,
  databases: [
    { name: 'app', provider: { kind: 'rds', region: 'eu-west-1' }, rpoTargetSeconds: 900 },
    { name: 'billing', provider: { kind: 'neon', projectId: 'p' } },
  ],
} as unknown as RestoreDrillConfig;

function fakeProvider(kind: string, listed: ListedCopy[]) {
  const destroyed: unknown[] = [];
  const provider = {
    kind,
    listCopies: async () => listed,
    destroy: async (handle: unknown) => void destroyed.push(handle),
    window: async () => ({ earliest: new Date('2026-11-30T00:00:00Z'), latest: new Date('2026-12-01T11:50:00Z'), note: 'WAL segment X is missing' }),
  } as unknown as RestoreProvider;
  return { provider, destroyed };
}

const expired = new Date('2026-12-01T00:00:00Z');
const now = () => new Date('2026-12-01T12:00:00Z');

describe('what is ours', () => {
  test('the janitor removes only names of our form, whatever a provider lists', async () => {
    // Prepare: a provider whose listing also holds a resource that is not a copy of ours
    const { provider, destroyed } = fakeProvider('rds', [
      { name: 'legacy-reporting', expiresAt: expired, handle: { id: 'legacy-reporting' } },
      { name: 'rd-app-20261130000000-ab12', expiresAt: expired, handle: { id: 'rd-app-20261130000000-ab12' } },
    ]);

    // Act
    const result = await runJanitor({ ...config, databases: [config.databases[0]!] }, { now, providerFor: () => provider });

    // Assess
    expect(destroyed).toEqual([{ id: 'rd-app-20261130000000-ab12' }]);
    expect(result.removed.map((copy) => copy.name)).toEqual(['rd-app-20261130000000-ab12']);
    expect(result.skipped).toEqual([{ provider: 'rds', name: 'legacy-reporting', expiresAt: null, error: 'not a restore-drill copy name (rd-<database>-<yyyymmddhhmmss>-<4 random>): never removed' }]);
  });

  test('drop refuses a name that is not ours, and a copy its provider does not list as ours, touching nothing', async () => {
    const { provider, destroyed } = fakeProvider('rds', [{ name: 'rd-app-20261130000000-ab12', expiresAt: expired, handle: { id: 'listed' } }]);
    const options = { config, providerFor: () => provider };

    await expect(dropCopy('app-prod', options)).rejects.toThrow(new NotOurCopyError('"app-prod" is not a restore-drill copy name (rd-<database>-<yyyymmddhhmmss>-<4 random>)'));
    await expect(dropCopy('rd-app-20261130000000-zz99', options)).rejects.toThrow(
      new NotOurCopyError('rds has no copy named rd-app-20261130000000-zz99 carrying our tags (database app\'s region and account)'),
    );
    expect(destroyed).toEqual([]);

    expect(await dropCopy('rd-app-20261130000000-ab12', options)).toEqual({ name: 'rd-app-20261130000000-ab12', provider: 'rds', database: 'app' });
    expect(destroyed).toEqual([{ id: 'listed' }]);
  });
});

describe('window', () => {
  test('the window, its note and the claimed RPO against the database\'s target', async () => {
    const { provider } = fakeProvider('rds', []);

    const window = await restoreWindow(config, 'app', { now, providerFor: () => provider });

    expect(window).toEqual({
      database: 'app',
      earliest: '2026-11-30T00:00:00.000Z',
      latest: '2026-12-01T11:50:00.000Z',
      note: 'WAL segment X is missing',
      rpo: { targetSeconds: 900, claimedSeconds: 600, compliant: true },
    });
  });
});
