import { setTimeout as delay } from 'node:timers/promises';
import { createApiClient, type Api, type Branch } from '@neondatabase/api-client';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { NeonProviderConfig } from '../../config/schema.ts';
import { ConfigError } from '../../errors.ts';
import { onShutdown } from '../../shutdown.ts';
import { explainNeonFailure, isRetryable, neonFailureOf, NeonApiError } from './errors.ts';

export const NEON_API_BASE_URL = 'https://console.neon.tech/api/v2';

/** What a Neon provider talks to, injected the Powertools way; tests point it at the emulator. */
export interface NeonProviderOptions {
  /** Who the checks connect as in the copy (the branch's roles are its parent's). */
  connection: { database: string; user: string };
  /** The database's name in our config (annotated on the copy). */
  database: string;
  /** A ready client (its key is then the caller's business). */
  client?: Api<unknown>;
  /** Where apiKey.secretArn is read; default a client for the ARN's region. */
  secretsClient?: SecretsManagerClient;
  /** Where apiKey.env is read. @default process.env */
  env?: NodeJS.ProcessEnv;
  /**
   * Retries of 423, 429 and 503 answers: `attempts` calls in all, waits doubling from `baseDelayMs` up to
   * `maxDelayMs` (about a minute in all by default, long enough for another branch's operations to finish).
   * @default { attempts: 8, baseDelayMs: 500, maxDelayMs: 30000 }
   */
  retry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  /**
   * Remove a copy this process started when it gets SIGINT or SIGTERM (the CLI). Never in a Lambda:
   * there the copy outlives the invocation that started it. @default false
   */
  removeOnSignal?: boolean;
  /**
   * Where a copy's compute is reached when the password comes from provider.password (and so no connection
   * URI is asked for): Neon's computes listen on 5432 at the endpoint's host. Tests map it to the emulator's.
   */
  endpointAddress?: (endpointHost: string) => { host: string; port: number };
  now?: () => Date;
}

/** The annotations every copy branch carries; destroy and the janitor read them back. */
export const MANAGED_ANNOTATION = 'restore-drill:managed';
export const EXPIRES_ANNOTATION = 'restore-drill:expires-at';
export const DATABASE_ANNOTATION = 'restore-drill:database';

/** One place that builds the client and calls the API: retries what Neon says is safe to retry, explains the rest. */
export class NeonApi {
  readonly config: NeonProviderConfig;
  readonly options: NeonProviderOptions;
  readonly baseUrl: string;
  private client: Api<unknown> | undefined;
  private password: Promise<string> | undefined;
  private readonly signalCleanups = new Map<string, () => void>();

  constructor(config: NeonProviderConfig, options: NeonProviderOptions) {
    this.config = config;
    this.options = options;
    this.baseUrl = config.apiBaseUrl ?? NEON_API_BASE_URL;
    this.client = options.client;
  }

  /** With removeOnSignal: remove this copy if the process is interrupted before the drill removes or keeps it. */
  removeOnSignal(copyName: string, remove: () => Promise<unknown>): void {
    if (this.options.removeOnSignal) this.signalCleanups.set(copyName, onShutdown(async () => void (await remove())));
  }

  /** The copy was removed, or is kept on purpose: a signal no longer removes it. */
  forgetOnSignal(copyName: string): void {
    this.signalCleanups.get(copyName)?.();
    this.signalCleanups.delete(copyName);
  }

  now(): Date {
    return this.options.now?.() ?? new Date();
  }

  get projectLabel(): string {
    return `project "${this.config.projectId}"`;
  }

  keySource(): string {
    const key = this.config.apiKey;
    return 'env' in key ? `the environment variable ${key.env}` : `the secret ${key.secretArn}`;
  }

  /**
   * Calls the API. 423 (another operation in progress), 429 and 503 are retried with exponential
   * backoff, waiting at least what Retry-After asks; a read (get, list, count) is also retried on 500,
   * 502, 504 and a dropped connection. Anything else becomes a NeonApiError at once.
   */
  async call<T>(action: string, resource: string, send: (client: Api<unknown>) => Promise<{ data: T }>, options: { notFound?: string } = {}): Promise<T> {
    const client = await this.api();
    const attempts = this.options.retry?.attempts ?? 8;
    const base = this.options.retry?.baseDelayMs ?? 500;
    const max = this.options.retry?.maxDelayMs ?? 30_000;
    const safe = /^(get|list|count)/.test(action);
    for (let attempt = 1; ; attempt++) {
      try {
        return (await send(client)).data;
      } catch (error) {
        if (error instanceof NeonApiError) throw error;
        const failure = neonFailureOf(error);
        if (!isRetryable(failure, safe) || attempt >= attempts) {
          throw explainNeonFailure(failure, { action, resource, baseUrl: this.baseUrl, keySource: this.keySource(), attempts: attempt, notFound: options.notFound });
        }
        const backoff = Math.min(max, base * 2 ** (attempt - 1));
        // Retry-After is honoured up to five minutes: a longer wait is better spent failing with a message.
        await delay(Math.max(backoff, Math.min(retryAfterMs(failure.retryAfter, this.now()) ?? 0, 300_000)));
      }
    }
  }

  /** The configured branch (name or id), else the project's default branch. */
  async parentBranch(): Promise<Branch> {
    const wanted = this.config.branch;
    if (wanted && /^br-[a-z0-9-]+$/.test(wanted)) {
      try {
        return (await this.call('getProjectBranch', `branch "${wanted}" of ${this.projectLabel}`, (c) => c.getProjectBranch(this.config.projectId, wanted))).branch;
      } catch (error) {
        // A branch may be *named* br-...: not found as an id, it is looked up by name below.
        if (!(error instanceof NeonApiError && error.status === 404)) throw error;
      }
    }
    const branches = await this.listBranches();
    const found = wanted ? branches.find((b) => b.name === wanted) ?? branches.find((b) => b.id === wanted) : branches.find((b) => b.default);
    if (!found) {
      throw new ConfigError(
        wanted
          ? `Neon ${this.projectLabel} has no branch named "${wanted}" (provider.branch)${/^br-/.test(wanted) ? ' and no branch with that id' : ''}; its branches: ${branches.map((b) => b.name).join(', ') || 'none'}`
          : `Neon ${this.projectLabel} reports no default branch; set provider.branch to the branch to drill`,
      );
    }
    return found;
  }

  /** Every branch of the project (all pages), with its annotations. */
  async listBranches(search?: string): Promise<(Branch & { annotations: Record<string, string> })[]> {
    const result: (Branch & { annotations: Record<string, string> })[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await this.call('listProjectBranches', `the branches of ${this.projectLabel}`, (c) =>
        c.listProjectBranches({ projectId: this.config.projectId, limit: 100, ...(search ? { search } : {}), ...(cursor ? { cursor } : {}) }),
      );
      for (const branch of page.branches) result.push({ ...branch, annotations: page.annotations?.[branch.id]?.value ?? {} });
      const next = page.pagination?.next;
      if (!next || page.branches.length === 0 || next === cursor) return result;
      cursor = next;
    }
  }

  private async api(): Promise<Api<unknown>> {
    this.client ??= createApiClient({ apiKey: await this.readKey(), baseURL: this.baseUrl, timeout: 60_000 });
    return this.client;
  }

  private async readKey(): Promise<string> {
    const key = this.config.apiKey;
    if ('env' in key) {
      const value = (this.options.env ?? process.env)[key.env];
      if (!value) throw new ConfigError(`the Neon API key is read from the environment variable ${key.env} (provider.apiKey.env), which is not set`);
      return value.trim();
    }
    const text = await this.readSecret(key.secretArn, 'the Neon API key', 'provider.apiKey.secretArn');
    // The secret holds the key as plain text, or JSON with an apiKey field; never its text in a message.
    const value = fieldOf(text, 'apiKey');
    if (!value) throw new ConfigError(`secret ${key.secretArn} holds no Neon API key: expected the key as plain text, or JSON {"apiKey": "..."}`);
    return value;
  }

  /**
   * The checks role's password from provider.password, when set: read before any branch is made, so that a
   * missing variable or an unreadable secret costs nothing. Cached for the connections that follow.
   */
  async configuredPassword(): Promise<string | undefined> {
    const source = this.config.password;
    if (!source) return undefined;
    this.password ??= (async () => {
      if ('env' in source) {
        const value = (this.options.env ?? process.env)[source.env];
        if (value === undefined || value === '') throw new ConfigError(`the checks role's password is read from the environment variable ${source.env} (provider.password.env), which is not set: export it`);
        return value;
      }
      const text = await this.readSecret(source.secretArn, "the checks role's password", 'provider.password.secretArn');
      // The plain password, or JSON with a password field (as RDS-managed secrets hold it).
      const value = fieldOf(text, 'password', false);
      if (!value) throw new ConfigError(`secret ${source.secretArn} holds no password: expected the password as plain text, or JSON {"password": "..."}`);
      return value;
    })();
    try {
      return await this.password;
    } catch (error) {
      this.password = undefined;
      throw error;
    }
  }

  /** Where provider.password comes from, for people (never the password). */
  passwordSource(): string | undefined {
    const source = this.config.password;
    if (!source) return undefined;
    return 'env' in source ? `the environment variable ${source.env} (provider.password)` : `the secret ${source.secretArn} (provider.password)`;
  }

  private async readSecret(arn: string, what: string, key: string): Promise<string | undefined> {
    const region = arn.split(':')[3];
    // Loaded here, not statically: see rds/sdk.ts.
    const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
    const secrets = this.options.secretsClient ?? new SecretsManagerClient(region ? { region } : {});
    try {
      return (await secrets.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString;
    } catch (error) {
      throw new ConfigError(`cannot read ${what} from the secret ${arn} (${key}): ${(error as Error).name}: ${(error as Error).message}`);
    }
  }
}

/** A secret's value: its plain text, or one field of its JSON. */
function fieldOf(text: string | undefined, field: string, trim = true): string | undefined {
  const value = trim ? text?.trim() : text;
  if (!value?.trim().startsWith('{')) return value || undefined;
  try {
    const parsed = JSON.parse(value) as Record<string, unknown>;
    return typeof parsed[field] === 'string' && parsed[field] ? (parsed[field] as string) : undefined;
  } catch {
    return undefined;
  }
}

/** Retry-After as milliseconds: delay-seconds or an HTTP date. */
export function retryAfterMs(header: string | undefined, now: Date): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}
