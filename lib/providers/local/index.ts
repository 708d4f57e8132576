import { CopyGoneError } from '../../errors.ts';
import type { CopyPoll, RestoreProvider, RestoreWindow } from '../types.ts';
import { destroyCopy, keepCopy, listCopies, pollCopy, POLL_MS, startCopy, type LocalCopyHandle, type StartCopyOptions } from './engine.ts';
import { readWindow } from './plan.ts';

export interface LocalProviderConfig {
  kind: 'local';
  baseBackups: string;
  walArchive?: string | undefined;
  restoreCommand?: string | undefined;
  pgBin?: string | undefined;
  copySettings?: Record<string, string> | undefined;
}

export interface LocalProviderOptions {
  connection: { database: string; user: string };
  /** fsync in copies; off only for test copies nobody times. @default true */
  durable?: boolean;
  /** How often a live drill renews its copy's lease. @default 60000 */
  leaseRenewMs?: number;
}

/** The local provider: base backups and a WAL archive in folders, copies as servers on this machine. */
export function localProvider(config: LocalProviderConfig, options: LocalProviderOptions): RestoreProvider<LocalCopyHandle> {
  const source = { baseBackups: config.baseBackups, walArchive: config.walArchive, restoreCommand: config.restoreCommand };
  return {
    kind: 'local',
    pollIntervalMs: POLL_MS,
    async window(): Promise<RestoreWindow> {
      const { window } = await readWindow(source);
      const notes = [
        ...(window.gap ? [`WAL segment ${window.gap.segment} is missing from the archive: nothing after it can be replayed, so the window ends at the last transaction before it`] : []),
        ...(window.corrupt
          ? [
              `the WAL record at segment ${window.corrupt.segment}, offset 0x${window.corrupt.offset.toString(16).toUpperCase()} is damaged (${window.corrupt.detail}): ` +
                'recovery stops there, so the window ends at the last transaction before it',
            ]
          : []),
        ...window.unusable.map((backup) => `base backup ${backup.name} cannot be used: ${backup.reason}`),
      ];
      return { earliest: window.earliest, latest: window.latest, ...(notes.length ? { note: notes.join('; ') } : {}) };
    },
    ...engineServed(config, options, (request) => startCopy({ source, ...request })),
  };
}

/** What a start asks of the engine, beside its source. */
export type EngineStartRequest = Omit<StartCopyOptions, 'source'>;

/**
 * The part of a provider whose copies the local engine serves (local, pgBackRest): how a drill's start
 * becomes the engine's, and the copy's poll, removal, keeping and listing.
 */
export function engineServed(
  config: { pgBin?: string | undefined; copySettings?: Record<string, string> | undefined },
  options: Pick<LocalProviderOptions, 'connection' | 'durable' | 'leaseRenewMs'>,
  startWith: (request: EngineStartRequest) => Promise<LocalCopyHandle>,
): Omit<RestoreProvider<LocalCopyHandle>, 'kind' | 'pollIntervalMs' | 'window'> {
  return {
    start: ({ target, copyName, expiresAt, keep }) =>
      startWith({
        target,
        name: copyName,
        expiresAt,
        connection: options.connection,
        pgBin: config.pgBin,
        copySettings: config.copySettings,
        durable: options.durable ?? true,
        // Only a drill that says so gets the throwaway recovery path: a kept copy must survive a crash.
        throwaway: keep === false,
        leaseRenewMs: options.leaseRenewMs,
      }),
    poll: (handle): Promise<CopyPoll> => pollCopy(handle),
    destroy: (handle) =>
      destroyCopy(handle.name).catch((error: unknown) => {
        // Removed by someone else before us (drop, the janitor): nothing was left to remove.
        if (error instanceof CopyGoneError) return 'gone' as const;
        throw error;
      }),
    keep: (handle) => keepCopy(handle.name),
    copyNameOf: (handle) => handle.name,
    listCopies: async () => (await listCopies()).map((handle) => ({ name: handle.name, expiresAt: new Date(handle.expiresAt), handle })),
  };
}

export { destroyCopy, listCopies, type LocalCopyHandle } from './engine.ts';
