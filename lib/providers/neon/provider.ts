import { readFile } from 'node:fs/promises';
import { EndpointType, type Branch } from '@neondatabase/api-client';
import type { NeonProviderConfig } from '../../config/schema.ts';
import { NotOurCopyError, RestoreDrillError } from '../../errors.ts';
import { COPY_NAME } from '../copyName.ts';
import type { ConnectionInfo, CopyPoll, ListedCopy, RestoreProvider, RestoreWindow } from '../types.ts';
import { DATABASE_ANNOTATION, EXPIRES_ANNOTATION, MANAGED_ANNOTATION, NeonApi, type NeonProviderOptions } from './api.ts';
import { NeonApiError } from './errors.ts';

/** A Neon copy (a branch with one read-write endpoint), as plain JSON. */
export interface NeonCopyHandle {
  provider: 'neon';
  name: string;
  projectId: string;
  branchId: string;
  /** The configured branch the copy was made from. */
  parentId: string;
  endpointId?: string | undefined;
  /** Operations createProjectBranch started: the copy is usable once all have finished. */
  operationIds: string[];
  target: { kind: 'latest' } | { kind: 'time'; time: string };
  expiresAt: string;
}

/** Which branch and endpoint a connection leads to (no secret): connectionSecrets asks Neon for that role's URI again. */
interface NeonCopyRef {
  name: string;
  branchId: string;
  endpointId?: string | undefined;
}

type NeonConnection = ConnectionInfo & { neon: NeonCopyRef };

const DONE = new Set(['finished', 'skipped']);
// Neon may retry a `failed` operation by itself, but a drill stops at the first failure: a restore
// that only works on a second try is what a drill is there to show.
const FAILED = new Set(['failed', 'error', 'cancelling', 'cancelled']);

/** The `neon` provider: point-in-time copies of one branch of a Neon project, as child branches. The parent is only ever read. */
export function neonProvider(config: NeonProviderConfig, options: NeonProviderOptions): RestoreProvider<NeonCopyHandle> {
  const api = new NeonApi(config, options);
  const projectId = config.projectId;

  async function ourBranch(handle: Pick<NeonCopyHandle, 'name' | 'branchId'>): Promise<{ branch: Branch; annotations: Record<string, string> } | undefined> {
    try {
      const answer = await api.call('getProjectBranch', `branch "${handle.branchId}" of ${api.projectLabel}`, (c) => c.getProjectBranch(projectId, handle.branchId));
      return { branch: answer.branch, annotations: answer.annotation?.value ?? {} };
    } catch (error) {
      if (error instanceof NeonApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  /** Refuses (NotOurCopyError) anything but a branch we made from the configured branch: never the parent, never the default branch. */
  function assertOurs(branch: Branch, annotations: Record<string, string>, parent: Branch, expectedName: string): void {
    const label = `Neon branch "${branch.name}" (${branch.id}) of ${api.projectLabel}`;
    if (branch.id === parent.id) throw new NotOurCopyError(`${label} is the configured branch itself (the source): restore-drill never removes it`);
    if (branch.default) throw new NotOurCopyError(`${label} is the project's default branch: restore-drill never removes it`);
    if (branch.protected) throw new NotOurCopyError(`${label} is protected: restore-drill never removes it`);
    if (!COPY_NAME.test(branch.name) || branch.name !== expectedName) {
      throw new NotOurCopyError(`${label} is not the restore-drill copy ${expectedName} (rd-<database>-<yyyymmddhhmmss>-<4 random>); restore-drill removes only its own copies`);
    }
    if (branch.parent_id !== parent.id) {
      throw new NotOurCopyError(`${label} was not made from the configured branch "${parent.name}" (${parent.id}); restore-drill removes only copies of the branch it drills`);
    }
    if (annotations[MANAGED_ANNOTATION] !== 'true') {
      throw new NotOurCopyError(`${label} does not carry the annotation ${MANAGED_ANNOTATION}=true; restore-drill removes only copies it marked as its own`);
    }
  }

  /** The role's connection URI from Neon: it holds the password, so it is read only where a client connects. */
  async function connectionUri(ref: NeonCopyRef): Promise<URL> {
    const { uri } = await api.call('getConnectionUri', `the copy branch ${ref.name} of ${api.projectLabel}`, (c) =>
      c.getConnectionUri({
        projectId,
        branch_id: ref.branchId,
        ...(ref.endpointId ? { endpoint_id: ref.endpointId } : {}),
        database_name: options.connection.database,
        role_name: options.connection.user,
      }),
    );
    try {
      return new URL(uri);
    } catch {
      // Never the URI in a message: it holds the role's password.
      throw new RestoreDrillError('tool', `Neon answered getConnectionUri for ${ref.name} with something that is not a postgresql:// URI`);
    }
  }

  /** Where a ready copy is and who logs in: what poll returns, without the password or the CA bundle. */
  async function connectionTo(handle: NeonCopyHandle): Promise<NeonConnection> {
    const url = await connectionUri({ name: handle.name, branchId: handle.branchId, endpointId: handle.endpointId });
    return {
      host: url.hostname,
      port: url.port ? Number(url.port) : 5432,
      database: decodeURIComponent(url.pathname.replace(/^\//, '')) || options.connection.database,
      user: decodeURIComponent(url.username) || options.connection.user,
      ssl: true,
      passwordFrom: `the role's password from the Neon API (getConnectionUri; the copy's roles are the parent branch's): neon connection-string ${handle.name} --project-id ${projectId} --role-name ${options.connection.user}`,
      neon: { name: handle.name, branchId: handle.branchId, ...(handle.endpointId ? { endpointId: handle.endpointId } : {}) },
    };
  }

  /** Removes a copy branch after reading it back: refuses (NotOurCopyError) anything not ours. */
  async function removeCopy(handle: NeonCopyHandle): Promise<void> {
    if (!COPY_NAME.test(handle.name)) throw new NotOurCopyError(`"${handle.name}" is not a restore-drill copy name (rd-<database>-<yyyymmddhhmmss>-<4 random>)`);
    const parent = await api.parentBranch();
    if (handle.branchId === parent.id) throw new NotOurCopyError(`branch ${handle.branchId} is the configured branch "${parent.name}" itself (the source): restore-drill never removes it`);
    const found = await ourBranch(handle);
    if (!found) return;
    assertOurs(found.branch, found.annotations, parent, handle.name);
    await api.call('deleteProjectBranch', `the copy branch ${handle.name} (${handle.branchId}) of ${api.projectLabel}`, (c) =>
      c.deleteProjectBranch({ projectId, branchId: handle.branchId }),
    );
  }

  return {
    kind: 'neon',

    async window(): Promise<RestoreWindow> {
      const { project } = await api.call('getProject', api.projectLabel, (c) => c.getProject(projectId));
      const parent = await api.parentBranch();
      const latest = api.now();
      const retentionStart = latest.getTime() - project.history_retention_seconds * 1000;
      const created = Date.parse(parent.created_at);
      return { earliest: new Date(Math.max(retentionStart, Number.isNaN(created) ? retentionStart : created)), latest };
    },

    async start({ target, copyName, expiresAt }) {
      if (!COPY_NAME.test(copyName)) throw new RestoreDrillError('input', `copy name ${JSON.stringify(copyName)} does not match rd-<database>-<yyyymmddhhmmss>-<4 random>`);
      const parent = await api.parentBranch();
      const created = await api.call('createProjectBranch', `a copy of branch "${parent.name}" of ${api.projectLabel}${target.kind === 'time' ? ` at ${target.time.toISOString()}` : ''}`, (c) =>
        c.createProjectBranch(projectId, {
          branch: {
            parent_id: parent.id,
            name: copyName,
            ...(target.kind === 'time' ? { parent_timestamp: target.time.toISOString() } : {}),
          },
          // One read-write endpoint of the smallest compute: the checks only read.
          endpoints: [{ type: EndpointType.ReadWrite, autoscaling_limit_min_cu: 0.25, autoscaling_limit_max_cu: 0.25 }],
          annotation_value: {
            [MANAGED_ANNOTATION]: 'true',
            [EXPIRES_ANNOTATION]: expiresAt.toISOString(),
            [DATABASE_ANNOTATION]: options.database,
          },
        }),
      );
      const handle: NeonCopyHandle = {
        provider: 'neon',
        name: copyName,
        projectId,
        branchId: created.branch.id,
        parentId: parent.id,
        endpointId: created.endpoints.find((e) => e.type === EndpointType.ReadWrite)?.id,
        operationIds: created.operations.map((operation) => operation.id),
        target: target.kind === 'latest' ? { kind: 'latest' } : { kind: 'time', time: target.time.toISOString() },
        expiresAt: expiresAt.toISOString(),
      };
      api.removeOnSignal(copyName, () => removeCopy(handle));
      return handle;
    },

    async poll(handle): Promise<CopyPoll> {
      const waiting: string[] = [];
      for (const id of handle.operationIds) {
        const { operation } = await api.call('getProjectOperation', `operation ${id} of ${api.projectLabel}`, (c) => c.getProjectOperation(projectId, id));
        if (FAILED.has(operation.status)) {
          return {
            state: 'failed',
            reason: `Neon operation ${operation.action} (${id}) for the copy branch ${handle.name} ended ${operation.status}${operation.error ? `: ${operation.error}` : ''}${operation.failures_count ? ` after ${operation.failures_count} failures` : ''}`,
          };
        }
        if (!DONE.has(operation.status)) waiting.push(`${operation.action} ${operation.status}`);
      }
      if (waiting.length > 0) return { state: 'pending', detail: waiting.join(', ') };
      return { state: 'ready', connection: await connectionTo(handle), lastReplayedAt: null };
    },

    async destroy(handle) {
      await removeCopy(handle);
      api.forgetOnSignal(handle.name);
    },

    keep: (handle) => api.forgetOnSignal(handle.name),

    async connectionSecrets(connection: ConnectionInfo) {
      const ref = (connection as Partial<NeonConnection>).neon;
      if (!ref) throw new RestoreDrillError('tool', `the connection to ${connection.host}:${connection.port} does not name its Neon branch: it was not made by the neon provider's poll`);
      const url = await connectionUri(ref);
      const ca = config.caFile ? await readFile(config.caFile, 'utf8') : undefined;
      return { user: decodeURIComponent(url.username) || connection.user, password: decodeURIComponent(url.password), ...(ca ? { ca } : {}) };
    },

    copyNameOf: (handle) => handle.name,

    async listCopies(): Promise<ListedCopy<NeonCopyHandle>[]> {
      const parent = await api.parentBranch();
      const copies: ListedCopy<NeonCopyHandle>[] = [];
      for (const branch of await api.listBranches('rd-')) {
        if (!COPY_NAME.test(branch.name) || branch.annotations[MANAGED_ANNOTATION] !== 'true' || branch.parent_id !== parent.id) continue;
        const expiresAt = readableTime(branch.expires_at) ?? readableTime(branch.annotations[EXPIRES_ANNOTATION]);
        copies.push({
          name: branch.name,
          expiresAt,
          handle: {
            provider: 'neon',
            name: branch.name,
            projectId,
            branchId: branch.id,
            parentId: parent.id,
            operationIds: [],
            target: { kind: 'latest' },
            expiresAt: expiresAt?.toISOString() ?? '',
          },
        });
      }
      return copies;
    },
  };
}

function readableTime(text: string | undefined): Date | null {
  const time = text ? new Date(text) : undefined;
  return time && !Number.isNaN(time.getTime()) ? time : null;
}
