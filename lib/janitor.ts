import type { RestoreDrillConfig } from './config/schema.ts';
import { RemovalDeferredError } from './errors.ts';
import { providerFor, type ProviderOptions } from './providers/index.ts';

export interface JanitorOptions extends ProviderOptions {
  /** List what would be removed, remove nothing. */
  dryRun?: boolean;
  now?: () => Date;
}

export interface JanitorCopy {
  provider: string;
  name: string;
  expiresAt: string | null;
}

export interface JanitorResult {
  dryRun: boolean;
  /** Expired copies of ours that were removed (or, with dryRun, would be). */
  removed: JanitorCopy[];
  /** Copies of ours not expired yet, or without a readable expiry (left alone). */
  kept: JanitorCopy[];
  failed: (JanitorCopy & { error: string })[];
  /** Copies the provider would not remove in their current state (RDS refused): the next run tries again. */
  deferred: (JanitorCopy & { error: string })[];
}

/**
 * Removes our copies past their expiry, for every provider of the config. A copy is ours by its
 * name and its marker or tags, which each provider's destroy reads back again before removing it;
 * a copy without a readable expiry is left alone. Several databases of one account see the same
 * copies: each is handled once.
 */
export async function runJanitor(config: RestoreDrillConfig, options: JanitorOptions = {}): Promise<JanitorResult> {
  const now = (options.now ?? (() => new Date()))();
  const result: JanitorResult = { dryRun: options.dryRun ?? false, removed: [], kept: [], failed: [], deferred: [] };
  const seen = new Set<string>();
  for (const database of config.databases) {
    const provider = providerFor(database, options);
    if (!provider.listCopies) continue;
    for (const copy of await provider.listCopies()) {
      const where = database.provider.kind === 'neon' ? `${database.provider.apiBaseUrl ?? ''}:${database.provider.projectId}` : `${'endpoint' in database.provider ? database.provider.endpoint ?? '' : ''}:${'region' in database.provider ? database.provider.region : ''}`;
      const key = `${provider.kind}:${where}:${copy.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const entry: JanitorCopy = { provider: provider.kind, name: copy.name, expiresAt: copy.expiresAt?.toISOString() ?? null };
      if (!copy.expiresAt || copy.expiresAt > now) {
        result.kept.push(entry);
        continue;
      }
      if (result.dryRun) {
        result.removed.push(entry);
        continue;
      }
      try {
        await provider.destroy(copy.handle);
        result.removed.push(entry);
      } catch (error) {
        (error instanceof RemovalDeferredError ? result.deferred : result.failed).push({ ...entry, error: (error as Error).message });
      }
    }
  }
  return result;
}
