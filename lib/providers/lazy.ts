import type { ProviderConfig } from '../config/schema.ts';
import { POLL_INTERVAL_MS } from './pollInterval.ts';
import type { RestoreProvider } from './types.ts';

/**
 * A provider whose module is loaded at its first asynchronous call: a Lambda function pays at init
 * only for what it runs, and at call time only for the provider it drills. Synchronous, like the
 * provider it stands for: what the drill reads without awaiting is known from the kind alone.
 */
export function lazyProvider(kind: ProviderConfig['kind'], load: () => Promise<RestoreProvider>): RestoreProvider {
  let loaded: RestoreProvider | undefined;
  let loading: Promise<RestoreProvider> | undefined;
  const provider = () => (loading ??= load().then((real) => (loaded = real)));
  return {
    kind,
    pollIntervalMs: POLL_INTERVAL_MS[kind],
    window: async () => (await provider()).window(),
    start: async (request) => (await provider()).start(request),
    poll: async (handle) => (await provider()).poll(handle),
    destroy: async (handle) => (await provider()).destroy(handle),
    keep(handle) {
      if (loaded) loaded.keep?.(handle);
      // Another instance started the copy: a local copy's signal cleanup is held by its module, so forget it there.
      else void provider().then((real) => real.keep?.(handle), () => undefined);
    },
    // Every provider's handle carries the copy's name.
    copyNameOf: (handle) => (handle as { name: string }).name,
    // Always present: where the provider has none, no secrets and no copies, which callers treat alike.
    connectionSecrets: async (connection) => (await (await provider()).connectionSecrets?.(connection)) ?? {},
    listCopies: async () => (await (await provider()).listCopies?.()) ?? [],
    capacity: async () => (await provider()).capacity?.(),
  };
}
