import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { copyName } from '../../../lib/providers/copyName.ts';
import { destroyCopy, pollCopy, startCopy, type LocalCopyHandle } from '../../../lib/providers/local/engine.ts';
import { readWindow, type LocalSource } from '../../../lib/providers/local/plan.ts';
import type { CopyTarget } from '../../../lib/providers/types.ts';
import { newClient } from '../../../lib/util/pgClient.ts';
import type { TestCa } from '../rds/tls.ts';
import { neonSpec, type SpecProblem } from './spec.ts';

/** A role as Neon knows it on one branch: its password only when Neon made it (API or console) and stores passwords. */
export interface RoleRecord {
  name: string;
  /** What Neon would hand out; undefined for a role made in SQL (Neon syncs its name, never its password). */
  password?: string | undefined;
  createdAt: Date;
}

export interface BranchRecord {
  id: string;
  name: string;
  parentId?: string | undefined;
  parentTimestamp?: string | undefined;
  parentLsn?: string | undefined;
  createdAt: Date;
  default: boolean;
  protected: boolean;
  state: 'init' | 'ready';
  /** The branch holds the source's data (the default branch, and branches added with addSourceBranch). */
  source?: boolean;
  annotations: Record<string, string>;
  expiresAt?: string | undefined;
  endpointId?: string | undefined;
  /** Each branch's own roles and passwords: a child of a protected branch gets new passwords. */
  roles: Map<string, RoleRecord>;
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
  action: 'create_branch' | 'start_compute' | 'suspend_compute' | 'delete_timeline' | 'create_timeline';
  status: 'scheduling' | 'running' | 'finished' | 'failed' | 'cancelled';
  error?: string | undefined;
  failuresCount: number;
  retryAt?: Date | undefined;
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
  /** The request_id Neon answered with. */
  requestId: string;
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
  /** Roles Neon made (API or console): Neon stores and hands out their passwords. */
  roles: { name: string; password: string }[];
  databases: string[];
  pgVersion?: number;
  /** The plan's branch limit (owner.branches_limit): every branch of the project counts. @default 50 */
  branchesLimit?: number;
  /** The project's subscription (owner.subscription_type); free_v2 and free_v3 cap history by size too. @default 'launch' */
  subscriptionType?: string;
  /** The default branch's compute. @default { minCu: 0.5, maxCu: 2 } */
  sourceCompute?: { minCu: number; maxCu: number };
  log?: (line: string) => void;
}

/**
 * How the next branch creation's operations end: `failed` for good (Neon keeps retrying, failures_count
 * growing), `failed-then-retried` (one failure, then Neon's retry finishes it), `cancelled`, or `never`
 * leaving `running`.
 */
export type OperationOutcome = 'failed' | 'failed-then-retried' | 'cancelled' | 'never';

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
  { method: 'GET', pattern: /^\/projects\/([^/]+)\/branches\/count$/, operation: 'countProjectBranches', keys: ['project_id'] },
  { method: 'GET', pattern: /^\/projects\/([^/]+)\/branches\/([^/]+)$/, operation: 'getProjectBranch', keys: ['project_id', 'branch_id'] },
  { method: 'DELETE', pattern: /^\/projects\/([^/]+)\/branches\/([^/]+)$/, operation: 'deleteProjectBranch', keys: ['project_id', 'branch_id'] },
  { method: 'POST', pattern: /^\/projects\/([^/]+)\/branches\/([^/]+)\/restore$/, operation: 'restoreProjectBranch', keys: ['project_id', 'branch_id'] },
  { method: 'GET', pattern: /^\/projects\/([^/]+)\/branches\/([^/]+)\/endpoints$/, operation: 'listProjectBranchEndpoints', keys: ['project_id', 'branch_id'] },
  { method: 'GET', pattern: /^\/projects\/([^/]+)\/branches\/([^/]+)\/roles\/([^/]+)$/, operation: 'getProjectBranchRole', keys: ['project_id', 'branch_id', 'role_name'] },
  { method: 'GET', pattern: /^\/projects\/([^/]+)\/operations\/([^/]+)$/, operation: 'getProjectOperation', keys: ['project_id', 'operation_id'] },
  { method: 'GET', pattern: /^\/projects\/([^/]+)\/connection_uri$/, operation: 'getConnectionURI', keys: ['project_id'] },
];

const WORDS = ['aged', 'bitter', 'calm', 'dark', 'frosty', 'green', 'icy', 'late', 'misty', 'quiet', 'raspy', 'shy', 'silent', 'sweet', 'wispy'];
const NOUNS = ['breeze', 'cloud', 'dream', 'field', 'hill', 'lake', 'meadow', 'moon', 'salad', 'smoke', 'snowflake', 'sound', 'sun', 'violet'];
/** Neon's branch expiry: RFC 3339 to the second, no fractions (the document's own words). */
const SECONDS_RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$/;
/** How far ahead Neon lets a branch expire. */
export const MAX_BRANCH_TTL_SECONDS = 30 * 86_400;
const LOCKED_MESSAGE = 'project already has running conflicting operations, scheduling of new ones is prohibited';

/**
 * A stand-in for the Neon API v2 on loopback: one project whose default branch is a local source
 * cluster (its base backups and WAL archive). A new branch is a real point-in-time restore of it by
 * the local engine at `parent_timestamp`, served over TLS with the test CA's certificate; its
 * operations go `running` → `finished` when the copy accepts connections.
 *
 * It behaves as Neon does where that matters to a drill: every request and answer is held to the
 * OpenAPI document shipped in @neondatabase/api-client (a request that breaks it gets 400 and is
 * recorded; an answer that breaks it is recorded as the emulator's own bug); the project is locked
 * (423) while any operation runs; each branch has its own roles; a child of a protected branch gets
 * new passwords; timestamps are checked against the history Neon keeps (retention, the branch's
 * creation, a Free plan's size cap), by its own clock; the plan's branch limit answers 422; branches
 * expire at `expires_at`; and faults (failed and retried operations, 502s, dropped connections) can be
 * injected.
 */
export class NeonEmulator {
  readonly projectId: string;
  readonly requests: RequestRecord[] = [];
  readonly branches = new Map<string, BranchRecord>();
  readonly endpoints = new Map<string, EndpointRecord>();
  readonly operations = new Map<string, OperationRecord>();
  /** Requests and answers that break Neon's published document: empty when all is well. */
  readonly specProblems: SpecProblem[] = [];
  /** How many requests and answers were held to the document. */
  readonly specChecked = { requests: 0, responses: 0 };
  readonly faults: {
    /** Answer 423 Locked to the next N calls of these operations (e.g. createProjectBranch). */
    locked: Map<string, number>;
    /** Answer 503 to the next N calls of these operations. */
    unavailable: Map<string, number>;
    /** Answer 429 to the next N calls of these operations. */
    rateLimited: Map<string, number>;
    /** A load balancer's 502 Bad Gateway (an HTML page, not the API's JSON) to the next N calls. */
    badGateway: Map<string, number>;
    /** Drop the connection without an answer on the next N calls (after the request was read). */
    reset: Map<string, number>;
    /** Answer 422 BRANCHES_LIMIT_EXCEEDED to the next N calls, as when other branches fill the project meanwhile. */
    overLimit: Map<string, number>;
    /** Carry out the next N calls, then lose the answer: the proxy answers 502 (the change was made). */
    lostAnswer: Map<string, number>;
    /** The Retry-After header (seconds) sent with 423, 429 and 503. */
    retryAfterSeconds?: number | undefined;
    /** How the next branch creation's operations end. */
    nextOperation?: OperationOutcome | undefined;
    /** The next created branch's annotation is not stored (it never comes back). */
    dropNextAnnotation?: boolean | undefined;
  } = { locked: new Map(), unavailable: new Map(), rateLimited: new Map(), badGateway: new Map(), reset: new Map(), overLimit: new Map(), lostAnswer: new Map() };
  /** As Neon does: answer 423 to a change while any operation of the project is still scheduling or running. */
  lockWhileOperationsRun = true;
  historyRetentionSeconds: number;
  branchesLimit: number;
  subscriptionType: string;
  /** The project keeps role passwords (Settings); without, Neon hands out none (412). */
  storePasswords = true;
  /** The project's IP Allow list (settings.allowed_ips). */
  allowedIps: { ips: string[]; protectedBranchesOnly: boolean } | undefined;
  /** A Free plan's history is capped by size too: the oldest point the storage still holds, when the cap cuts it. */
  historySizeCapStart: Date | undefined;
  /** The project's default branch (after an instant restore, the branch that took its name). */
  defaultBranch: BranchRecord;
  private readonly options: NeonEmulatorOptions;
  private readonly log: (line: string) => void;
  private readonly pending = new Set<Promise<void>>();
  private readonly held = new Set<() => void>();
  private server: Server | undefined;
  private stopped = false;
  url = '';

  constructor(options: NeonEmulatorOptions) {
    this.options = options;
    this.projectId = options.projectId ?? 'shiny-wind-028834';
    this.historyRetentionSeconds = options.historyRetentionSeconds ?? 86_400;
    this.branchesLimit = options.branchesLimit ?? 50;
    this.subscriptionType = options.subscriptionType ?? 'launch';
    this.log = options.log ?? (() => undefined);
    const roles = new Map(options.roles.map((role) => [role.name, { name: role.name, password: role.password, createdAt: options.sourceCreatedAt }]));
    this.defaultBranch = { id: this.newId('br'), name: 'main', createdAt: options.sourceCreatedAt, default: true, protected: false, state: 'ready', source: true, annotations: {}, roles };
    this.branches.set(this.defaultBranch.id, this.defaultBranch);
    this.addEndpoint(this.defaultBranch, options.sourceCompute ?? { minCu: 0.5, maxCu: 2 }, options.sourceCreatedAt);
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

  /** Lets branch creations held by the `never` outcome go on (and finish). */
  releaseHeld(): void {
    for (const release of this.held) release();
    this.held.clear();
  }

  /** Closes the API and removes every branch's local restore. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.releaseHeld();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await Promise.allSettled([...this.pending]);
    await Promise.allSettled([...this.branches.values()].map((branch) => discardLocal(branch)));
  }

  /** A branch that is not the default but holds the source's data too (a `production` branch of main, made when main was). */
  addSourceBranch(name: string, options: { protected?: boolean } = {}): BranchRecord {
    const record: BranchRecord = { ...this.addOtherBranch({ name, ...options }), createdAt: this.defaultBranch.createdAt, source: true, roles: copyRoles(this.defaultBranch.roles) };
    this.branches.set(record.id, record);
    this.addEndpoint(record, { minCu: 0.25, maxCu: 1 }, record.createdAt);
    return record;
  }

  /** A branch that is not ours: any name, any parent, no restore behind it. */
  addOtherBranch(options: { name: string; parentId?: string; annotations?: Record<string, string>; protected?: boolean; createdAt?: Date }): BranchRecord {
    const record: BranchRecord = {
      id: this.newId('br'),
      name: options.name,
      parentId: options.parentId ?? this.defaultBranch.id,
      createdAt: options.createdAt ?? new Date(),
      default: false,
      protected: options.protected ?? false,
      state: 'ready',
      annotations: options.annotations ?? {},
      roles: new Map(),
    };
    this.branches.set(record.id, record);
    return record;
  }

  /**
   * A role someone made in SQL on a branch (CREATE ROLE): Neon syncs its name from the compute and lists it,
   * but never learns its password. The role itself must be made in the branch's Postgres by the caller.
   */
  noteRoleMadeInSql(branch: BranchRecord, name: string, at = new Date()): void {
    branch.roles.set(name, { name, createdAt: at });
  }

  /** A role made through Neon (API or console) on a branch, whose password Neon stores. */
  noteRoleMadeByNeon(branch: BranchRecord, name: string, password: string, at = new Date()): void {
    branch.roles.set(name, { name, password, createdAt: at });
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

  /** Where a branch's compute listens (Neon's computes listen on 5432 at the endpoint's host; the emulator's on loopback). */
  computeAddress(endpointHost: string): { host: string; port: number } {
    const endpoint = [...this.endpoints.values()].find((e) => endpointHostOf(e.id) === endpointHost);
    if (endpoint?.port === undefined) throw new Error(`no running compute at ${endpointHost}`);
    return { host: '127.0.0.1', port: endpoint.port };
  }

  /** Removes a branch as Neon's own deletion would, without an API call (a test's clean-up). */
  discard(branch: BranchRecord): void {
    if (this.branches.has(branch.id)) this.removeBranch(branch);
  }

  /** Resolves once no branch of that name is left (and its restore is gone). */
  async gone(name: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.branchNamed(name)) {
      if (Date.now() > deadline) throw new Error(`branch ${name} is still there after ${timeoutMs} ms`);
      await delay(20);
    }
    await Promise.allSettled([...this.pending]);
  }

  /** Resolves once no operation of the project is scheduling or running (the project is unlocked). */
  async idle(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ([...this.operations.values()].some((op) => op.status === 'scheduling' || op.status === 'running')) {
      if (Date.now() > deadline) throw new Error(`operations still running after ${timeoutMs} ms`);
      await delay(20);
    }
  }

  /**
   * Neon's instant restore of a branch in place, as the console does it: the branch's name and compute move
   * to a new branch holding the restored state, and the branch itself (same id, its children with it) is kept
   * as `<name>_old_<timestamp>`. Returns the new branch. Only the default branch, whose data is the source.
   */
  restoreInPlace(branch: BranchRecord, at = new Date()): BranchRecord {
    if (!branch.source) throw new Error('the emulator restores in place only branches that hold the source');
    const backupName = `${branch.name}_old_${at.toISOString().replace(/\.\d{3}Z$/, 'Z')}`;
    const restored: BranchRecord = {
      id: this.newId('br'),
      name: branch.name,
      createdAt: at,
      default: branch.default,
      protected: branch.protected,
      state: 'ready',
      // The emulator cannot rewind the source cluster: the restored branch holds its data as of now.
      source: true,
      annotations: {},
      roles: copyRoles(branch.roles),
    };
    const endpoint = branch.endpointId ? this.endpoints.get(branch.endpointId) : undefined;
    if (endpoint) {
      endpoint.branchId = restored.id;
      restored.endpointId = endpoint.id;
      branch.endpointId = undefined;
    }
    Object.assign(branch, { name: backupName, default: false, source: false });
    this.branches.set(restored.id, restored);
    if (this.defaultBranch === branch) this.defaultBranch = restored;
    return restored;
  }

  private newId(prefix: 'br' | 'ep'): string {
    const pick = (list: string[]) => list[Math.floor(Math.random() * list.length)]!;
    return `${prefix}-${pick(WORDS)}-${pick(NOUNS)}-${randomUUID().replace(/-/g, '').slice(0, 8)}`;
  }

  private addEndpoint(branch: BranchRecord, compute: { minCu: number; maxCu: number }, at: Date): EndpointRecord {
    const endpoint: EndpointRecord = { id: this.newId('ep'), branchId: branch.id, state: 'idle', minCu: compute.minCu, maxCu: compute.maxCu, createdAt: at };
    this.endpoints.set(endpoint.id, endpoint);
    branch.endpointId = endpoint.id;
    return endpoint;
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
    // Neon takes the caller's X-Request-ID, or makes one.
    const given = request.headers['x-request-id'];
    const requestId = typeof given === 'string' && given ? given : randomUUID();
    const operation = route?.operation ?? 'unknown';
    const record: RequestRecord = { at: new Date(), method, path, operation, params, query: Object.fromEntries(url.searchParams), body, status: 0, requestId };
    this.requests.push(record);
    const answer = (status: number, value: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      if (route) {
        this.specChecked.responses++;
        const problems = neonSpec().checkResponse(route.operation, status, value);
        if (problems.length > 0) this.specProblems.push({ operation: route.operation, kind: 'response', status, problems });
      }
      response.writeHead(status, { 'content-type': 'application/json', 'x-neon-request-id': requestId, ...headers });
      response.end(status === 204 ? undefined : JSON.stringify(value));
    };
    try {
      this.expireBranches();
      if (!route) {
        this.specProblems.push({ operation, kind: 'request', problems: [`${method} ${url.pathname} is not a route this emulator serves`] });
        throw new NeonFault(404, '', `${method} ${url.pathname} is not a Neon API route this emulator serves`);
      }
      this.specChecked.requests++;
      const problems = neonSpec().checkRequest(route.operation, { method, params, query: record.query, body });
      if (request.headers.authorization !== `Bearer ${this.options.apiKey}`) {
        throw new NeonFault(401, '', 'authentication required: the API key is missing, malformed or revoked');
      }
      if (problems.length > 0) {
        this.specProblems.push({ operation: route.operation, kind: 'request', problems });
        throw new NeonFault(400, '', `request does not match the API: ${problems.join('; ')}`);
      }
      if (params.project_id !== this.projectId) throw new NeonFault(404, '', 'project not found');
      if (this.takeFault(this.faults.reset, route.operation)) {
        record.status = 0;
        record.answered = 'connection reset';
        request.socket.destroy();
        return;
      }
      if (this.takeFault(this.faults.badGateway, route.operation)) {
        // A proxy's page, not the API: nothing to hold to the document.
        record.status = 502;
        record.answered = 'bad gateway';
        response.writeHead(502, { 'content-type': 'text/html' });
        response.end('<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>');
        return;
      }
      this.injectedFault(route.operation);
      if (this.lockWhileOperationsRun && method !== 'GET' && [...this.operations.values()].some((op) => op.status === 'scheduling' || op.status === 'running')) {
        throw new NeonFault(423, '', LOCKED_MESSAGE, this.faults.retryAfterSeconds?.toString());
      }
      const { status, value } = await this.dispatch(route.operation, params, url.searchParams, body);
      this.log(`${method} ${path} -> ${status}`);
      if (this.takeFault(this.faults.lostAnswer, route.operation)) {
        record.status = 502;
        record.answered = `bad gateway (the call was carried out: ${status})`;
        response.writeHead(502, { 'content-type': 'text/html' });
        response.end('<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>');
        return;
      }
      answer(status, value);
    } catch (error) {
      const fault = error instanceof NeonFault ? error : new NeonFault(500, '', (error as Error).message);
      record.answered = fault.message;
      this.log(`${method} ${path} -> ${fault.status}: ${fault.message}`);
      answer(fault.status, { request_id: requestId, code: fault.code, message: fault.message }, fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {});
    }
  }

  private takeFault(counts: Map<string, number>, operation: string): boolean {
    const left = counts.get(operation) ?? 0;
    if (left > 0) counts.set(operation, left - 1);
    return left > 0;
  }

  private injectedFault(operation: string): void {
    const retryAfter = this.faults.retryAfterSeconds !== undefined ? String(this.faults.retryAfterSeconds) : undefined;
    if (this.takeFault(this.faults.locked, operation)) throw new NeonFault(423, '', LOCKED_MESSAGE, retryAfter);
    if (this.takeFault(this.faults.rateLimited, operation)) throw new NeonFault(429, '', 'rate limit exceeded', retryAfter);
    if (this.takeFault(this.faults.unavailable, operation)) throw new NeonFault(503, '', 'service temporarily unavailable', retryAfter);
    if (this.takeFault(this.faults.overLimit, operation)) throw new NeonFault(422, 'BRANCHES_LIMIT_EXCEEDED', 'branches limit exceeded');
  }

  /** Neon's background job: branches past their expires_at are deleted. */
  private expireBranches(now = new Date()): void {
    for (const branch of [...this.branches.values()]) {
      if (branch.expiresAt && Date.parse(branch.expiresAt) <= now.getTime() && !branch.default && !branch.protected) {
        this.log(`branch ${branch.name} expired at ${branch.expiresAt}: deleted`);
        this.removeBranch(branch);
      }
    }
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
      case 'countProjectBranches': {
        const search = query.get('search') ?? '';
        return { status: 200, value: { count: [...this.branches.values()].filter((b) => b.name.includes(search)).length } };
      }
      case 'getProjectBranch': {
        const branch = this.branch(params.branch_id!);
        // The document requires the annotation, even an empty one.
        return { status: 200, value: { branch: this.branchJson(branch), annotation: this.annotationJson(branch) } };
      }
      case 'createProjectBranch':
        return this.createBranch(body);
      case 'deleteProjectBranch':
        return this.deleteBranch(params.branch_id!);
      case 'restoreProjectBranch':
        return this.restoreBranch(params.branch_id!, body);
      case 'listProjectBranchEndpoints': {
        const branch = this.branch(params.branch_id!);
        return { status: 200, value: { endpoints: [...this.endpoints.values()].filter((e) => e.branchId === branch.id).map((e) => this.endpointJson(e)) } };
      }
      case 'getProjectBranchRole': {
        const branch = this.branch(params.branch_id!);
        const role = branch.roles.get(params.role_name!);
        if (!role) throw new NeonFault(404, '', `role "${params.role_name}" not found`);
        return { status: 200, value: { role: this.roleJson(branch, role) } };
      }
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

  /** The oldest point of a branch's history Neon still holds, by its own clock and rules. */
  private historyStart(parent: BranchRecord, now: Date): Date {
    const retentionStart = now.getTime() - this.historyRetentionSeconds * 1000;
    return new Date(Math.max(retentionStart, parent.createdAt.getTime(), this.historySizeCapStart?.getTime() ?? 0));
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
    if (this.branches.size >= this.branchesLimit) throw new NeonFault(422, 'BRANCHES_LIMIT_EXCEEDED', 'branches limit exceeded');
    const endpoints = request.endpoints ?? [];
    if (endpoints.filter((e) => e.type === 'read_write').length > 1) throw new NeonFault(400, '', 'a branch can have only one read_write endpoint');
    for (const e of endpoints) {
      if ((e.autoscaling_limit_min_cu ?? 0.25) > (e.autoscaling_limit_max_cu ?? e.autoscaling_limit_min_cu ?? 0.25)) {
        throw new NeonFault(400, '', 'autoscaling_limit_min_cu must not exceed autoscaling_limit_max_cu');
      }
    }
    const now = new Date();
    const expiresAt = request.branch?.expires_at;
    if (expiresAt !== undefined) {
      if (!SECONDS_RFC3339.test(expiresAt)) throw new NeonFault(400, '', `expires_at "${expiresAt}" must be RFC 3339 with precision up to seconds, such as 2025-06-09T18:02:16Z`);
      const at = Date.parse(expiresAt);
      if (at <= now.getTime()) throw new NeonFault(400, '', `expires_at ${expiresAt} is in the past`);
      if (at > now.getTime() + MAX_BRANCH_TTL_SECONDS * 1000) throw new NeonFault(400, '', `expires_at ${expiresAt} is more than 30 days ahead`);
    }
    let target: CopyTarget = { kind: 'latest' };
    let point = now;
    if (request.branch?.parent_timestamp !== undefined) {
      const time = new Date(request.branch.parent_timestamp);
      const start = this.historyStart(parent, now);
      if (this.historyRetentionSeconds === 0) throw new NeonFault(400, '', `parent_timestamp ${request.branch.parent_timestamp}: the project keeps no history (history_retention_seconds 0); branch from the head instead`);
      if (time < start) throw new NeonFault(400, '', `parent_timestamp ${time.toISOString()} is before the oldest point of the branch's history Neon keeps (${start.toISOString()})`);
      if (time > now) throw new NeonFault(400, '', `parent_timestamp ${time.toISOString()} is in the future`);
      target = { kind: 'time', time };
      point = time;
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
      annotations: this.faults.dropNextAnnotation ? {} : request.annotation_value ?? {},
      expiresAt,
      // The child holds the parent's roles as they were at the branch point; a protected parent's children get new passwords.
      roles: new Map(
        [...parent.roles.values()]
          .filter((role) => role.createdAt <= point)
          .map((role) => [role.name, { ...role, ...(parent.protected && role.password !== undefined ? { password: `npg_${randomBytes(9).toString('base64url')}` } : {}) }]),
      ),
    };
    this.faults.dropNextAnnotation = undefined;
    this.branches.set(branch.id, branch);
    const ops: OperationRecord[] = [this.newOperation(branch.id, 'create_branch', undefined)];
    const created: EndpointRecord[] = [];
    for (const e of endpoints) {
      const endpoint: EndpointRecord = { id: this.newId('ep'), branchId: branch.id, state: 'init', minCu: e.autoscaling_limit_min_cu ?? 0.25, maxCu: e.autoscaling_limit_max_cu ?? e.autoscaling_limit_min_cu ?? 0.25, createdAt: now };
      this.endpoints.set(endpoint.id, endpoint);
      created.push(endpoint);
      if (e.type === 'read_write') branch.endpointId = endpoint.id;
      ops.push(this.newOperation(branch.id, 'start_compute', endpoint.id));
    }
    this.track(this.materialize(branch, ops, target, parent));
    return {
      status: 201,
      value: {
        branch: this.branchJson(branch),
        endpoints: created.map((e) => this.endpointJson(e)),
        operations: ops.map((op) => this.operationJson(op)),
        roles: [...branch.roles.values()].map((role) => this.roleJson(branch, role)),
        databases: this.options.databases.map((db, i) => ({ id: i + 1, branch_id: branch.id, name: db, owner_name: this.options.roles[0]?.name ?? 'neondb_owner', created_at: now.toISOString(), updated_at: now.toISOString() })),
      },
    };
  }

  private deleteBranch(id: string): { status: number; value: unknown } {
    const branch = this.branch(id);
    if (branch.default) throw new NeonFault(400, '', 'cannot delete the project\'s default branch');
    if (branch.protected) throw new NeonFault(400, '', 'cannot delete a protected branch');
    if ([...this.branches.values()].some((b) => b.parentId === id)) throw new NeonFault(400, '', 'cannot delete a branch that has child branches');
    const ops = this.removeBranch(branch);
    return { status: 200, value: { branch: this.branchJson(branch), operations: ops.map((op) => this.operationJson(op)) } };
  }

  private removeBranch(branch: BranchRecord): OperationRecord[] {
    const ops = [this.newOperation(branch.id, 'delete_timeline', undefined)];
    if (branch.endpointId) ops.unshift(this.newOperation(branch.id, 'suspend_compute', branch.endpointId));
    for (const op of ops) op.status = 'running';
    this.branches.delete(branch.id);
    if (branch.endpointId) this.endpoints.delete(branch.endpointId);
    this.track(
      (async () => {
        await discardLocal(branch);
        for (const op of ops) Object.assign(op, { status: 'finished', updatedAt: new Date() });
      })(),
    );
    return ops;
  }

  /** restoreProjectBranch of a branch from its own history (source_branch_id = the branch), kept under preserve_under_name. */
  private restoreBranch(id: string, body: unknown): { status: number; value: unknown } {
    const branch = this.branch(id);
    const request = body as { source_branch_id: string; source_timestamp?: string; preserve_under_name?: string };
    if (request.source_branch_id !== id) throw new NeonFault(400, '', 'this emulator restores a branch only from its own history');
    if (!request.source_timestamp) throw new NeonFault(400, '', 'source_timestamp or source_lsn is required when source_branch_id is the branch itself');
    if (!request.preserve_under_name) throw new NeonFault(400, '', 'preserve_under_name is required when restoring a branch from its own history');
    const restored = this.restoreInPlace(branch);
    branch.name = request.preserve_under_name;
    const op = this.newOperation(restored.id, 'create_timeline', undefined);
    Object.assign(op, { status: 'finished', updatedAt: new Date() });
    return { status: 200, value: { branch: this.branchJson(restored), operations: [this.operationJson(op)] } };
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
    if (!this.storePasswords) throw new NeonFault(412, '', 'storing passwords is disabled for the project: Neon has no password to put in a connection URI');
    const role = branch.roles.get(roleName);
    if (!role) throw new NeonFault(404, '', `role "${roleName}" not found`);
    if (role.password === undefined) throw new NeonFault(404, '', `password for role "${roleName}" not found`);
    // Neon's URI names the endpoint's host (port 5432); the emulator's computes listen on loopback ports.
    const at = endpoint.port === undefined ? endpointHostOf(endpoint.id) : `127.0.0.1:${endpoint.port}`;
    const uri = `postgresql://${encodeURIComponent(role.name)}:${encodeURIComponent(role.password)}@${at}/${encodeURIComponent(database)}?sslmode=require`;
    return { status: 200, value: { uri } };
  }

  private newOperation(branchId: string, action: OperationRecord['action'], endpointId: string | undefined): OperationRecord {
    const now = new Date();
    const op: OperationRecord = { id: randomUUID(), branchId, endpointId, action, status: 'scheduling', failuresCount: 0, createdAt: now, updatedAt: now };
    this.operations.set(op.id, op);
    return op;
  }

  /** The branch's compute: a real local restore at the target, then every operation `finished` (or the injected end). */
  private async materialize(branch: BranchRecord, ops: OperationRecord[], target: CopyTarget, parent: BranchRecord): Promise<void> {
    const outcome = this.faults.nextOperation;
    this.faults.nextOperation = undefined;
    const set = (status: OperationRecord['status'], error?: string) => {
      for (const op of ops) {
        if (op.status === 'finished') continue;
        const failed = status === 'failed';
        Object.assign(op, { status, updatedAt: new Date(), ...(error ? { error } : {}), ...(failed ? { failuresCount: op.failuresCount + 1, retryAt: new Date(Date.now() + 1000) } : {}) });
      }
    };
    set('running');
    if (outcome === 'never') {
      // Held running (and the project locked) until releaseHeld().
      await new Promise<void>((resolve) => this.held.add(resolve));
      if (this.stopped || !this.branches.has(branch.id)) return;
    }
    if (outcome === 'failed') {
      set('failed', 'could not create the timeline: pageserver returned an internal error');
      return;
    }
    if (outcome === 'cancelled') {
      set('cancelled', 'the operation was cancelled');
      return;
    }
    if (outcome === 'failed-then-retried') {
      set('failed', 'could not create the timeline: pageserver returned an internal error');
      // Neon retries a failed operation by itself: seen failed by at least one poll, then running again.
      const seenFailed = this.requests.length;
      while (!this.requests.slice(seenFailed).some((r) => r.operation === 'getProjectOperation' && r.answered?.endsWith(' failed'))) {
        if (this.stopped || !this.branches.has(branch.id)) return;
        await delay(10);
      }
      set('running');
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
      if (parent.protected) await this.resetPasswords(branch);
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

  /** What Neon does to a child of a protected branch: the roles it knows get the branch's own new passwords. */
  private async resetPasswords(branch: BranchRecord): Promise<void> {
    const local = branch.local!;
    const client = newClient({ host: local.socketDir, port: local.port, database: 'postgres', user: 'postgres' });
    await client.connect();
    try {
      for (const role of branch.roles.values()) {
        if (role.password === undefined) continue;
        await client.query(`alter role "${role.name.replace(/"/g, '""')}" password '${role.password.replace(/'/g, "''")}'`);
      }
    } finally {
      await client.end();
    }
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch((error: Error) => this.log(`background work failed: ${error.message}`)).finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  private projectJson(): Record<string, unknown> {
    const created = this.options.sourceCreatedAt.toISOString();
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
      store_passwords: this.storePasswords,
      cpu_used_sec: 0,
      creation_source: 'console',
      owner_id: 'emulated-owner',
      owner: { email: 'owner@example.com', name: 'Emulated Owner', branches_limit: this.branchesLimit, subscription_type: this.subscriptionType },
      ...(this.allowedIps ? { settings: { allowed_ips: { ips: this.allowedIps.ips, protected_branches_only: this.allowedIps.protectedBranchesOnly } } } : {}),
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

  private roleJson(branch: BranchRecord, role: RoleRecord): Record<string, unknown> {
    // Never the password: getProjectBranchRole does not reveal it (reveal_password does).
    return { branch_id: branch.id, name: role.name, protected: false, created_at: role.createdAt.toISOString(), updated_at: role.createdAt.toISOString() };
  }

  private endpointJson(e: EndpointRecord): Record<string, unknown> {
    return {
      host: endpointHostOf(e.id),
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
      ...(op.retryAt ? { retry_at: op.retryAt.toISOString() } : {}),
      created_at: op.createdAt.toISOString(),
      updated_at: op.updatedAt.toISOString(),
      total_duration_ms: op.updatedAt.getTime() - op.createdAt.getTime(),
    };
  }
}

function endpointHostOf(id: string): string {
  return `${id}.us-east-2.aws.neon.tech`;
}

function copyRoles(roles: Map<string, RoleRecord>): Map<string, RoleRecord> {
  return new Map([...roles].map(([name, role]) => [name, { ...role }]));
}

/** Removes a branch's local restore once (a delete and an ending restore may both try). */
async function discardLocal(record: { local?: LocalCopyHandle | undefined }): Promise<void> {
  const local = record.local;
  record.local = undefined;
  if (local) await destroyCopy(local.name).catch(() => undefined);
}
