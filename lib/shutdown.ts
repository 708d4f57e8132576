/**
 * Work to finish before the process ends on SIGINT or SIGTERM: stop servers, remove copies.
 * The handlers are installed on first use; after the cleanups ran the process exits with
 * 128 + the signal's number (130 for SIGINT, 143 for SIGTERM).
 */
type Cleanup = (signal?: NodeJS.Signals) => Promise<void>;

const cleanups = new Map<symbol, Cleanup>();
let installed = false;
let shuttingDown = false;

const exitCodes = { SIGINT: 130, SIGTERM: 143 } as const;

export function onShutdown(cleanup: Cleanup): () => void {
  install();
  const key = Symbol('cleanup');
  cleanups.set(key, cleanup);
  return () => {
    cleanups.delete(key);
  };
}

export function isShuttingDown(): boolean {
  return shuttingDown;
}

/** Runs every registered cleanup once (also usable by tests and the CLI on its own errors). */
export async function runShutdownCleanups(signal?: NodeJS.Signals): Promise<void> {
  const pending = [...cleanups.values()];
  cleanups.clear();
  await Promise.allSettled(pending.map((cleanup) => cleanup(signal)));
}

/** Installs the SIGINT/SIGTERM handlers now (the CLI does at start, so that a signal at any moment cleans up and exits 130/143). */
export function install(): void {
  if (installed) return;
  installed = true;
  for (const signal of Object.keys(exitCodes) as (keyof typeof exitCodes)[]) {
    process.on(signal, () => {
      if (shuttingDown) return;
      shuttingDown = true;
      // Work that was under way now fails (its server is gone): that must not end the process before the cleanups do.
      process.on('uncaughtException', () => undefined);
      process.on('unhandledRejection', () => undefined);
      if (cleanups.size > 0) process.stderr.write(`\nreceived ${signal}: removing copies and stopping servers before exiting\n`);
      void runShutdownCleanups(signal).finally(() => process.exit(exitCodes[signal]));
    });
  }
}
