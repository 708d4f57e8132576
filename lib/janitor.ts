import type { RestoreDrillConfig } from './config/schema.ts';
import { RemovalDeferredError } from './errors.ts';
import { providerFor, type ProviderOptions } from './providers/index.ts';
import type { RestoreProvider } from './providers/types.ts';

export interface JanitorOptions extends ProviderOptions {
  /** List what would be removed, remove nothing. */
  dryRun?: boolean;
  now?: () => Date;
  /** How a database's provider is made (tests inject one). @default providerFor */
  providerFor?: (database: RestoreDrillConfig['databases'][number]) => RestoreProvider;
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
  /**
   * Copies whose marker or tag holds an expiry that is not a time (a hand-edited marker): reported,
   * left alone, and the others handled as usual. `drop --copy` removes one on purpose.
   */
  skipped: (JanitorCopy & { error: string })[];
  /** Databases whose copies could not be listed (an unreachable API): the other databases are still handled. */
  unlisted: { database: string; provider: string; error: string }[];
}

/**
 * Removes our copies past their expiry, for every provider of the config. A copy is ours by its
 * name and its marker or tags, which each provider's destroy reads back again before removing it;
 * a copy without a readable expiry is left alone. Several databases of one account see the same
 * copies: each is handled once.
 */
export async function runJanitor(config: RestoreDrillConfig, options: JanitorOptions = {}): Promise<JanitorResult> {
  const now = (options.now ?? (() => new Date()))();
  const result: JanitorResult = { dryRun: options.dryRun ?? false, removed: [], kept: [], failed: [], deferred: [], skipped: [], unlisted: [] };
  const seen = new Set<string>();
  for (const database of config.databases) {
    const provider = options.providerFor ? options.providerFor(database) : providerFor(database, options);
    if (!provider.listCopies) continue;
    let copies: Awaited<ReturnType<NonNullable<RestoreProvider['listCopies']>>>;
    try {
      copies = await provider.listCopies();
    } catch (error) {
      result.unlisted.push({ database: database.name, provider: provider.kind, error: (error as Error).message ?? String(error) });
      continue;
    }
    for (const copy of copies) {
      const where = database.provider.kind === 'neon' ? `${database.provider.apiBaseUrl ?? ''}:${database.provider.projectId}` : `${'endpoint' in database.provider ? database.provider.endpoint ?? '' : ''}:${'region' in database.provider ? database.provider.region : ''}`;
      const key = `${provider.kind}:${where}:${copy.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (copy.expiresAt && Number.isNaN(copy.expiresAt.getTime())) {
        // One unreadable expiry must not stop the janitor (toISOString throws a RangeError on it).
        const written = (copy.handle as { expiresAt?: unknown } | null)?.expiresAt;
        const shown = typeof written === 'string' ? JSON.stringify(written) : 'its expiry';
        result.skipped.push({ provider: provider.kind, name: copy.name, expiresAt: null, error: `its marker's expiresAt ${shown} is not a time: left alone; remove it with restore-drill drop --copy ${copy.name}` });
        continue;
      }
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
