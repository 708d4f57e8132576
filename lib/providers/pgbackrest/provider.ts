import type { PgbackrestProviderConfig } from '../../config/schema.ts';
import { RestoreDrillError } from '../../errors.ts';
import { secretStrings } from '../../util/secrets.ts';
import { POLL_MS, type LocalCopyHandle } from '../local/engine.ts';
import { engineServed } from '../local/index.ts';
import { ensureScratchRoot } from '../local/scratch.ts';
import type { RestoreProvider, RestoreWindow } from '../types.ts';
import { stanzaWorkDir, type PgbackrestSource } from './command.ts';
import { startRepoCopy } from './copy.ts';
import { readRepoWindow } from './plan.ts';

export interface PgbackrestProviderOptions {
  connection: { database: string; user: string };
  database: string;
  /** fsync in copies; off only for test copies nobody times. @default true */
  durable?: boolean;
  /** Reads a Secrets Manager secret (repoCipherPass.secretArn). @default the AWS SDK's */
  secretString?: (arn: string) => Promise<string | undefined>;
  env?: NodeJS.ProcessEnv;
  /** How often a live copy's lease is renewed (the local engine's). */
  leaseRenewMs?: number;
}

/** The stanza and repository of the config, with the cipher passphrase read where it is kept (once it was read, from memory). */
export function sourceOf(config: PgbackrestProviderConfig, options: Pick<PgbackrestProviderOptions, 'secretString' | 'env'> = {}): PgbackrestSource {
  const from = config.repoCipherPass;
  let pass: Promise<string | undefined> | undefined;
  const read = async (): Promise<string | undefined> => {
    if (!from) return undefined;
    if ('env' in from) {
      const value = (options.env ?? process.env)[from.env];
      if (!value) throw new RestoreDrillError('input', `provider.repoCipherPass names the environment variable ${from.env}, which is not set: set it to the repository's cipher passphrase`);
      return value;
    }
    const value = await (options.secretString ?? secretStrings())(from.secretArn);
    if (!value) throw new RestoreDrillError('input', `provider.repoCipherPass: the secret ${from.secretArn} holds no SecretString`);
    return value;
  };
  return {
    stanza: config.stanza,
    config: config.config,
    repo: config.repo,
    command: config.command,
    processMax: config.processMax,
    // A failed read is not kept: the variable may be set, or the secret made, before the next drill.
    cipherPass: from ? () => (pass ??= read().catch((error: unknown) => ((pass = undefined), Promise.reject(error)))) : undefined,
  };
}

/** A pgBackRest repository: the window from pgbackrest info and the archived WAL, copies restored by pgbackrest restore and served by the local engine. */
export function pgbackrestProvider(config: PgbackrestProviderConfig, options: PgbackrestProviderOptions): RestoreProvider<LocalCopyHandle> {
  const source = sourceOf(config, options);
  return {
    kind: 'pgbackrest',
    pollIntervalMs: POLL_MS,
    async window(): Promise<RestoreWindow> {
      await ensureScratchRoot();
      const { window } = await readRepoWindow(source, await stanzaWorkDir(source));
      return { earliest: window.earliest, latest: window.latest, ...(window.note ? { note: window.note } : {}) };
    },
    ...engineServed(config, options, (request) => startRepoCopy({ source, ...request })),
  };
}
