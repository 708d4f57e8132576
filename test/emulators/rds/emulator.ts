import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect as tcpConnect, createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { copyName } from '../../../lib/providers/copyName.ts';
import { destroyCopy, pollCopy, startCopy, type LocalCopyHandle } from '../../../lib/providers/local/engine.ts';
import { readWindow, type LocalSource } from '../../../lib/providers/local/plan.ts';
import type { CopyTarget } from '../../../lib/providers/types.ts';
import { credentialScopeOf } from '../../support/iam/accessKeys.ts';
import type { IamAuthority } from '../../support/iam/authority.ts';
import { kmsAuthorizations } from '../../support/iam/kms.ts';
import { rdsAuthorizations, type RdsInventory } from '../../support/iam/rds.ts';
import { getSecretValueAuthorization } from '../../support/iam/services.ts';
import { CLUSTER_FAILED_OUTCOMES, INSTANCE_FAILED_OUTCOMES, isValidMarker, lastUpload, page, UNREACHABLE_STATUSES, type LifecycleStep, type RdsBehaviour } from './behaviour.ts';
import { seededRandom } from '../../support/random.ts';
import type { TestCa } from './tls.ts';
import { errorDocument, QueryParams, RDS_API_VERSION, responseDocument, xmlList, type XmlNode } from './wire.ts';

export interface Tag {
  Key: string;
  Value: string;
}

export interface InstanceRecord {
  id: string;
  arn: string;
  resourceId: string;
  status: string;
  instanceClass: string;
  engine: string;
  engineVersion: string;
  masterUsername: string;
  dbName: string;
  address?: string;
  port?: number;
  createdAt: Date;
  tags: Tag[];
  subnetGroup?: string;
  securityGroupIds: string[];
  publiclyAccessible: boolean;
  multiAZ: boolean;
  deletionProtection: boolean;
  backupRetentionPeriod: number;
  iamAuth: boolean;
  clusterId?: string;
  /** The customer-managed KMS key the storage is encrypted with (sources; copies inherit it). */
  kmsKeyId?: string;
  parameterGroup?: string;
  /** The statuses the copy goes through after its data is there, from `from` on. */
  lifecycle?: { steps: readonly LifecycleStep[]; from: number };
  /** Describe by identifier answers NotFound this many more times (eventual consistency after a create). */
  notFoundLeft?: number;
  /** Copies: the TCP front of the local restore, which refuses connections while RDS would. */
  proxy?: TcpServer;
  sharedKey?: string | undefined;
  /** Source instances: their backups and archive. */
  source?: LocalSource;
  /** Copies: the local restore that plays the copy (for a cluster's instance, the cluster's). */
  local?: LocalCopyHandle;
}

export interface ClusterRecord {
  id: string;
  arn: string;
  resourceId: string;
  status: string;
  engine: string;
  engineVersion: string;
  masterUsername: string;
  dbName: string;
  address?: string;
  port?: number;
  createdAt: Date;
  tags: Tag[];
  subnetGroup?: string;
  securityGroupIds: string[];
  deletionProtection: boolean;
  iamAuth: boolean;
  members: string[];
  kmsKeyId?: string;
  clusterParameterGroup?: string;
  serverlessV2?: { min: number; max: number };
  lifecycle?: { steps: readonly LifecycleStep[]; from: number };
  notFoundLeft?: number;
  proxy?: TcpServer;
  sharedKey?: string | undefined;
  source?: LocalSource;
  local?: LocalCopyHandle;
}

interface ClusterBackupRecord {
  resourceId: string;
  clusterId: string;
  status: 'active' | 'retained';
  source: LocalSource;
  engineVersion: string;
  masterUsername: string;
  createdAt: Date;
  kmsKeyId?: string | undefined;
}

interface AutomatedBackupRecord {
  resourceId: string;
  instanceId: string;
  instanceArn: string;
  status: 'active' | 'retained';
  source: LocalSource;
  engineVersion: string;
  masterUsername: string;
  createdAt: Date;
  kmsKeyId?: string | undefined;
}

export interface RequestRecord {
  at: Date;
  action: string;
  params: Record<string, string>;
  /** The error code answered, if any. */
  error?: string;
  /** Why IAM refused it: the authorisation that failed and the statements that came close. */
  denied?: string;
}

/**
 * How a restore ends: a status RDS gives a failed restore of that kind of resource (instances and
 * clusters have different ones: see behaviour.ts), or never leaving `creating`.
 */
export type RestoreOutcome = (typeof INSTANCE_FAILED_OUTCOMES)[number] | (typeof CLUSTER_FAILED_OUTCOMES)[number] | 'never';

export interface RdsEmulatorOptions {
  /** The CA and server certificate the copies serve TLS with. */
  tls: TestCa;
  region?: string;
  accountId?: string;
  /** Extra time in `creating` before a restore starts, and in `deleting` before a resource is gone. */
  delays?: { createMs?: number; deleteMs?: number };
  log?: (line: string) => void;
  /**
   * Who may call what: every RDS and Secrets Manager request is authorised against the caller's
   * policies before it acts. Without one, no IAM is checked (rdsWorld() gives the CLI's user).
   */
  iam?: IamAuthority;
  /** Production behaviour: lags, lifecycles, eventual consistency, pages (behaviour.ts). */
  behaviour?: RdsBehaviour;
  /** The account's quotas: instances, clusters, and total allocated storage (GiB; each instance 20). */
  quotas?: { instances?: number; clusters?: number; storageGb?: number };
  /** Parameter groups that exist beside the default ones. */
  parameterGroups?: { db?: string[]; cluster?: string[] };
  /**
   * Copies of one source to one point share one local restore (reference-counted): what a test of
   * many drills needs to keep the machine's cost per copy low. Each copy still has its own endpoint.
   */
  shareRestores?: boolean;
}

/** What the emulator answers where AWS refuses: the HTTP status and the documented code. */
class RdsFault extends Error {
  readonly code: string;
  readonly status: number;

  constructor(code: string, message: string, status = 400) {
    super(message);
    this.name = 'RdsFault';
    this.code = code;
    this.status = status;
  }
}

const MUTATING = /^(Create|Delete|Restore|Modify|Add|Remove|Start|Stop|Reboot|Promote|Failover|Copy)/;
/** The parameters the API reference marks required: RDS rejects a request without them before it authorises it. */
const REQUIRED: Record<string, readonly string[]> = {
  DescribeDBInstances: [],
  DescribeDBClusters: [],
  DescribeDBInstanceAutomatedBackups: [],
  DescribeDBClusterAutomatedBackups: [],
  ListTagsForResource: ['ResourceName'],
  AddTagsToResource: ['ResourceName', 'Tags'],
  RestoreDBInstanceToPointInTime: ['TargetDBInstanceIdentifier'],
  RestoreDBClusterToPointInTime: ['DBClusterIdentifier'],
  CreateDBInstance: ['DBInstanceIdentifier', 'DBInstanceClass', 'Engine'],
  DeleteDBInstance: ['DBInstanceIdentifier'],
  DeleteDBCluster: ['DBClusterIdentifier'],
};
/** States in which RDS answers DeleteDBInstance with InvalidDBInstanceState. */
const NO_DELETE_STATES = new Set(['backing-up', 'modifying', 'rebooting', 'renaming', 'resetting-master-credentials', 'upgrading', 'starting', 'stopping', 'maintenance', 'deleting']);
const IDENTIFIER = /^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,62}(?<!-)$/;

/**
 * A stand-in for the RDS Query API (and Secrets Manager's GetSecretValue) on loopback. Instances and
 * clusters live in memory; a source is a local source cluster's backups and WAL archive; a restore is
 * a real point-in-time restore by the local engine, served over TLS with the test CA's certificate.
 */
export class RdsEmulator {
  readonly region: string;
  readonly accountId: string;
  readonly requests: RequestRecord[] = [];
  readonly instances = new Map<string, InstanceRecord>();
  readonly clusters = new Map<string, ClusterRecord>();
  readonly delays: { createMs: number; deleteMs: number };
  readonly faults: {
    /** Answer `Throttling` to the next N calls of an action. */
    throttle: Map<string, number>;
    /** How the next restore (instance or cluster) ends. */
    nextRestore?: RestoreOutcome | undefined;
    /** How every restore whose identifier starts with the key ends (copies run side by side: rd-<database>-). */
    restoreOutcomes: Map<string, RestoreOutcome>;
    /** Answer InvalidDBInstanceState to the next N DeleteDBInstance calls of copies. */
    refuseDeletes: number;
    /** Actions the caller's IAM policy does not allow (AccessDenied, 403). */
    denied: Set<string>;
    /** The next N restores (instance or cluster) create their copy, then answer 500 InternalFailure (the SDK retries). */
    failAfterCreate: number;
    /** Answer InvalidDBClusterStateFault to the next N DeleteDBInstance calls of an Aurora member. */
    refuseMemberDeletes: number;
    /** Instance classes (and `cluster` for cluster restores) AWS has no capacity for right now. */
    noCapacity: Set<string>;
    /** Answer `Throttling` to this share of all calls (seeded draws), after IAM. */
    throttleRate: number;
  } = { throttle: new Map(), restoreOutcomes: new Map(), refuseDeletes: 0, denied: new Set(), failAfterCreate: 0, refuseMemberDeletes: 0, noCapacity: new Set(), throttleRate: 0 };
  /** Every Throttling the emulator answered. */
  throttled = 0;
  readonly behaviour: RdsBehaviour;
  readonly quotas: { instances?: number; clusters?: number; storageGb?: number };
  readonly parameterGroups: { db: Set<string>; cluster: Set<string> };
  private readonly shareRestores: boolean;
  private readonly shared = new Map<string, { local: Promise<LocalCopyHandle>; users: number }>();
  private readonly random: () => number;
  private readonly automatedBackups: AutomatedBackupRecord[] = [];
  private readonly clusterBackups: ClusterBackupRecord[] = [];
  private readonly secrets = new Map<string, { name: string; value: string; previous?: string; tags: Tag[] }>();
  /** Who may call what (see RdsEmulatorOptions.iam); a test may swap it at any time. */
  iam: IamAuthority | undefined;
  private readonly tls: TestCa;
  private readonly log: (line: string) => void;
  private readonly pending = new Set<Promise<void>>();
  private server: Server | undefined;
  private stopped = false;
  url = '';

  constructor(options: RdsEmulatorOptions) {
    this.tls = options.tls;
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '123456789012';
    this.delays = { createMs: options.delays?.createMs ?? 0, deleteMs: options.delays?.deleteMs ?? 0 };
    this.log = options.log ?? (() => undefined);
    this.iam = options.iam;
    this.behaviour = options.behaviour ?? {};
    this.random = seededRandom(this.behaviour.seed ?? 1);
    this.quotas = options.quotas ?? {};
    this.parameterGroups = { db: new Set(options.parameterGroups?.db ?? []), cluster: new Set(options.parameterGroups?.cluster ?? []) };
    this.shareRestores = options.shareRestores ?? false;
  }

  private now(): Date {
    return this.behaviour.clock?.() ?? new Date();
  }

  async start(port = 0): Promise<string> {
    this.server = createServer((request, response) => void this.handle(request, response));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  /** Closes the API and removes every copy's local restore. */
  async stop(): Promise<void> {
    this.stopped = true;
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await Promise.allSettled([...this.pending]);
    // A cluster's instances share its local restore: the cluster removes it.
    for (const record of [...this.instances.values(), ...this.clusters.values()]) record.proxy?.close();
    await Promise.allSettled([...this.clusters.values(), ...[...this.instances.values()].filter((r) => !r.clusterId)].map((r) => this.discard(r)));
    await Promise.allSettled([...this.shared.values()].map(async (entry) => destroyCopy((await entry.local).name).catch(() => undefined)));
  }

  /** A source instance; `backupRetentionPeriod: 0` is one with automated backups off (no window, no automated backup). */
  addSourceInstance(options: { id: string; source: LocalSource; engineVersion: string; masterUsername?: string; dbName?: string; tags?: Tag[]; kmsKeyId?: string; backupRetentionPeriod?: number }): InstanceRecord {
    const record: InstanceRecord = {
      ...this.newInstance(options.id, 'available'),
      engineVersion: options.engineVersion,
      masterUsername: options.masterUsername ?? 'postgres',
      dbName: options.dbName ?? 'postgres',
      tags: options.tags ?? [],
      backupRetentionPeriod: options.backupRetentionPeriod ?? 7,
      address: `${options.id}.emulated.rds.amazonaws.com`,
      port: 5432,
      ...(options.kmsKeyId ? { kmsKeyId: options.kmsKeyId } : {}),
    };
    this.instances.set(record.id, record);
    if (record.backupRetentionPeriod === 0) return record;
    record.source = options.source;
    this.automatedBackups.push({
      resourceId: record.resourceId,
      instanceId: record.id,
      instanceArn: record.arn,
      status: 'active',
      source: options.source,
      engineVersion: record.engineVersion,
      masterUsername: record.masterUsername,
      createdAt: record.createdAt,
      kmsKeyId: record.kmsKeyId,
    });
    return record;
  }

  addSourceCluster(options: { id: string; source: LocalSource; engineVersion: string; masterUsername?: string; dbName?: string; kmsKeyId?: string; serverlessV2?: { min: number; max: number } }): ClusterRecord {
    const record: ClusterRecord = {
      ...this.newCluster(options.id, 'available'),
      engineVersion: options.engineVersion,
      masterUsername: options.masterUsername ?? 'postgres',
      dbName: options.dbName ?? 'postgres',
      source: options.source,
      address: `${options.id}.cluster-emulated.rds.amazonaws.com`,
      port: 5432,
      ...(options.kmsKeyId ? { kmsKeyId: options.kmsKeyId } : {}),
      ...(options.serverlessV2 ? { serverlessV2: options.serverlessV2 } : {}),
    };
    this.clusters.set(record.id, record);
    this.clusterBackups.push({
      resourceId: record.resourceId,
      clusterId: record.id,
      status: 'active',
      source: options.source,
      engineVersion: record.engineVersion,
      masterUsername: record.masterUsername,
      createdAt: record.createdAt,
      kmsKeyId: record.kmsKeyId,
    });
    return record;
  }

  /** The bad day for Aurora: the source cluster is gone, its automated backups are retained. */
  deleteSourceClusterKeepingBackups(id: string): void {
    this.clusters.delete(id);
    for (const backup of this.clusterBackups) if (backup.clusterId === id) backup.status = 'retained';
  }

  /** Something that is not ours: an instance with no server, any name and tags. */
  addOtherInstance(options: { id: string; tags?: Tag[]; status?: string }): InstanceRecord {
    const record: InstanceRecord = { ...this.newInstance(options.id, options.status ?? 'available'), tags: options.tags ?? [] };
    this.instances.set(record.id, record);
    return record;
  }

  /** The bad day: the source instance is gone, its automated backups are retained. */
  deleteSourceInstanceKeepingBackups(id: string): void {
    this.instances.delete(id);
    for (const backup of this.automatedBackups) if (backup.instanceId === id) backup.status = 'retained';
  }

  /** Rotation: the new value becomes AWSCURRENT, the old one AWSPREVIOUS (the database itself is not touched). */
  rotateSecret(arn: string, value: Record<string, string>): void {
    const secret = this.secrets.get(arn)!;
    this.secrets.set(arn, { name: secret.name, value: JSON.stringify(value), previous: secret.value, tags: secret.tags });
  }

  addSecret(name: string, value: Record<string, string>, options: { tags?: Tag[] } = {}): string {
    const arn = `arn:aws:secretsmanager:${this.region}:${this.accountId}:secret:${name}-${randomUUID().slice(0, 6)}`;
    this.secrets.set(arn, { name, value: JSON.stringify(value), tags: options.tags ?? [] });
    return arn;
  }

  /**
   * Mutating calls that act on one of these identifiers (or ARNs, resource ids): any parameter that
   * names a resource (…Identifier, ResourceName, …Arn, …ResourceId) except a restore's Source….
   */
  mutatingCallsOn(identifiers: readonly string[]): RequestRecord[] {
    const namesResource = (key: string) => !key.startsWith('Source') && /(Identifier|ResourceName|Arn|ResourceId)$/i.test(key);
    return this.requests.filter(
      (request) =>
        MUTATING.test(request.action) &&
        Object.entries(request.params).some(([key, value]) => namesResource(key) && identifiers.some((id) => value === id || value.endsWith(`:${id}`))),
    );
  }

  calls(action: string): RequestRecord[] {
    return this.requests.filter((request) => request.action === action);
  }

  /** Resolves once no instance or cluster with this identifier is left (deletes finish after deleteMs). */
  async gone(id: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.instances.has(id) || this.clusters.has(id)) {
      if (Date.now() > deadline) throw new Error(`${id} is still there after ${timeoutMs} ms`);
      await delay(20);
    }
  }

  private newInstance(id: string, status: string): InstanceRecord {
    return {
      id,
      arn: `arn:aws:rds:${this.region}:${this.accountId}:db:${id}`,
      resourceId: `db-${randomUUID().replace(/-/g, '').slice(0, 26).toUpperCase()}`,
      status,
      instanceClass: 'db.t4g.medium',
      engine: 'postgres',
      engineVersion: '15',
      masterUsername: 'postgres',
      dbName: 'postgres',
      createdAt: new Date(),
      tags: [],
      securityGroupIds: ['sg-source0000000000'],
      subnetGroup: 'default',
      publiclyAccessible: false,
      multiAZ: false,
      deletionProtection: false,
      backupRetentionPeriod: 0,
      iamAuth: false,
    };
  }

  private newCluster(id: string, status: string): ClusterRecord {
    return {
      id,
      arn: `arn:aws:rds:${this.region}:${this.accountId}:cluster:${id}`,
      resourceId: `cluster-${randomUUID().replace(/-/g, '').slice(0, 26).toUpperCase()}`,
      status,
      engine: 'aurora-postgresql',
      engineVersion: '15',
      masterUsername: 'postgres',
      dbName: 'postgres',
      createdAt: new Date(),
      tags: [],
      securityGroupIds: ['sg-source0000000000'],
      subnetGroup: 'default',
      deletionProtection: false,
      iamAuth: false,
      members: [],
    };
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const requestId = randomUUID();
    const target = request.headers['x-amz-target'];
    if (typeof target === 'string' && target.startsWith('secretsmanager.')) {
      await this.secretsManager(target, body, request.headers.authorization, requestId, response);
      return;
    }
    const params = new QueryParams(request.method === 'POST' ? body : (request.url ?? '').replace(/^[^?]*\??/, ''));
    const action = params.string('Action') ?? '';
    const record: RequestRecord = { at: new Date(), action, params: params.toObject() };
    this.requests.push(record);
    try {
      if (request.method !== 'POST') throw new RdsFault('InvalidAction', 'The RDS Query API is called with POST.');
      if (params.string('Version') !== RDS_API_VERSION) {
        throw new RdsFault('InvalidParameterValue', `Version ${params.string('Version') ?? '(none)'} is not supported; use ${RDS_API_VERSION}.`);
      }
      const required = Object.hasOwn(REQUIRED, action) ? REQUIRED[action] : undefined;
      if (!required) throw new RdsFault('InvalidAction', `The action ${action || '(none)'} is not valid for this web service.`);
      for (const name of required) requiredParameter(params, name);
      const caller = credentialScopeOf(request.headers.authorization)?.accessKeyId;
      if (this.faults.denied.has(action)) {
        const who = this.iam?.principal(caller)?.arn ?? `arn:aws:sts::${this.accountId}:assumed-role/restore-drill/cli`;
        throw new RdsFault('AccessDenied', `User: ${who} is not authorized to perform: rds:${action} because no identity-based policy allows the rds:${action} action`, 403);
      }
      await this.authorizeRds(action, params, request.headers.authorization, record);
      const throttled = this.faults.throttle.get(action) ?? 0;
      if (throttled > 0) {
        this.faults.throttle.set(action, throttled - 1);
        this.throttled++;
        throw new RdsFault('Throttling', 'Rate exceeded');
      }
      if (this.faults.throttleRate > 0 && this.random() < this.faults.throttleRate) {
        this.throttled++;
        throw new RdsFault('Throttling', 'Rate exceeded');
      }
      const result = await this.dispatch(action, params, caller);
      this.log(`${action} ${params.string('DBInstanceIdentifier') ?? params.string('DBClusterIdentifier') ?? params.string('TargetDBInstanceIdentifier') ?? ''}`);
      response.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
      response.end(responseDocument(action, result, requestId));
    } catch (error) {
      const fault = error instanceof RdsFault ? error : new RdsFault('InternalFailure', (error as Error).message, 500);
      record.error = fault.code;
      this.log(`${action} -> ${fault.code}: ${fault.message}`);
      response.writeHead(fault.status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
      response.end(errorDocument(fault.status >= 500 ? 'Receiver' : 'Sender', fault.code, fault.message, requestId));
    }
  }

  /** IAM, as RDS applies it: every resource the call involves, with the request's and the resources' tags. */
  private async authorizeRds(action: string, params: QueryParams, authorization: string | undefined, record: RequestRecord): Promise<void> {
    if (!this.iam) return;
    const caller = credentialScopeOf(authorization);
    if (!caller) throw new RdsFault('MissingAuthenticationToken', 'Request must contain either a valid (registered) AWS access key ID or X.509 certificate.', 403);
    const answer = await this.iam.authorize(caller.accessKeyId, rdsAuthorizations(action, params, this.inventory()), { region: this.region });
    if (answer.allowed) return;
    record.denied = answer.reason;
    this.log(`${action} refused by IAM: ${answer.reason}`);
    throw new RdsFault(answer.code, answer.message, 403);
  }

  /** What RDS knows about its resources when it authorises a call. */
  inventory(): RdsInventory {
    const view = (record: InstanceRecord | ClusterRecord | undefined) =>
      record && { arn: record.arn, tags: record.tags, engine: record.engine, engineVersion: record.engineVersion, subnetGroup: record.subnetGroup };
    return {
      region: this.region,
      accountId: this.accountId,
      instance: (id) => view(this.instances.get(id)),
      cluster: (id) => view(this.clusters.get(id)),
      instanceBackup: (resourceId) => {
        const backup = this.automatedBackups.find((b) => b.resourceId === resourceId);
        return backup && { arn: this.instanceBackupArn(backup.resourceId), engineVersion: backup.engineVersion };
      },
      clusterBackup: (resourceId) => {
        const backup = this.clusterBackups.find((b) => b.resourceId === resourceId);
        return backup && { arn: this.clusterBackupArn(backup.resourceId), engineVersion: backup.engineVersion };
      },
      tagsOf: (arn) => [...this.instances.values(), ...this.clusters.values()].find((r) => r.arn === arn)?.tags,
    };
  }

  private instanceBackupArn(resourceId: string): string {
    return `arn:aws:rds:${this.region}:${this.accountId}:auto-backup:ab-${resourceId.slice(3).toLowerCase()}`;
  }

  private clusterBackupArn(resourceId: string): string {
    return `arn:aws:rds:${this.region}:${this.accountId}:cluster-auto-backup:cab-${resourceId.slice(8).toLowerCase()}`;
  }

  private async secretsManager(target: string, body: string, authorization: string | undefined, requestId: string, response: ServerResponse): Promise<void> {
    const input = JSON.parse(body || '{}') as { SecretId?: string; VersionStage?: string; VersionId?: string };
    const record: RequestRecord = { at: new Date(), action: target, params: { SecretId: input.SecretId ?? '', ...(input.VersionStage ? { VersionStage: input.VersionStage } : {}) } };
    this.requests.push(record);
    const answer = (status: number, value: unknown) => {
      if (status >= 400) record.error = (value as { __type: string }).__type;
      response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId });
      response.end(JSON.stringify(value));
    };
    if (target !== 'secretsmanager.GetSecretValue') return answer(400, { __type: 'InvalidRequestException', message: `${target} is not emulated` });
    const entry = [...this.secrets].find(([arn, secret]) => arn === input.SecretId || secret.name === input.SecretId);
    if (this.iam) {
      const caller = credentialScopeOf(authorization);
      if (!caller) return answer(400, { __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' });
      const verdict = await this.iam.authorize(caller.accessKeyId, [getSecretValueAuthorization(input, entry && { arn: entry[0], tags: entry[1].tags }, this)], { region: this.region });
      if (!verdict.allowed) {
        record.denied = verdict.reason;
        this.log(`${target} refused by IAM: ${verdict.reason}`);
        return verdict.code === 'InvalidClientTokenId'
          ? answer(400, { __type: 'UnrecognizedClientException', message: verdict.message })
          : answer(400, { __type: 'AccessDeniedException', message: verdict.message });
      }
    }
    if (!entry) return answer(400, { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." });
    const [arn, secret] = entry;
    const stage = input.VersionStage ?? 'AWSCURRENT';
    const value = stage === 'AWSCURRENT' ? secret.value : stage === 'AWSPREVIOUS' ? secret.previous : undefined;
    if (value === undefined) {
      return answer(400, { __type: 'ResourceNotFoundException', message: `Secrets Manager can't find the specified secret value for staging label: ${stage}` });
    }
    answer(200, { ARN: arn, Name: secret.name, SecretString: value, VersionId: requestId, VersionStages: [stage], CreatedDate: Date.now() / 1000 });
  }

  private async dispatch(action: string, params: QueryParams, caller: string | undefined): Promise<XmlNode[] | null> {
    switch (action) {
      case 'DescribeDBInstances': {
        const id = params.string('DBInstanceIdentifier');
        const list = id ? [this.visible(this.instance(id), 'DBInstanceNotFound', `DBInstance ${id} not found.`)] : [...this.instances.values()];
        const { items, marker } = this.paged(params, list);
        await this.refreshWindows(items);
        return [['DBInstances', xmlList('DBInstance', items, (r) => this.instanceXml(r))], ['Marker', marker]];
      }
      case 'DescribeDBClusters': {
        const id = params.string('DBClusterIdentifier');
        const list = id ? [this.visible(this.cluster(id), 'DBClusterNotFoundFault', `DBCluster ${id} not found.`)] : [...this.clusters.values()];
        const { items, marker } = this.paged(params, list);
        await this.refreshWindows(items);
        return [['DBClusters', xmlList('DBCluster', items, (r) => this.clusterXml(r))], ['Marker', marker]];
      }
      case 'DescribeDBInstanceAutomatedBackups':
        return this.describeAutomatedBackups(params);
      case 'DescribeDBClusterAutomatedBackups':
        return this.describeClusterBackups(params);
      case 'ListTagsForResource':
        return [['TagList', tagsXml(this.byArn(required(params, 'ResourceName')).tags)]];
      case 'AddTagsToResource': {
        const resource = this.byArn(required(params, 'ResourceName'));
        const added = tagsOf(params);
        resource.tags = [...resource.tags.filter((tag) => !added.some((a) => a.Key === tag.Key)), ...added];
        return null;
      }
      case 'RestoreDBInstanceToPointInTime':
        return this.restoreInstance(params, caller);
      case 'RestoreDBClusterToPointInTime':
        return this.restoreCluster(params, caller);
      case 'CreateDBInstance':
        return this.createInstance(params);
      case 'DeleteDBInstance':
        return this.deleteInstance(params);
      case 'DeleteDBCluster':
        return this.deleteCluster(params);
      default:
        throw new RdsFault('InvalidAction', `The action ${action || '(none)'} is not valid for this web service.`);
    }
  }

  /** Eventual consistency: a resource just created is not yet visible to Describe by its identifier. */
  private visible<T extends InstanceRecord | ClusterRecord>(record: T, code: string, message: string): T {
    if ((record.notFoundLeft ?? 0) > 0) {
      record.notFoundLeft!--;
      throw new RdsFault(code, message, 404);
    }
    return record;
  }

  /** MaxRecords (20 to 100, as the API reference allows) and Marker, at most the behaviour's page size. */
  private paged<T>(params: QueryParams, list: readonly T[]): { items: T[]; marker?: string | undefined } {
    const maxRecords = params.int('MaxRecords') ?? 100;
    if (!Number.isInteger(maxRecords) || maxRecords < 20 || maxRecords > 100) {
      throw new RdsFault('InvalidParameterValue', `Invalid value ${params.string('MaxRecords')} for MaxRecords. Must be between 20 and 100`);
    }
    const marker = params.string('Marker');
    if (marker !== undefined && !isValidMarker(marker)) throw new RdsFault('InvalidParameterValue', `Invalid marker: ${marker}`);
    return page(list, marker, maxRecords, this.behaviour.pageSize ?? 100);
  }

  /** A copy's status now: its lifecycle after the restore, step by step in time (the last step holds). */
  private statusOf(record: InstanceRecord | ClusterRecord): string {
    const lifecycle = record.lifecycle;
    if (!lifecycle || record.status === 'deleting') return record.status;
    let elapsed = Date.now() - lifecycle.from;
    for (const [index, step] of lifecycle.steps.entries()) {
      if (index === lifecycle.steps.length - 1 || elapsed < step.ms) {
        record.status = step.status;
        break;
      }
      elapsed -= step.ms;
    }
    return record.status;
  }

  private byArn(arn: string): InstanceRecord | ClusterRecord {
    const resource = [...this.instances.values(), ...this.clusters.values()].find((r) => r.arn === arn);
    if (resource) return resource;
    throw arn.includes(':cluster:') ? new RdsFault('DBClusterNotFoundFault', `DBCluster ${arn} not found.`, 404) : new RdsFault('DBInstanceNotFound', `DBInstance ${arn} not found.`, 404);
  }

  private instance(id: string): InstanceRecord {
    const record = this.instances.get(id);
    if (!record) throw new RdsFault('DBInstanceNotFound', `DBInstance ${id} not found.`, 404);
    return record;
  }

  private cluster(id: string): ClusterRecord {
    const record = this.clusters.get(id);
    if (!record) throw new RdsFault('DBClusterNotFoundFault', `DBCluster ${id} not found.`, 404);
    return record;
  }

  private describeAutomatedBackups(params: QueryParams): Promise<XmlNode[]> {
    const resourceId = params.string('DbiResourceId');
    const instanceId = params.string('DBInstanceIdentifier');
    // The API reference: DBInstanceIdentifier must name an existing instance; a deleted one's retained
    // backups are found by DbiResourceId (or in the list of all of them).
    const live = instanceId ? this.instances.get(instanceId) : undefined;
    const list = this.automatedBackups.filter(
      (b) => (!resourceId || b.resourceId.toLowerCase() === resourceId.toLowerCase()) && (!instanceId || (live !== undefined && b.resourceId === live.resourceId && b.status === 'active')),
    );
    if ((resourceId || instanceId) && list.length === 0) {
      throw new RdsFault('DBInstanceAutomatedBackupNotFound', `No automated backup found for ${resourceId ?? instanceId}.`, 404);
    }
    const { items, marker } = this.paged(params, list);
    return this.automatedBackupsXml(items, marker);
  }

  private async describeClusterBackups(params: QueryParams): Promise<XmlNode[]> {
    const resourceId = params.string('DbClusterResourceId');
    const clusterId = params.string('DBClusterIdentifier');
    const live = clusterId ? this.clusters.get(clusterId) : undefined;
    const list = this.clusterBackups.filter(
      (b) => (!resourceId || b.resourceId.toLowerCase() === resourceId.toLowerCase()) && (!clusterId || (live !== undefined && b.resourceId === live.resourceId && b.status === 'active')),
    );
    if ((resourceId || clusterId) && list.length === 0) {
      throw new RdsFault('DBClusterAutomatedBackupNotFoundFault', `No automated backup found for ${resourceId ?? clusterId}.`, 404);
    }
    const paged = this.paged(params, list);
    const items: XmlNode[] = [];
    for (const backup of paged.items) {
      const window = await this.windowOf(backup.source);
      items.push([
        'DBClusterAutomatedBackup',
        [
          ['Engine', 'aurora-postgresql'],
          ['VpcId', 'vpc-emulated'],
          ['DBClusterAutomatedBackupsArn', this.clusterBackupArn(backup.resourceId)],
          ['DBClusterIdentifier', backup.clusterId],
          ['RestoreWindow', [['EarliestTime', window.earliest], ['LatestTime', window.latest]]],
          ['MasterUsername', backup.masterUsername],
          ['DbClusterResourceId', backup.resourceId],
          ['Region', this.region],
          ['Status', backup.status],
          ['ClusterCreateTime', backup.createdAt],
          ['EngineVersion', backup.engineVersion],
          ['Port', 5432],
          ['BackupRetentionPeriod', 7],
        ],
      ]);
    }
    return [['DBClusterAutomatedBackups', items], ['Marker', paged.marker]];
  }

  private async automatedBackupsXml(list: AutomatedBackupRecord[], marker: string | undefined): Promise<XmlNode[]> {
    const items: XmlNode[] = [];
    for (const backup of list) {
      const window = await this.windowOf(backup.source);
      items.push([
        'DBInstanceAutomatedBackup',
        [
          ['DBInstanceArn', backup.instanceArn],
          ['DbiResourceId', backup.resourceId],
          ['Region', this.region],
          ['DBInstanceIdentifier', backup.instanceId],
          ['RestoreWindow', [['EarliestTime', window.earliest], ['LatestTime', window.latest]]],
          ['Status', backup.status],
          ['Port', 5432],
          ['InstanceCreateTime', backup.createdAt],
          ['MasterUsername', backup.masterUsername],
          ['Engine', 'postgres'],
          ['EngineVersion', backup.engineVersion],
          ['BackupRetentionPeriod', 7],
          ['DBInstanceAutomatedBackupsArn', this.instanceBackupArn(backup.resourceId)],
        ],
      ]);
    }
    return [['DBInstanceAutomatedBackups', items], ['Marker', marker]];
  }

  /**
   * RDS restores an encrypted source's copy with the source's key, on the caller's behalf: the caller
   * must be allowed kms:CreateGrant and kms:DescribeKey on that key through RDS (kms:ViaService), or
   * the restore is KMSKeyNotAccessibleFault.
   */
  private async authorizeKms(kmsKeyId: string | undefined, caller: string | undefined): Promise<void> {
    if (!kmsKeyId || !this.iam) return;
    const context = { 'kms:ViaService': `rds.${this.region}.amazonaws.com`, 'kms:CallerAccount': this.accountId };
    const answer = await this.iam.authorize(caller, kmsAuthorizations(kmsKeyId, context), { region: this.region });
    if (answer.allowed) return;
    this.log(`KMS refused for ${kmsKeyId}: ${answer.reason}`);
    throw new RdsFault('KMSKeyNotAccessibleFault', `The specified KMS key [${kmsKeyId}] does not exist, is not enabled or you do not have permissions to access it.`);
  }

  /** Quotas and capacity, as RDS checks them before it creates anything. */
  private checkRoom(kind: 'instance' | 'cluster', instanceClass: string | undefined): void {
    if (kind === 'instance') {
      if (this.quotas.instances !== undefined && this.instances.size >= this.quotas.instances) {
        throw new RdsFault('InstanceQuotaExceeded', `Cannot create more than ${this.quotas.instances} DB instances (DB instances quota).`);
      }
      const storage = [...this.instances.values()].filter((r) => !r.clusterId).length * 20 + 20;
      if (this.quotas.storageGb !== undefined && !instanceClass?.startsWith('aurora') && storage > this.quotas.storageGb) {
        throw new RdsFault('StorageQuotaExceeded', `The request would exceed the allocated storage quota of ${this.quotas.storageGb} GiB for this account.`);
      }
      if (instanceClass && this.faults.noCapacity.has(instanceClass)) {
        throw new RdsFault('InsufficientDBInstanceCapacity', `Cannot create a database instance because there is currently insufficient capacity of ${instanceClass} in the requested availability zones.`);
      }
      return;
    }
    if (this.quotas.clusters !== undefined && this.clusters.size >= this.quotas.clusters) {
      throw new RdsFault('DBClusterQuotaExceededFault', `Cannot create more than ${this.quotas.clusters} DB clusters (DB clusters quota).`, 403);
    }
    if (this.faults.noCapacity.has('cluster')) {
      throw new RdsFault('InsufficientDBClusterCapacityFault', 'The DB cluster does not have enough capacity for the current operation.', 403);
    }
  }

  /** A restore's new resource answered with a server error although it was made: the SDK retries the call. */
  private failAfterCreate(id: string): void {
    if (this.faults.failAfterCreate <= 0) return;
    this.faults.failAfterCreate--;
    throw new RdsFault('InternalFailure', `An internal error occurred while the request for ${id} was processed.`, 500);
  }

  private async restoreInstance(params: QueryParams, caller: string | undefined): Promise<XmlNode[]> {
    const targetId = required(params, 'TargetDBInstanceIdentifier');
    const sourceId = params.string('SourceDBInstanceIdentifier');
    const sourceResourceId = params.string('SourceDbiResourceId');
    if (!sourceId && !sourceResourceId && !params.string('SourceDBInstanceAutomatedBackupsArn')) {
      throw new RdsFault('MissingParameter', 'One of SourceDBInstanceIdentifier, SourceDbiResourceId or SourceDBInstanceAutomatedBackupsArn must be provided.');
    }
    const target = restoreTarget(params, 'RestoreTime');
    checkIdentifier('TargetDBInstanceIdentifier', targetId);
    if (this.instances.has(targetId)) throw new RdsFault('DBInstanceAlreadyExists', `DB instance already exists: ${targetId}`);
    let source: { local: LocalSource; engineVersion: string; masterUsername: string; kmsKeyId?: string | undefined };
    if (sourceId) {
      const record = this.instance(sourceId);
      if (!record.source) throw new RdsFault('PointInTimeRestoreNotEnabled', `Point-in-time restore is not enabled for DB instance ${sourceId}: its backup retention period is 0.`);
      source = { local: record.source, engineVersion: record.engineVersion, masterUsername: record.masterUsername, kmsKeyId: record.kmsKeyId };
    } else {
      const backup = this.automatedBackups.find((b) => b.resourceId === sourceResourceId);
      if (!backup) throw new RdsFault('DBInstanceAutomatedBackupNotFound', `No automated backup found for ${sourceResourceId}.`, 404);
      source = { local: backup.source, engineVersion: backup.engineVersion, masterUsername: backup.masterUsername, kmsKeyId: backup.kmsKeyId };
    }
    const local = await this.checkRestoreTime(source.local, target);
    const parameterGroup = params.string('DBParameterGroupName');
    if (parameterGroup && !parameterGroup.startsWith('default.') && !this.parameterGroups.db.has(parameterGroup)) {
      throw new RdsFault('DBParameterGroupNotFound', `DBParameterGroup not found: ${parameterGroup}`, 404);
    }
    const instanceClass = params.string('DBInstanceClass') ?? 'db.t4g.medium';
    this.checkRoom('instance', instanceClass);
    await this.authorizeKms(source.kmsKeyId, caller);
    const record: InstanceRecord = {
      ...this.newInstance(targetId, 'creating'),
      instanceClass,
      engineVersion: source.engineVersion,
      masterUsername: source.masterUsername,
      tags: tagsOf(params),
      subnetGroup: params.string('DBSubnetGroupName') ?? 'default',
      securityGroupIds: params.list('VpcSecurityGroupIds'),
      publiclyAccessible: params.bool('PubliclyAccessible') ?? true,
      multiAZ: params.bool('MultiAZ') ?? false,
      deletionProtection: params.bool('DeletionProtection') ?? false,
      backupRetentionPeriod: params.int('BackupRetentionPeriod') ?? 1,
      iamAuth: params.bool('EnableIAMDatabaseAuthentication') ?? false,
      ...(source.kmsKeyId ? { kmsKeyId: source.kmsKeyId } : {}),
      ...(parameterGroup ? { parameterGroup } : {}),
      ...this.justCreated(),
    };
    this.instances.set(targetId, record);
    this.track(this.materialize(record, source.local, local, this.behaviour.instanceLifecycles));
    this.failAfterCreate(targetId);
    return [['DBInstance', this.instanceXml(record)]];
  }

  private async restoreCluster(params: QueryParams, caller: string | undefined): Promise<XmlNode[]> {
    const targetId = required(params, 'DBClusterIdentifier');
    const sourceId = params.string('SourceDBClusterIdentifier');
    if (!sourceId && !params.string('SourceDbClusterResourceId')) {
      throw new RdsFault('MissingParameter', 'SourceDBClusterIdentifier or SourceDbClusterResourceId must be provided.');
    }
    const target = restoreTarget(params, 'RestoreToTime');
    checkIdentifier('DBClusterIdentifier', targetId);
    if (this.clusters.has(targetId)) throw new RdsFault('DBClusterAlreadyExistsFault', `DB Cluster already exists: ${targetId}`);
    let source: { source?: LocalSource | undefined; engineVersion: string; masterUsername: string; id: string; kmsKeyId?: string | undefined };
    if (sourceId) {
      source = this.cluster(sourceId);
    } else {
      const backup = this.clusterBackups.find((b) => b.resourceId === params.string('SourceDbClusterResourceId'));
      if (!backup) throw new RdsFault('DBClusterAutomatedBackupNotFoundFault', `No automated backup found for ${params.string('SourceDbClusterResourceId')}.`, 404);
      source = { source: backup.source, engineVersion: backup.engineVersion, masterUsername: backup.masterUsername, id: backup.clusterId, kmsKeyId: backup.kmsKeyId };
    }
    if (!source.source) throw new RdsFault('InvalidRestoreFault', `DB cluster ${source.id} has no backups to restore from.`);
    const local = await this.checkRestoreTime(source.source, target);
    const clusterParameterGroup = params.string('DBClusterParameterGroupName');
    if (clusterParameterGroup && !clusterParameterGroup.startsWith('default.') && !this.parameterGroups.cluster.has(clusterParameterGroup)) {
      throw new RdsFault('DBClusterParameterGroupNotFound', `DBClusterParameterGroup not found: ${clusterParameterGroup}`, 404);
    }
    const min = params.string('ServerlessV2ScalingConfiguration.MinCapacity');
    const max = params.string('ServerlessV2ScalingConfiguration.MaxCapacity');
    if ((min === undefined) !== (max === undefined) || (min !== undefined && Number(min) > Number(max))) {
      throw new RdsFault('InvalidParameterCombination', 'ServerlessV2ScalingConfiguration needs MinCapacity and MaxCapacity, MinCapacity not above MaxCapacity.');
    }
    this.checkRoom('cluster', undefined);
    await this.authorizeKms(source.kmsKeyId, caller);
    const record: ClusterRecord = {
      ...this.newCluster(targetId, 'creating'),
      engineVersion: source.engineVersion,
      masterUsername: source.masterUsername,
      tags: tagsOf(params),
      subnetGroup: params.string('DBSubnetGroupName') ?? 'default',
      securityGroupIds: params.list('VpcSecurityGroupIds'),
      deletionProtection: params.bool('DeletionProtection') ?? false,
      iamAuth: params.bool('EnableIAMDatabaseAuthentication') ?? false,
      ...(source.kmsKeyId ? { kmsKeyId: source.kmsKeyId } : {}),
      ...(clusterParameterGroup ? { clusterParameterGroup } : {}),
      ...(min !== undefined ? { serverlessV2: { min: Number(min), max: Number(max) } } : {}),
      ...this.justCreated(),
    };
    this.clusters.set(targetId, record);
    this.track(this.materialize(record, source.source, local, this.behaviour.clusterLifecycles));
    this.failAfterCreate(targetId);
    return [['DBCluster', this.clusterXml(record)]];
  }

  /** How many Describes by identifier a new resource stays invisible to. */
  private justCreated(): { notFoundLeft?: number } {
    const count = this.behaviour.notFoundAfterCreate ?? 0;
    return count > 0 ? { notFoundLeft: count } : {};
  }

  private createInstance(params: QueryParams): XmlNode[] {
    const id = required(params, 'DBInstanceIdentifier');
    const instanceClass = required(params, 'DBInstanceClass');
    required(params, 'Engine');
    checkIdentifier('DBInstanceIdentifier', id);
    const clusterId = params.string('DBClusterIdentifier');
    if (!clusterId) throw new RdsFault('InvalidParameterCombination', 'This emulator creates instances only inside a DB cluster (DBClusterIdentifier).');
    if (this.instances.has(id)) throw new RdsFault('DBInstanceAlreadyExists', `DB instance already exists: ${id}`);
    const cluster = this.cluster(clusterId);
    if (this.statusOf(cluster) !== 'available') throw new RdsFault('InvalidDBClusterStateFault', `DB cluster ${clusterId} is not in the available state (${cluster.status}).`);
    if (instanceClass === 'db.serverless' && !cluster.serverlessV2) {
      throw new RdsFault('InvalidParameterCombination', `DB cluster ${clusterId} has no ServerlessV2ScalingConfiguration: a db.serverless instance needs one.`);
    }
    const parameterGroup = params.string('DBParameterGroupName');
    if (parameterGroup && !parameterGroup.startsWith('default.') && !this.parameterGroups.db.has(parameterGroup)) {
      throw new RdsFault('DBParameterGroupNotFound', `DBParameterGroup not found: ${parameterGroup}`, 404);
    }
    this.checkRoom('instance', instanceClass === 'db.serverless' ? undefined : instanceClass);
    const record: InstanceRecord = {
      ...this.newInstance(id, 'creating'),
      instanceClass,
      engine: params.string('Engine')!,
      engineVersion: cluster.engineVersion,
      masterUsername: cluster.masterUsername,
      tags: tagsOf(params),
      subnetGroup: cluster.subnetGroup ?? 'default',
      securityGroupIds: cluster.securityGroupIds,
      publiclyAccessible: params.bool('PubliclyAccessible') ?? false,
      iamAuth: cluster.iamAuth,
      clusterId,
      ...(parameterGroup ? { parameterGroup } : {}),
      ...this.justCreated(),
    };
    this.instances.set(id, record);
    cluster.members.push(id);
    this.track(
      (async () => {
        await this.pause(this.delays.createMs);
        if (record.status !== 'creating') return;
        Object.assign(record, { status: 'available', address: cluster.address, port: cluster.port, local: cluster.local });
      })(),
    );
    return [['DBInstance', this.instanceXml(record)]];
  }

  private deleteInstance(params: QueryParams): XmlNode[] {
    const record = this.instance(required(params, 'DBInstanceIdentifier'));
    const status = this.statusOf(record);
    if (status === 'deleting') throw new RdsFault('InvalidDBInstanceState', `Instance ${record.id} is already being deleted.`);
    if (NO_DELETE_STATES.has(status)) throw new RdsFault('InvalidDBInstanceState', `Instance ${record.id} is currently ${status}.`);
    if (record.deletionProtection) throw new RdsFault('InvalidParameterCombination', 'Cannot delete protected DB Instance, please disable deletion protection and try again.');
    if (!record.clusterId && !params.bool('SkipFinalSnapshot') && !params.string('FinalDBSnapshotIdentifier')) {
      throw new RdsFault('InvalidParameterCombination', 'FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.');
    }
    if (this.faults.refuseDeletes > 0 && !record.source) {
      this.faults.refuseDeletes--;
      throw new RdsFault('InvalidDBInstanceState', `Instance ${record.id} is currently modifying.`);
    }
    if (record.clusterId && this.faults.refuseMemberDeletes > 0) {
      this.faults.refuseMemberDeletes--;
      throw new RdsFault('InvalidDBClusterStateFault', `DB cluster ${record.clusterId} is in a state that does not allow deleting its instance ${record.id} now.`);
    }
    record.status = 'deleting';
    this.track(
      (async () => {
        await this.pause(this.delays.deleteMs);
        this.instances.delete(record.id);
        record.proxy?.close();
        if (record.clusterId) {
          const cluster = this.clusters.get(record.clusterId);
          if (cluster) cluster.members = cluster.members.filter((m) => m !== record.id);
        } else {
          await this.discard(record);
        }
      })(),
    );
    return [['DBInstance', this.instanceXml(record)]];
  }

  private deleteCluster(params: QueryParams): XmlNode[] {
    const record = this.cluster(required(params, 'DBClusterIdentifier'));
    if (this.statusOf(record) === 'deleting') throw new RdsFault('InvalidDBClusterStateFault', `DB cluster ${record.id} is already being deleted.`);
    const live = record.members.filter((id) => this.instances.get(id)?.status !== 'deleting');
    if (live.length > 0) throw new RdsFault('InvalidDBClusterStateFault', 'Cluster cannot be deleted, it still contains DB instances in non-deleting state.');
    if (record.deletionProtection) throw new RdsFault('InvalidParameterCombination', 'Cannot delete protected Cluster, please disable deletion protection and try again.');
    if (!params.bool('SkipFinalSnapshot') && !params.string('FinalDBSnapshotIdentifier')) {
      throw new RdsFault('InvalidParameterCombination', 'FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.');
    }
    record.status = 'deleting';
    this.track(
      (async () => {
        await this.pause(this.delays.deleteMs);
        this.clusters.delete(record.id);
        record.proxy?.close();
        await this.discard(record);
      })(),
    );
    return [['DBCluster', this.clusterXml(record)]];
  }

  /**
   * A restore in the background: `creating` for createMs, then a real local restore (or a share of
   * one), then the drawn lifecycle (or straight to `available`), or the injected end.
   */
  private async materialize(record: InstanceRecord | ClusterRecord, source: LocalSource, target: CopyTarget, lifecycles: readonly (readonly LifecycleStep[])[] | undefined): Promise<void> {
    const outcome = this.faults.nextRestore ?? [...this.faults.restoreOutcomes].find(([prefix]) => record.id.startsWith(prefix))?.[1];
    this.faults.nextRestore = undefined;
    const isCluster = 'members' in record;
    // A cluster never shows an instance's status, nor an instance a cluster's: a test that asks for one is wrong.
    if (outcome && outcome !== 'never' && !(isCluster ? (CLUSTER_FAILED_OUTCOMES as readonly string[]) : (INSTANCE_FAILED_OUTCOMES as readonly string[])).includes(outcome)) {
      throw new Error(`${outcome} is not a status RDS gives a ${isCluster ? 'DB cluster' : 'DB instance'}; use one of ${(isCluster ? CLUSTER_FAILED_OUTCOMES : INSTANCE_FAILED_OUTCOMES).join(', ')}`);
    }
    const steps = lifecycles?.length ? lifecycles[Math.floor(this.random() * lifecycles.length)]! : undefined;
    await this.pause(this.delays.createMs);
    if (record.status !== 'creating' || outcome === 'never') return;
    if (outcome) {
      record.status = outcome;
      return;
    }
    try {
      const local = await this.localRestore(record, source, target);
      if (this.stopped || record.status !== 'creating') return;
      record.proxy = await frontOf(local.port, () => UNREACHABLE_STATUSES.has(this.statusOf(record)));
      const port = (record.proxy.address() as AddressInfo).port;
      Object.assign(record, { address: '127.0.0.1', port }, steps ? { lifecycle: { steps, from: Date.now() } } : { status: 'available' });
      this.statusOf(record);
    } catch (error) {
      this.log(`restore of ${record.id} failed: ${(error as Error).message}`);
      if (record.status === 'creating') record.status = isCluster ? 'migration-failed' : 'incompatible-restore';
    } finally {
      // Deleted (or the emulator stopped) while the local restore was under way: its delete found no server to remove.
      if (this.stopped || record.status === 'deleting') {
        record.proxy?.close();
        await this.discard(record);
      }
    }
  }

  /** The local restore that plays a copy: its own, or (shareRestores) one shared by every copy of that source and point. */
  private async localRestore(record: InstanceRecord | ClusterRecord, source: LocalSource, target: CopyTarget): Promise<LocalCopyHandle> {
    const make = async () => {
      const local = await startCopy({
        source,
        target,
        name: copyName('emu', new Date()),
        expiresAt: new Date(Date.now() + 86_400_000),
        connection: { database: 'postgres', user: 'postgres' },
        durable: false,
        tls: { certFile: this.tls.certFile, keyFile: this.tls.keyFile },
      });
      for (;;) {
        const poll = await pollCopy(local);
        if (poll.state === 'failed') throw new Error(poll.reason);
        if (poll.state === 'ready') return local;
        if (this.stopped) return local;
        await delay(25);
      }
    };
    if (!this.shareRestores) {
      record.local = await make();
      return record.local;
    }
    const key = `${source.baseBackups}|${target.kind === 'latest' ? 'latest' : target.time.toISOString()}`;
    let entry = this.shared.get(key);
    if (!entry) {
      entry = { local: make(), users: 0 };
      this.shared.set(key, entry);
    }
    entry.users++;
    record.sharedKey = key;
    return entry.local;
  }

  /** Removes a record's local restore once (a delete and an ending restore may both try); a shared one when its last copy goes. */
  private async discard(record: InstanceRecord | ClusterRecord): Promise<void> {
    const key = record.sharedKey;
    if (key) {
      record.sharedKey = undefined;
      const entry = this.shared.get(key);
      if (entry && --entry.users <= 0) {
        this.shared.delete(key);
        await destroyCopy((await entry.local).name).catch(() => undefined);
      }
      return;
    }
    await discardLocal(record);
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch((error: Error) => this.log(`background work failed: ${error.message}`)).finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  private async pause(ms: number): Promise<void> {
    if (ms > 0) await delay(ms);
  }

  private instanceXml(r: InstanceRecord): XmlNode[] {
    const latest = r.source ? this.latestOf(r.source) : undefined;
    const status = this.statusOf(r);
    return [
      ['DBInstanceIdentifier', r.id],
      ['DBInstanceClass', r.instanceClass],
      ['Engine', r.engine],
      ['DBInstanceStatus', status],
      ['MasterUsername', r.masterUsername],
      ['DBName', r.clusterId ? undefined : r.dbName],
      ['Endpoint', r.address && status !== 'creating' ? [['Address', r.address], ['Port', r.port], ['HostedZoneId', 'Z2R2ITUGPM61AM']] : undefined],
      ['AllocatedStorage', r.clusterId ? 1 : 20],
      ['InstanceCreateTime', status === 'creating' ? undefined : r.createdAt],
      ['DBParameterGroups', xmlList('DBParameterGroup', [r.parameterGroup ?? `default.${r.engine}${r.engineVersion.split('.')[0]}`], (name) => [['DBParameterGroupName', name], ['ParameterApplyStatus', 'in-sync']])],
      ['BackupRetentionPeriod', r.backupRetentionPeriod],
      ['VpcSecurityGroups', xmlList('VpcSecurityGroupMembership', r.securityGroupIds, (id) => [['VpcSecurityGroupId', id], ['Status', 'active']])],
      ['DBSubnetGroup', r.subnetGroup ? [['DBSubnetGroupName', r.subnetGroup], ['SubnetGroupStatus', 'Complete'], ['VpcId', 'vpc-emulated']] : undefined],
      ['MultiAZ', r.multiAZ],
      ['EngineVersion', r.engineVersion],
      ['LatestRestorableTime', latest],
      ['PubliclyAccessible', r.publiclyAccessible],
      ['StorageEncrypted', true],
      ['KmsKeyId', r.kmsKeyId],
      ['DbiResourceId', r.resourceId],
      ['CACertificateIdentifier', 'rds-ca-rsa2048-g1'],
      ['DBClusterIdentifier', r.clusterId],
      ['DBInstanceArn', r.arn],
      ['IAMDatabaseAuthenticationEnabled', r.iamAuth],
      ['DeletionProtection', r.deletionProtection],
      ['TagList', tagsXml(r.tags)],
    ];
  }

  private clusterXml(r: ClusterRecord): XmlNode[] {
    const window = r.source ? this.windowCache.get(r.source.baseBackups) : undefined;
    const status = this.statusOf(r);
    return [
      ['AllocatedStorage', 1],
      ['BackupRetentionPeriod', 1],
      ['DatabaseName', r.dbName],
      ['DBClusterIdentifier', r.id],
      ['DBSubnetGroup', r.subnetGroup],
      ['Status', status],
      ['EarliestRestorableTime', window?.earliest],
      ['Endpoint', r.address],
      ['ReaderEndpoint', r.address],
      ['Engine', r.engine],
      ['LatestRestorableTime', window?.latest],
      ['Port', r.port],
      ['MasterUsername', r.masterUsername],
      ['DBClusterMembers', xmlList('DBClusterMember', r.members, (id) => [['DBInstanceIdentifier', id], ['IsClusterWriter', true], ['PromotionTier', 1]])],
      ['VpcSecurityGroups', xmlList('VpcSecurityGroupMembership', r.securityGroupIds, (id) => [['VpcSecurityGroupId', id], ['Status', 'active']])],
      ['StorageEncrypted', true],
      ['KmsKeyId', r.kmsKeyId],
      ['DbClusterResourceId', r.resourceId],
      ['DBClusterParameterGroup', r.clusterParameterGroup ?? `default.${r.engine}${r.engineVersion.split('.')[0]}`],
      ['ServerlessV2ScalingConfiguration', r.serverlessV2 ? [['MinCapacity', r.serverlessV2.min], ['MaxCapacity', r.serverlessV2.max]] : undefined],
      ['DBClusterArn', r.arn],
      ['IAMDatabaseAuthenticationEnabled', r.iamAuth],
      ['ClusterCreateTime', r.createdAt],
      ['EngineVersion', r.engineVersion],
      ['DeletionProtection', r.deletionProtection],
      ['TagList', tagsXml(r.tags)],
    ];
  }

  private readonly windowCache = new Map<string, { earliest: Date; latest: Date }>();

  /** A source's window is read from its backups and archive whenever it is described, as RDS keeps it current. */
  private async refreshWindows(records: readonly (InstanceRecord | ClusterRecord)[]): Promise<void> {
    for (const record of records) if (record.source) await this.windowOf(record.source);
  }

  /**
   * The window RDS reports: from the backups and archive, its end at the last log upload (with
   * logUploads) rather than the archive's last transaction. After the last transaction the source was
   * idle, so any time up to the upload restores the same data.
   */
  private async windowOf(source: LocalSource): Promise<{ earliest: Date; latest: Date; lastTransaction: Date }> {
    const { window } = await readWindow(source);
    const uploads = this.behaviour.logUploads;
    const uploaded = uploads ? lastUpload(this.now(), this.behaviour.seed ?? 1, uploads) : window.latest;
    const latest = new Date(Math.max(window.earliest.getTime(), uploaded.getTime()));
    const reported = { earliest: window.earliest, latest, lastTransaction: window.latest };
    this.windowCache.set(source.baseBackups, reported);
    return reported;
  }

  /** Refuses a time outside the reported window; answers what the local engine restores to. */
  private async checkRestoreTime(source: LocalSource, target: CopyTarget): Promise<CopyTarget> {
    const window = await this.windowOf(source);
    const time = target.kind === 'latest' ? window.latest : target.time;
    if (time < window.earliest || time > window.latest) {
      throw new RdsFault(
        'InvalidRestoreFault',
        `The restore time ${time.toISOString()} is outside the restorable window ${window.earliest.toISOString()} to ${window.latest.toISOString()}.`,
      );
    }
    return time >= window.lastTransaction ? { kind: 'latest' } : { kind: 'time', time };
  }

  private latestOf(source: LocalSource): Date | undefined {
    return this.windowCache.get(source.baseBackups)?.latest;
  }
}

/** A TCP front for a copy's server: RDS's endpoint, which refuses connections while the copy is down (rebooting, ...). */
async function frontOf(port: number, down: () => boolean): Promise<TcpServer> {
  const open = new Set<() => void>();
  const server = createTcpServer((client) => {
    if (down()) {
      client.destroy();
      return;
    }
    const upstream = tcpConnect(port, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    const close = () => {
      open.delete(close);
      client.destroy();
      upstream.destroy();
    };
    open.add(close);
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  // A reboot ends the sessions that were open, too.
  const watch = setInterval(() => {
    if (open.size && down()) for (const close of [...open]) close();
  }, 10);
  watch.unref();
  server.on('close', () => clearInterval(watch));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  return server;
}

/** Removes a record's local restore once (a delete and an ending restore may both try). */
async function discardLocal(record: { local?: LocalCopyHandle | undefined }): Promise<void> {
  const local = record.local;
  record.local = undefined;
  if (local) await destroyCopy(local.name).catch(() => undefined);
}

function required(params: QueryParams, name: string): string {
  const value = params.string(name);
  if (!value) throw new RdsFault('MissingParameter', `The request must contain the parameter ${name}`);
  return value;
}

/** A required parameter, or (a list, `Tags.Tag.1.Key`) its first member. */
function requiredParameter(params: QueryParams, name: string): void {
  if (params.string(name) || [...params.raw.keys()].some((key) => key.startsWith(`${name}.`))) return;
  throw new RdsFault('MissingParameter', `The request must contain the parameter ${name}`);
}

function checkIdentifier(name: string, value: string): void {
  if (!IDENTIFIER.test(value)) {
    throw new RdsFault(
      'InvalidParameterValue',
      `The parameter ${name} is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.`,
    );
  }
}

function restoreTarget(params: QueryParams, timeName: string): CopyTarget {
  const time = params.string(timeName);
  const latest = params.bool('UseLatestRestorableTime') ?? false;
  if (time && latest) throw new RdsFault('InvalidParameterCombination', `Cannot specify both ${timeName} and UseLatestRestorableTime.`);
  if (!time && !latest) throw new RdsFault('InvalidParameterCombination', `Either ${timeName} or UseLatestRestorableTime must be specified.`);
  if (latest) return { kind: 'latest' };
  const parsed = new Date(time!);
  if (Number.isNaN(parsed.getTime())) throw new RdsFault('InvalidParameterValue', `${timeName} ${time} is not a valid timestamp.`);
  return { kind: 'time', time: parsed };
}


function tagsOf(params: QueryParams): Tag[] {
  return params.structures('Tags').map((fields) => ({ Key: fields.get('Key') ?? '', Value: fields.get('Value') ?? '' }));
}

function tagsXml(tags: readonly Tag[]): XmlNode[] {
  return xmlList('Tag', tags, (tag) => [['Key', tag.Key], ['Value', tag.Value]]);
}
