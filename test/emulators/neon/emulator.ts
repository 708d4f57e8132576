import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { copyName } from '../../../lib/providers/copyName.ts';
import { destroyCopy, pollCopy, startCopy, type LocalCopyHandle } from '../../../lib/providers/local/engine.ts';
import { readWindow, type LocalSource } from '../../../lib/providers/local/plan.ts';
import type { CopyTarget } from '../../../lib/providers/types.ts';
import type { TestCa } from '../rds/tls.ts';

export interface BranchRecord {
  id: string;
  name: string;
  parentId?: string | undefined;
  parentTimestamp?: string | undefined;
  createdAt: Date;
  default: boolean;
  protected: boolean;
  state: 'init' | 'ready';
  /** The branch holds the source's data (the default branch, and branches added with addSourceBranch). */
  source?: boolean;
  annotations: Record<string, string>;
  expiresAt?: string | undefined;
  endpointId?: string | undefined;
  /** Copies: the local restore that plays the branch's compute. */
  local?: LocalCopyHandle | undefined;
}

export interface EndpointRecord {
  id: string;
  branchId: string;
  state: 'init' | 'active' | 'idle';
  minCu: number;
  maxCu: number;
  createdAt: Date;
  port?: number | undefined;
}

export interface OperationRecord {
  id: string;
  branchId: string;
  endpointId?: string | undefined;
  action: 'create_branch' | 'start_compute' | 'suspend_compute' | 'delete_timeline';
  status: 'scheduling' | 'running' | 'finished' | 'failed';
  error?: string | undefined;
  failuresCount: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface RequestRecord {
  at: Date;
  method: string;
  /** The path below the API base, e.g. /projects/p/branches/br-x. */
  path: string;
  /** The API's operation id, e.g. createProjectBranch. */
  operation: string;
  /** Path parameters. */
  params: Record<string, string>;
  query: Record<string, string>;
  body?: unknown;
  status: number;
  /** What was answered in short: an operation's status, an error's message. */
  answered?: string;
}

export interface NeonEmulatorOptions {
  tls: TestCa;
  /** The only API key accepted (Authorization: Bearer ...). */
  apiKey: string;
  projectId?: string;
  historyRetentionSeconds?: number;
  /** The source: the project's default branch's backups and WAL archive. */
  source: LocalSource;
  /** When the default branch was created (its history starts there). */
  sourceCreatedAt: Date;
  /** Makes the source's latest writes restorable (closes and archives its current WAL segment). */
  flush?: () => Promise<void>;
  roles: { name: string; password: string }[];
  databases: string[];
  pgVersion?: number;
  log?: (line: string) => void;
}

/** How the next branch creation ends: its create_branch operation `failed`, or never leaving `running`. */
export type OperationOutcome = 'failed' | 'never';

/** A Neon GeneralError answer. */
class NeonFault extends Error {
  readonly status: number;
  readonly code: string;
  readonly retryAfter: string | undefined;

  constructor(status: number, code: string, message: string, retryAfter?: string) {
    super(message);
    this.name = 'NeonFault';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

const ROUTES: { method: string; pattern: RegExp; operation: string; keys: string[] }[] = [
  { method: 'GET', pattern: /^\/projects\/([^/]+)$/, operation: 'getProject', keys: ['project_id'] },
  { method: 'GET', pattern: /^\/projects\/([^/]+)\/branches$/, operation: 'listProjectBranches', keys: ['project_id'] },
  { method: 'POST', pattern: /^\/projects\/([^/]+)\/branches$/, operation: 'createProjectBranch', keys: ['project_id'] },
  { method: 'GET', pattern: /^\/projects\/([^/]+)\/branches\/([^/]+)$/, operation: 'getProjectBranch', keys: ['project_id', 'branch_id'] },
  { method: 'DELETE', pattern: /^\/projects\/([^/]+)\/branches\/([^/]+)$/, operation: 'deleteProjectBranch', keys: ['project_id', 'branch_id'] },
  { method: 'GET', pattern: /^\/projects\/([^/]+)\/operations\/([^/]+)$/, operation: 'getProjectOperation', keys: ['project_id', 'operation_id'] },
  { method: 'GET', pattern: /^\/projects\/([^/]+)\/connection_uri$/, operation: 'getConnectionURI', keys: ['project_id'] },
];

const WORDS = ['aged', 'bitter', 'calm', 'dark', 'frosty', 'green', 'icy', 'late', 'misty', 'quiet', 'raspy', 'shy', 'silent', 'sweet', 'wispy'];
const NOUNS = ['breeze', 'cloud', 'dream', 'field', 'hill', 'lake', 'meadow', 'moon', 'salad', 'smoke', 'snowflake', 'sound', 'sun', 'violet'];

/**
 * A stand-in for the Neon API v2 on loopback: one project whose default branch is a local source
 * cluster (its base backups and WAL archive). A new branch is a real point-in-time restore of it by
 * the local engine at `parent_timestamp`, served over TLS with the test CA's certificate; its
 * operations go `running` → `finished` when the copy accepts connections.
 */
export class NeonEmulator {
  readonly projectId: string;
  readonly requests: RequestRecord[] = [];
  readonly branches = new Map<string, BranchRecord>();
  readonly endpoints = new Map<string, EndpointRecord>();
  readonly operations = new Map<string, OperationRecord>();
  readonly faults: {
    /** Answer 423 Locked to the next N calls of these operations (e.g. createProjectBranch). */
    locked: Map<string, number>;
    /** Answer 503 to the next N calls of these operations. */
    unavailable: Map<string, number>;
    /** Answer 429 to the next N calls of these operations. */
    rateLimited: Map<string, number>;
    /** The Retry-After header (seconds) sent with 423, 429 and 503. */
    retryAfterSeconds?: number | undefined;
    /** How the next branch creation ends. */
    nextOperation?: OperationOutcome | undefined;
    /** As Neon does: answer 423 to a change while any operation of the project is still scheduling or running. */
    lockWhileRunning?: boolean | undefined;
  } = { locked: new Map(), unavailable: new Map(), rateLimited: new Map() };
  historyRetentionSeconds: number;
  readonly defaultBranch: BranchRecord;
  private readonly options: NeonEmulatorOptions;
  private readonly log: (line: string) => void;
  private readonly pending = new Set<Promise<void>>();
  private server: Server | undefined;
  private stopped = false;
  url = '';

  constructor(options: NeonEmulatorOptions) {
    this.options = options;
    this.projectId = options.projectId ?? 'shiny-wind-028834';
    this.historyRetentionSeconds = options.historyRetentionSeconds ?? 86_400;
    this.log = options.log ?? (() => undefined);
    this.defaultBranch = { id: this.newId('br'), name: 'main', createdAt: options.sourceCreatedAt, default: true, protected: false, state: 'ready', source: true, annotations: {} };
    this.branches.set(this.defaultBranch.id, this.defaultBranch);
  }

  /** What `apiBaseUrl` points the SDK at. */
  get apiBaseUrl(): string {
    return `${this.url}/api/v2`;
  }

  async start(port = 0): Promise<string> {
    this.server = createServer((request, response) => void this.handle(request, response));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  /** Closes the API and removes every branch's local restore. */
  async stop(): Promise<void> {
    this.stopped = true;
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await Promise.allSettled([...this.pending]);
    await Promise.allSettled([...this.branches.values()].map((branch) => discardLocal(branch)));
  }

  /** A branch that is not the default but holds the source's data too (a `production` branch of main, made when main was). */
  addSourceBranch(name: string): BranchRecord {
    const record: BranchRecord = { ...this.addOtherBranch({ name }), createdAt: this.defaultBranch.createdAt, source: true };
    this.branches.set(record.id, record);
    return record;
  }

  /** A branch that is not ours: any name, any parent, no restore behind it. */
  addOtherBranch(options: { name: string; parentId?: string; annotations?: Record<string, string>; protected?: boolean }): BranchRecord {
    const record: BranchRecord = {
      id: this.newId('br'),
      name: options.name,
      parentId: options.parentId ?? this.defaultBranch.id,
      createdAt: new Date(),
      default: false,
      protected: options.protected ?? false,
      state: 'ready',
      annotations: options.annotations ?? {},
    };
    this.branches.set(record.id, record);
    return record;
  }

  /** Calls that change something (POST, PATCH, PUT, DELETE) whose path names one of these branch ids or names. */
  mutatingCallsOn(identifiers: readonly string[]): RequestRecord[] {
    return this.requests.filter((r) => r.method !== 'GET' && Object.values(r.params).some((value) => identifiers.includes(value)));
  }

  calls(operation: string): RequestRecord[] {
    return this.requests.filter((r) => r.operation === operation);
  }

  branchNamed(name: string): BranchRecord | undefined {
    return [...this.branches.values()].find((b) => b.name === name);
  }

  /** Resolves once no branch of that name is left (and its restore is gone). */
  async gone(name: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.branchNamed(name)) {
      if (Date.now() > deadline) throw new Error(`branch ${name} is still there after ${timeoutMs} ms`);
      await delay(20);
    }
  }

  private newId(prefix: 'br' | 'ep'): string {
    const pick = (list: string[]) => list[Math.floor(Math.random() * list.length)]!;
    return `${prefix}-${pick(WORDS)}-${pick(NOUNS)}-${randomUUID().replace(/-/g, '').slice(0, 8)}`;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(request.url ?? '/', 'http://emulator');
    const path = url.pathname.replace(/^\/api\/v2/, '');
    const method = request.method ?? 'GET';
    const route = url.pathname.startsWith('/api/v2/') ? ROUTES.find((r) => r.method === method && r.pattern.test(path)) : undefined;
    const match = route?.pattern.exec(path);
    const params = Object.fromEntries((route?.keys ?? []).map((key, i) => [key, decodeURIComponent(match![i + 1]!)]));
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    const record: RequestRecord = { at: new Date(), method, path, operation: route?.operation ?? 'unknown', params, query: Object.fromEntries(url.searchParams), body, status: 0 };
    this.requests.push(record);
    const requestId = randomUUID();
    try {
      if (request.headers.authorization !== `Bearer ${this.options.apiKey}`) {
        throw new NeonFault(401, '', 'authentication required: the API key is missing, malformed or revoked');
      }
      if (!route) throw new NeonFault(404, '', `${method} ${url.pathname} is not a Neon API route this emulator serves`);
      if (params.project_id !== this.projectId) throw new NeonFault(404, '', 'project not found');
      this.injectedFault(route.operation);
      if (this.faults.lockWhileRunning && method !== 'GET' && [...this.operations.values()].some((op) => op.status === 'scheduling' || op.status === 'running')) {
        throw new NeonFault(423, '', 'project already has running conflicting operations, scheduling of new ones is prohibited', this.faults.retryAfterSeconds?.toString());
      }
      const { status, value } = await this.dispatch(route.operation, params, url.searchParams, body);
      record.status = status;
      this.log(`${method} ${path} -> ${status}`);
      response.writeHead(status, { 'content-type': 'application/json', 'x-neon-request-id': requestId });
      response.end(JSON.stringify(value));
    } catch (error) {
      const fault = error instanceof NeonFault ? error : new NeonFault(500, '', (error as Error).message);
      record.status = fault.status;
      record.answered = fault.message;
      this.log(`${method} ${path} -> ${fault.status}: ${fault.message}`);
      response.writeHead(fault.status, {
        'content-type': 'application/json',
        'x-neon-request-id': requestId,
        ...(fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {}),
      });
      response.end(JSON.stringify({ request_id: requestId, code: fault.code, message: fault.message }));
    }
  }

  private injectedFault(operation: string): void {
    const retryAfter = this.faults.retryAfterSeconds !== undefined ? String(this.faults.retryAfterSeconds) : undefined;
    const take = (counts: Map<string, number>) => {
      const left = counts.get(operation) ?? 0;
      if (left > 0) counts.set(operation, left - 1);
      return left > 0;
    };
    if (take(this.faults.locked)) throw new NeonFault(423, '', 'project already has running conflicting operations, scheduling of new ones is prohibited', retryAfter);
    if (take(this.faults.rateLimited)) throw new NeonFault(429, '', 'rate limit exceeded', retryAfter);
    if (take(this.faults.unavailable)) throw new NeonFault(503, '', 'service temporarily unavailable', retryAfter);
  }

  private async dispatch(operation: string, params: Record<string, string>, query: URLSearchParams, body: unknown): Promise<{ status: number; value: unknown }> {
    switch (operation) {
      case 'getProject':
        return { status: 200, value: { project: this.projectJson() } };
      case 'listProjectBranches': {
        const search = query.get('search') ?? '';
        const limit = Number(query.get('limit') ?? 10_000);
        const offset = Number(query.get('cursor') ?? 0);
        const all = [...this.branches.values()].filter((b) => b.name.includes(search) || b.id.includes(search)).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
        const page = all.slice(offset, offset + limit);
        return {
          status: 200,
          value: {
            branches: page.map((b) => this.branchJson(b)),
            annotations: Object.fromEntries(page.filter((b) => Object.keys(b.annotations).length > 0).map((b) => [b.id, this.annotationJson(b)])),
            pagination: { ...(offset + limit < all.length ? { next: String(offset + limit) } : {}), sort_by: 'created_at', sort_order: 'asc' },
          },
        };
      }
      case 'getProjectBranch': {
        const branch = this.branch(params.branch_id!);
        return { status: 200, value: { branch: this.branchJson(branch), ...(Object.keys(branch.annotations).length > 0 ? { annotation: this.annotationJson(branch) } : {}) } };
      }
      case 'createProjectBranch':
        return this.createBranch(body);
      case 'deleteProjectBranch':
        return this.deleteBranch(params.branch_id!);
      case 'getProjectOperation': {
        const op = this.operations.get(params.operation_id!);
        if (!op) throw new NeonFault(404, '', 'operation not found');
        const record = this.requests.at(-1)!;
        record.answered = `${op.action} ${op.status}`;
        return { status: 200, value: { operation: this.operationJson(op) } };
      }
      case 'getConnectionURI':
        return this.connectionUri(query);
      default:
        throw new NeonFault(404, '', `${operation} is not emulated`);
    }
  }

  private branch(id: string): BranchRecord {
    const branch = this.branches.get(id);
    if (!branch) throw new NeonFault(404, '', 'branch not found');
    return branch;
  }

  private async createBranch(body: unknown): Promise<{ status: number; value: unknown }> {
    const request = (body ?? {}) as {
      branch?: { parent_id?: string; name?: string; parent_timestamp?: string; parent_lsn?: string; expires_at?: string; protected?: boolean };
      endpoints?: { type?: string; autoscaling_limit_min_cu?: number; autoscaling_limit_max_cu?: number }[];
      annotation_value?: Record<string, string>;
    };
    const parent = this.branch(request.branch?.parent_id || this.defaultBranch.id);
    if (!parent.source) throw new NeonFault(400, '', 'this emulator branches only from branches that hold the source (the default branch, addSourceBranch)');
    if (request.branch?.parent_lsn) throw new NeonFault(400, '', 'this emulator does not take parent_lsn');
    const name = request.branch?.name ?? `br-${randomUUID().slice(0, 8)}`;
    if (this.branchNamed(name)) throw new NeonFault(409, '', `branch with name "${name}" already exists`);
    const endpoints = request.endpoints ?? [];
    if (endpoints.filter((e) => e.type === 'read_write').length > 1) throw new NeonFault(400, '', 'a branch can have only one read_write endpoint');
    if (endpoints.some((e) => e.type !== 'read_write' && e.type !== 'read_only')) throw new NeonFault(400, '', 'endpoint type must be read_write or read_only');
    const now = new Date();
    let target: CopyTarget = { kind: 'latest' };
    if (request.branch?.parent_timestamp !== undefined) {
      const time = new Date(request.branch.parent_timestamp);
      if (Number.isNaN(time.getTime())) throw new NeonFault(400, '', `parent_timestamp "${request.branch.parent_timestamp}" is not a valid RFC 3339 timestamp`);
      const retentionStart = new Date(now.getTime() - this.historyRetentionSeconds * 1000);
      if (time < retentionStart) {
        throw new NeonFault(400, '', `parent_timestamp ${time.toISOString()} is before the start of the project's history retention window (${retentionStart.toISOString()}; history_retention_seconds ${this.historyRetentionSeconds})`);
      }
      if (time < parent.createdAt) throw new NeonFault(400, '', `parent_timestamp ${time.toISOString()} is before the parent branch was created (${parent.createdAt.toISOString()})`);
      if (time > now) throw new NeonFault(400, '', `parent_timestamp ${time.toISOString()} is in the future`);
      target = { kind: 'time', time };
    }
    const branch: BranchRecord = {
      id: this.newId('br'),
      name,
      parentId: parent.id,
      parentTimestamp: request.branch?.parent_timestamp,
      createdAt: now,
      default: false,
      protected: request.branch?.protected ?? false,
      state: 'init',
      annotations: request.annotation_value ?? {},
      expiresAt: request.branch?.expires_at,
    };
    this.branches.set(branch.id, branch);
    const ops: OperationRecord[] = [this.newOperation(branch.id, 'create_branch', undefined)];
    const created: EndpointRecord[] = [];
    for (const e of endpoints) {
      const endpoint: EndpointRecord = { id: this.newId('ep'), branchId: branch.id, state: 'init', minCu: e.autoscaling_limit_min_cu ?? 0.25, maxCu: e.autoscaling_limit_max_cu ?? 0.25, createdAt: now };
      this.endpoints.set(endpoint.id, endpoint);
      created.push(endpoint);
      if (e.type === 'read_write') branch.endpointId = endpoint.id;
      ops.push(this.newOperation(branch.id, 'start_compute', endpoint.id));
    }
    this.track(this.materialize(branch, ops, target));
    return {
      status: 201,
      value: {
        branch: this.branchJson(branch),
        endpoints: created.map((e) => this.endpointJson(e)),
        operations: ops.map((op) => this.operationJson(op)),
        roles: this.options.roles.map((role) => ({ branch_id: branch.id, name: role.name, protected: false, created_at: now.toISOString(), updated_at: now.toISOString() })),
        databases: this.options.databases.map((db, i) => ({ id: i + 1, branch_id: branch.id, name: db, owner_name: this.options.roles[0]?.name ?? 'neondb_owner', created_at: now.toISOString(), updated_at: now.toISOString() })),
      },
    };
  }

  private deleteBranch(id: string): { status: number; value: unknown } {
    const branch = this.branches.get(id);
    if (!branch) return { status: 204, value: {} };
    if (branch.default) throw new NeonFault(400, '', 'cannot delete the project\'s default branch');
    if (branch.protected) throw new NeonFault(400, '', 'cannot delete a protected branch');
    if ([...this.branches.values()].some((b) => b.parentId === id)) throw new NeonFault(400, '', 'cannot delete a branch that has child branches');
    const ops = [this.newOperation(id, 'delete_timeline', undefined)];
    if (branch.endpointId) ops.unshift(this.newOperation(id, 'suspend_compute', branch.endpointId));
    for (const op of ops) op.status = 'running';
    this.track(
      (async () => {
        this.branches.delete(id);
        if (branch.endpointId) this.endpoints.delete(branch.endpointId);
        await discardLocal(branch);
        for (const op of ops) Object.assign(op, { status: 'finished', updatedAt: new Date() });
      })(),
    );
    return { status: 200, value: { branch: this.branchJson(branch), operations: ops.map((op) => this.operationJson(op)) } };
  }

  private connectionUri(query: URLSearchParams): { status: number; value: unknown } {
    const branch = this.branch(query.get('branch_id') ?? this.defaultBranch.id);
    const endpointId = query.get('endpoint_id') ?? branch.endpointId;
    const endpoint = endpointId ? this.endpoints.get(endpointId) : undefined;
    if (!endpoint || endpoint.branchId !== branch.id) throw new NeonFault(404, '', 'endpoint not found');
    const database = query.get('database_name');
    const roleName = query.get('role_name');
    if (!database || !roleName) throw new NeonFault(400, '', 'database_name and role_name are required');
    if (!this.options.databases.includes(database)) throw new NeonFault(404, '', `database "${database}" not found`);
    const role = this.options.roles.find((r) => r.name === roleName);
    if (!role) throw new NeonFault(404, '', `role "${roleName}" not found`);
    if (endpoint.port === undefined) throw new NeonFault(404, '', 'endpoint has no compute running yet');
    const uri = `postgresql://${encodeURIComponent(role.name)}:${encodeURIComponent(role.password)}@127.0.0.1:${endpoint.port}/${encodeURIComponent(database)}?sslmode=require`;
    return { status: 200, value: { uri } };
  }

  private newOperation(branchId: string, action: OperationRecord['action'], endpointId: string | undefined): OperationRecord {
    const now = new Date();
    const op: OperationRecord = { id: randomUUID(), branchId, endpointId, action, status: 'scheduling', failuresCount: 0, createdAt: now, updatedAt: now };
    this.operations.set(op.id, op);
    return op;
  }

  /** The branch's compute: a real local restore at the target, then every operation `finished` (or the injected end). */
  private async materialize(branch: BranchRecord, ops: OperationRecord[], target: CopyTarget): Promise<void> {
    const outcome = this.faults.nextOperation;
    this.faults.nextOperation = undefined;
    const set = (status: OperationRecord['status'], error?: string) => {
      for (const op of ops) if (op.status !== 'finished') Object.assign(op, { status, updatedAt: new Date(), ...(error ? { error } : {}), ...(status === 'failed' ? { failuresCount: op.failuresCount + 1 } : {}) });
    };
    set('running');
    if (outcome === 'never') return;
    if (outcome === 'failed') {
      set('failed', 'could not create the timeline: pageserver returned an internal error');
      return;
    }
    try {
      await this.options.flush?.();
      const { window } = await readWindow(this.options.source);
      // The archive ends at its last transaction; Neon's history runs to now: a later time is the archive's end.
      const local: CopyTarget = target.kind === 'time' && target.time < window.latest ? target : { kind: 'latest' };
      branch.local = await startCopy({
        source: this.options.source,
        target: local,
        name: copyName('emu', new Date()),
        expiresAt: new Date(Date.now() + 86_400_000),
        connection: { database: this.options.databases[0] ?? 'postgres', user: 'postgres' },
        durable: false,
        tls: { certFile: this.options.tls.certFile, keyFile: this.options.tls.keyFile },
      });
      for (;;) {
        const poll = await pollCopy(branch.local);
        if (poll.state === 'failed') throw new Error(poll.reason);
        if (poll.state === 'ready') break;
        if (this.stopped || !this.branches.has(branch.id)) return;
        await delay(25);
      }
      if (!this.branches.has(branch.id)) return;
      branch.state = 'ready';
      const endpoint = branch.endpointId ? this.endpoints.get(branch.endpointId) : undefined;
      if (endpoint) Object.assign(endpoint, { state: 'active', port: branch.local.port });
      set('finished');
    } catch (error) {
      this.log(`restore of branch ${branch.name} failed: ${(error as Error).message}`);
      set('failed', (error as Error).message);
    } finally {
      if (this.stopped || !this.branches.has(branch.id)) await discardLocal(branch);
    }
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch((error: Error) => this.log(`background work failed: ${error.message}`)).finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  private projectJson(): Record<string, unknown> {
    const created = this.defaultBranch.createdAt.toISOString();
    return {
      id: this.projectId,
      platform_id: 'aws',
      region_id: 'aws-us-east-2',
      name: 'app',
      provisioner: 'k8s-neonvm',
      pg_version: this.options.pgVersion ?? 15,
      history_retention_seconds: this.historyRetentionSeconds,
      created_at: created,
      updated_at: created,
      proxy_host: 'us-east-2.aws.neon.tech',
      branch_logical_size_limit: 0,
      branch_logical_size_limit_bytes: 0,
      store_passwords: true,
      cpu_used_sec: 0,
      creation_source: 'console',
      owner_id: 'emulated-owner',
      consumption_period_start: created,
      consumption_period_end: new Date(Date.now() + 30 * 86_400_000).toISOString(),
      active_time_seconds: 0,
      compute_time_seconds: 0,
      written_data_bytes: 0,
      data_transfer_bytes: 0,
      data_storage_bytes_hour: 0,
    };
  }

  private branchJson(b: BranchRecord): Record<string, unknown> {
    return {
      id: b.id,
      project_id: this.projectId,
      ...(b.parentId ? { parent_id: b.parentId } : {}),
      ...(b.parentTimestamp ? { parent_timestamp: b.parentTimestamp } : {}),
      name: b.name,
      current_state: b.state,
      state_changed_at: b.createdAt.toISOString(),
      creation_source: 'console',
      created_at: b.createdAt.toISOString(),
      updated_at: b.createdAt.toISOString(),
      default: b.default,
      primary: b.default,
      protected: b.protected,
      cpu_used_sec: 0,
      active_time_seconds: 0,
      compute_time_seconds: 0,
      written_data_bytes: 0,
      data_transfer_bytes: 0,
      init_source: 'parent-data',
      ...(b.expiresAt ? { expires_at: b.expiresAt } : {}),
    };
  }

  private annotationJson(b: BranchRecord): Record<string, unknown> {
    return { object: { type: 'console/branch', id: b.id }, value: b.annotations, created_at: b.createdAt.toISOString(), updated_at: b.createdAt.toISOString() };
  }

  private endpointJson(e: EndpointRecord): Record<string, unknown> {
    return {
      host: `${e.id}.us-east-2.aws.neon.tech`,
      id: e.id,
      project_id: this.projectId,
      branch_id: e.branchId,
      autoscaling_limit_min_cu: e.minCu,
      autoscaling_limit_max_cu: e.maxCu,
      region_id: 'aws-us-east-2',
      type: 'read_write',
      current_state: e.state,
      settings: { pg_settings: {} },
      pooler_enabled: false,
      pooler_mode: 'transaction',
      disabled: false,
      passwordless_access: true,
      creation_source: 'console',
      created_at: e.createdAt.toISOString(),
      updated_at: e.createdAt.toISOString(),
      proxy_host: 'us-east-2.aws.neon.tech',
      suspend_timeout_seconds: 0,
      provisioner: 'k8s-neonvm',
    };
  }

  private operationJson(op: OperationRecord): Record<string, unknown> {
    return {
      id: op.id,
      project_id: this.projectId,
      branch_id: op.branchId,
      ...(op.endpointId ? { endpoint_id: op.endpointId } : {}),
      action: op.action,
      status: op.status,
      ...(op.error ? { error: op.error } : {}),
      failures_count: op.failuresCount,
      created_at: op.createdAt.toISOString(),
      updated_at: op.updatedAt.toISOString(),
      total_duration_ms: op.updatedAt.getTime() - op.createdAt.getTime(),
    };
  }
}

/** Removes a branch's local restore once (a delete and an ending restore may both try). */
async function discardLocal(record: { local?: LocalCopyHandle | undefined }): Promise<void> {
  const local = record.local;
  record.local = undefined;
  if (local) await destroyCopy(local.name).catch(() => undefined);
}
