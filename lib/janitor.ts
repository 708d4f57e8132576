import type { DatabaseConfig, RestoreDrillConfig } from './config/schema.ts';
import { NotOurCopyError, RemovalDeferredError, RestoreDrillError } from './errors.ts';
import { COPY_NAME } from './providers/copyName.ts';
import { providerFor, type ProviderOptions } from './providers/index.ts';
import type { ListedCopy, RestoreProvider } from './providers/types.ts';

export const COPY_NAME_HINT = 'rd-<database>-<yyyymmddhhmmss>-<4 random>';

/**
 * The one guard of what restore-drill may remove, for every provider: a name of our form, listed by
 * its provider among the copies that carry our marker (local), tags (RDS, Aurora) or annotation
 * (Neon). Each provider's destroy reads the mark back once more before it removes anything.
 */
export function isOurCopyName(name: string): boolean {
  return COPY_NAME.test(name);
}

/** The copy of that name among the provider's copies of ours, or undefined. */
export async function findOurCopy(provider: RestoreProvider, name: string): Promise<ListedCopy | undefined> {
  if (!isOurCopyName(name) || !provider.listCopies) return undefined;
  return (await provider.listCopies()).find((listed) => listed.name === name && isOurCopyName(listed.name));
}

/** The configured database a copy name belongs to (rd-<database>-...). */
export function databaseOfCopy(config: Pick<RestoreDrillConfig, 'databases'> | undefined, name: string): DatabaseConfig | undefined {
  const database = /^rd-([a-z][a-z0-9-]*)-\d{14}-[a-z0-9]{4}$/.exec(name)?.[1];
  return database === undefined ? undefined : config?.databases.find((configured) => configured.name === database);
}

export interface DropOptions extends ProviderOptions {
  /** The config, when there is one: RDS, Aurora and Neon copies are found through their database's provider. */
  config?: Pick<RestoreDrillConfig, 'databases'> | undefined;
  /** How a database's provider is made (tests inject one). @default providerFor */
  providerFor?: (database: DatabaseConfig) => RestoreProvider;
  /** Remove a local copy even while the drill that made it still runs (drop --force). */
  force?: boolean;
}

/**
 * Removes one copy a person names (`drop --copy`): only a copy of ours (isOurCopyName, then listed
 * as ours by its database's provider); anything else is refused (NotOurCopyError) and nothing is
 * touched. A local copy is found by its folder in the scratch root, whose marker the local engine reads;
 * one whose maker still runs (a drill in another process) is refused unless `force`.
 */
export async function dropCopy(name: string, options: DropOptions = {}): Promise<{ name: string; provider: string; database?: string }> {
  if (!isOurCopyName(name)) throw new NotOurCopyError(`"${name}" is not a restore-drill copy name (${COPY_NAME_HINT})`);
  const database = databaseOfCopy(options.config, name);
  if (database && database.provider.kind !== 'local') {
    const provider = options.providerFor ? options.providerFor(database) : providerFor(database, options);
    const copy = await findOurCopy(provider, name);
    if (!copy) throw new NotOurCopyError(`${provider.kind} has no copy named ${name} carrying our tags (database ${database.name}'s region and account)`);
    await provider.destroy(copy.handle);
    return { name, provider: provider.kind, database: database.name };
  }
  // Also a folder whose marker was never written (a crash right after it was made): the engine decides by name and place.
  const { destroyCopy } = await import('./providers/local/index.ts');
  if (!options.force) {
    const { liveOwnerOf } = await import('./providers/local/engine.ts');
    const owner = await liveOwnerOf(name);
    if (owner) {
      throw new RestoreDrillError(
        'input',
        `copy ${name} belongs to a drill still running (pid ${owner.pid}${owner.leaseUntil ? `, its lease renewed until ${owner.leaseUntil}` : ''}): ` +
          'removing it would break that drill, and its copy is removed when it ends. Wait for it, or pass --force to remove it anyway',
      );
    }
  }
  await destroyCopy(name);
  return { name, provider: 'local', ...(database ? { database: database.name } : {}) };
}

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
  /** How close each source is to its limit on copies (Neon: branches per project), once per source. */
  capacity: { database: string; provider: string; summary: string }[];
}

/**
 * Removes our copies past their expiry, for every provider of the config. A copy is ours by its
 * name and its marker or tags, which each provider's destroy reads back again before removing it;
 * a copy without a readable expiry is left alone. Several databases of one account see the same
 * copies: each is handled once.
 */
export async function runJanitor(config: RestoreDrillConfig, options: JanitorOptions = {}): Promise<JanitorResult> {
  const now = (options.now ?? (() => new Date()))();
  const result: JanitorResult = { dryRun: options.dryRun ?? false, removed: [], kept: [], failed: [], deferred: [], skipped: [], unlisted: [], capacity: [] };
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
    const where = database.provider.kind === 'neon' ? `${database.provider.apiBaseUrl ?? ''}:${database.provider.projectId}` : `${'endpoint' in database.provider ? database.provider.endpoint ?? '' : ''}:${'region' in database.provider ? database.provider.region : ''}`;
    if (!seen.has(`${provider.kind}:${where}`)) {
      seen.add(`${provider.kind}:${where}`);
      // Copies that failed to go fill a limit (Neon's branches): the janitor says how close it is, never failing for it.
      const summary = await provider.capacity?.().catch((error: unknown) => `its limit could not be read: ${(error as Error).message}`);
      if (summary) result.capacity.push({ database: database.name, provider: provider.kind, summary });
    }
    for (const copy of copies) {
      if (!isOurCopyName(copy.name)) {
        result.skipped.push({ provider: provider.kind, name: copy.name, expiresAt: null, error: `not a restore-drill copy name (${COPY_NAME_HINT}): never removed` });
        continue;
      }
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
