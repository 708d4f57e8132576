import { readFile } from 'node:fs/promises';
import { EndpointType, type Branch, type Project } from '@neondatabase/api-client';
import type { NeonProviderConfig } from '../../config/schema.ts';
import { NotOurCopyError, RestoreDrillError } from '../../errors.ts';
import { COPY_NAME } from '../copyName.ts';
import type { ConnectionInfo, CopyPoll, CopyTarget, ListedCopy, RestoreProvider, RestoreWindow } from '../types.ts';
import { DATABASE_ANNOTATION, EXPIRES_ANNOTATION, MANAGED_ANNOTATION, NeonApi, type NeonProviderOptions } from './api.ts';
import { neonBranchCapacity } from './capacity.ts';
import { NeonApiError, NeonBranchLimitError, NeonHistoryError, NeonParentRestoredError, NeonPasswordUnavailableError } from './errors.ts';

/** A Neon copy (a branch with one read-write endpoint), as plain JSON. */
export interface NeonCopyHandle {
  provider: 'neon';
  name: string;
  projectId: string;
  branchId: string;
  /** The configured branch the copy was made from. */
  parentId: string;
  endpointId?: string | undefined;
  /** The endpoint's host name: where the copy's compute listens (port 5432). */
  endpointHost?: string | undefined;
  /** The parent is protected: Neon gave the copy's roles passwords of their own. */
  parentProtected?: boolean | undefined;
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

/** Neon's terminal operation states: only these end an operation (the document's and neonctl's reading). */
const DONE = new Set(['finished', 'skipped']);
const CANCELLED = 'cancelled';
/** Branch expiry Neon accepts: RFC 3339 to the second, at most 30 days ahead. */
const MAX_EXPIRY_MS = 30 * 86_400_000;
/** The name Neon's console gives the frozen backup of a branch restored in place: `<name>_old_<timestamp>`. */
const RESTORE_BACKUP = /^(.+)_old_(.+)$/;
/** The smallest compute, when the parent has none to size the copy by. */
const SMALLEST_CU = 0.25;

/** The `neon` provider: point-in-time copies of one branch of a Neon project, as child branches. The parent is only ever read. */
export function neonProvider(config: NeonProviderConfig, options: NeonProviderOptions): RestoreProvider<NeonCopyHandle> {
  const api = new NeonApi(config, options);
  const projectId = config.projectId;
  const role = options.connection.user;

  async function project(): Promise<Project> {
    return (await api.call('getProject', api.projectLabel, (c) => c.getProject(projectId))).project;
  }

  async function ourBranch(handle: Pick<NeonCopyHandle, 'name' | 'branchId'>): Promise<{ branch: Branch; annotations: Record<string, string> } | undefined> {
    try {
      const answer = await api.call('getProjectBranch', `branch "${handle.branchId}" of ${api.projectLabel}`, (c) => c.getProjectBranch(projectId, handle.branchId));
      return { branch: answer.branch, annotations: answer.annotation?.value ?? {} };
    } catch (error) {
      if (error instanceof NeonApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  /**
   * The configured branch, refused when it is the frozen backup an instant restore left (`main_old_...`,
   * found by id) while another branch took its name: the drill would test yesterday's data forever. Also
   * returns the backups of the configured branch, whose children are copies made before the restore.
   */
  async function liveParent(): Promise<{ parent: Branch; backups: Branch[] }> {
    const parent = await api.parentBranch();
    const branches = await api.listBranches();
    const frozen = RESTORE_BACKUP.exec(parent.name);
    const successor = frozen ? branches.find((b) => b.name === frozen[1] && b.id !== parent.id) : undefined;
    if (successor) {
      throw new NeonParentRestoredError(
        `Neon branch ${parent.id} (provider.branch "${config.branch}") is now "${parent.name}": the frozen backup Neon kept when "${successor.name}" was restored in place. ` +
          `The live data is on branch "${successor.name}" (${successor.id}); set provider.branch to "${successor.name}" (by name, which follows restores) to drill it.`,
      );
    }
    return { parent, backups: backupsOf(parent, branches) };
  }

  /** Branches Neon kept as `<parent name>_old_<timestamp>` when the parent was restored in place. */
  function backupsOf(parent: Branch, branches: Branch[]): Branch[] {
    return branches.filter((b) => b.id !== parent.id && RESTORE_BACKUP.exec(b.name)?.[1] === parent.name);
  }

  /** Refuses (NotOurCopyError) anything but a branch we made from the configured branch (or its restore backup): never the parent, never the default branch. */
  function assertOurs(branch: Branch, annotations: Record<string, string>, parent: Branch, backups: Branch[], expectedName: string): void {
    const label = `Neon branch "${branch.name}" (${branch.id}) of ${api.projectLabel}`;
    if (branch.id === parent.id) throw new NotOurCopyError(`${label} is the configured branch itself (the source): restore-drill never removes it`);
    if (branch.default) throw new NotOurCopyError(`${label} is the project's default branch: restore-drill never removes it`);
    if (branch.protected) throw new NotOurCopyError(`${label} is protected: restore-drill never removes it`);
    if (!COPY_NAME.test(branch.name) || branch.name !== expectedName) {
      throw new NotOurCopyError(`${label} is not the restore-drill copy ${expectedName} (rd-<database>-<yyyymmddhhmmss>-<4 random>); restore-drill removes only its own copies`);
    }
    const backup = backups.find((b) => b.id === branch.parent_id);
    if (branch.parent_id !== parent.id && !(backup && annotations[DATABASE_ANNOTATION] === options.database)) {
      throw new NotOurCopyError(`${label} was not made from the configured branch "${parent.name}" (${parent.id}); restore-drill removes only copies of the branch it drills`);
    }
    if (annotations[MANAGED_ANNOTATION] !== 'true') {
      throw new NotOurCopyError(`${label} does not carry the annotation ${MANAGED_ANNOTATION}=true; restore-drill removes only copies it marked as its own`);
    }
  }

  /** The role's connection URI from Neon: it holds the password, so it is read only where a client connects. */
  async function connectionUri(ref: NeonCopyRef): Promise<URL> {
    const { uri } = await api.call(
      'getConnectionUri',
      `role "${role}"'s connection URI on the copy branch ${ref.name} of ${api.projectLabel}`,
      (c) =>
        c.getConnectionUri({
          projectId,
          branch_id: ref.branchId,
          ...(ref.endpointId ? { endpoint_id: ref.endpointId } : {}),
          database_name: options.connection.database,
          role_name: role,
        }),
      { notFound: `Neon cannot give the password of role "${role}" (connection.user) on the copy: a role made in SQL has no password Neon knows, and a role made after the target is not on the copy. Give its password in provider.password, or connect as a role Neon made.` },
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
    const neon = { name: handle.name, branchId: handle.branchId, ...(handle.endpointId ? { endpointId: handle.endpointId } : {}) };
    const configured = api.passwordSource();
    if (configured) {
      if (!handle.endpointHost) throw new RestoreDrillError('tool', `the copy ${handle.name} has no read-write endpoint host: Neon's createProjectBranch answer named none`);
      const address = options.endpointAddress?.(handle.endpointHost) ?? { host: handle.endpointHost, port: 5432 };
      return { ...address, database: options.connection.database, user: role, ssl: true, passwordFrom: configured, neon };
    }
    const url = await connectionUri(neon);
    return {
      host: url.hostname,
      port: url.port ? Number(url.port) : 5432,
      database: decodeURIComponent(url.pathname.replace(/^\//, '')) || options.connection.database,
      user: decodeURIComponent(url.username) || role,
      ssl: true,
      passwordFrom: handle.parentProtected
        ? `the copy's own password from the Neon API (its parent is protected, so Neon gave the copy's roles new passwords): neon connection-string ${handle.name} --project-id ${projectId} --role-name ${role}`
        : `the role's password from the Neon API (the copy's roles carry the parent's passwords as of the target): neon connection-string ${handle.name} --project-id ${projectId} --role-name ${role}`,
      neon,
    };
  }

  /**
   * Before any branch is made: can the checks log in to the copy? The role must be on the parent since before
   * the target (a later role is not on the copy), and a password must be had: provider.password, or one Neon
   * stores for the role (a role made in SQL has none).
   */
  async function checkLogin(parent: Branch, info: Project, target: CopyTarget): Promise<void> {
    const configured = await api.configuredPassword();
    let known: { created_at: string } | undefined;
    try {
      known = (await api.call('getProjectBranchRole', `role "${role}" on branch "${parent.name}"`, (c) => c.getProjectBranchRole(projectId, parent.id, role))).role;
    } catch (error) {
      if (!(error instanceof NeonApiError && error.status === 404)) throw error;
    }
    const at = target.kind === 'time' ? target.time : api.now();
    if (known && Date.parse(known.created_at) > at.getTime()) {
      throw new NeonPasswordUnavailableError(
        `role "${role}" (connection.user) was created on branch "${parent.name}" at ${known.created_at}, after the target ${at.toISOString()}: the copy will not have it. Choose a later target, or a role that existed then.`,
      );
    }
    if (configured !== undefined) return;
    if (!info.store_passwords) {
      throw new NeonPasswordUnavailableError(
        `Neon ${api.projectLabel} stores no role passwords (store_passwords false), so it cannot give the password of role "${role}" for the copy. Give it in provider.password ({ "env": ... } or { "secretArn": ... }).`,
      );
    }
    if (!known) {
      throw new NeonPasswordUnavailableError(
        `Neon does not know role "${role}" (connection.user) on branch "${parent.name}" of ${api.projectLabel}, so it cannot give its password for the copy. If the role was made in SQL, give its password in provider.password ({ "env": ... } or { "secretArn": ... }).`,
      );
    }
    // Neon lists roles made in SQL too, but knows no password for them: ask for the parent's URI (read only) and drop it.
    try {
      await api.call(
        'getConnectionUri',
        `role "${role}"'s connection URI on branch "${parent.name}" of ${api.projectLabel}`,
        (c) => c.getConnectionUri({ projectId, branch_id: parent.id, database_name: options.connection.database, role_name: role }),
      );
    } catch (error) {
      if (error instanceof NeonApiError && (error.status === 404 || error.status === 412)) {
        throw new NeonPasswordUnavailableError(
          `Neon cannot give the password of role "${role}" (connection.user) on branch "${parent.name}" (getConnectionUri ${error.status}: ${error.neonMessage || 'no message'}${error.requestId ? `; request_id ${error.requestId}` : ''}). ` +
            'A role made in SQL has no password Neon knows: give it in provider.password ({ "env": ... } or { "secretArn": ... }).',
        );
      }
      throw error;
    }
  }

  /** Before any branch is made: is the project below its plan's branch limit? Names the limit and our leftovers. */
  async function checkBranchLimit(info: Project): Promise<void> {
    const limit = info.owner?.branches_limit;
    if (!limit || limit <= 0) return;
    const branches = await api.listBranches();
    if (branches.length < limit) return;
    const ours = branches.filter((b) => COPY_NAME.test(b.name) && b.annotations[MANAGED_ANNOTATION] === 'true');
    const listed = ours.map((b) => `${b.name} (expires ${b.expires_at ?? b.annotations[EXPIRES_ANNOTATION] ?? 'never'})`).join(', ');
    throw new NeonBranchLimitError(
      `Neon ${api.projectLabel} has ${branches.length} branches, at its plan's limit of ${limit} (owner.branches_limit): a copy cannot be made. ` +
        (ours.length > 0 ? `${ours.length} of them are restore-drill copies: ${listed}; restore-drill janitor removes the expired ones. ` : '') +
        'Delete branches you no longer need, or raise the limit with the plan.',
    );
  }

  /** The copy's compute: the config's, else the parent's own read-write compute, so that counts on large tables take what production takes. */
  async function copyCompute(parent: Branch): Promise<{ min: number; max: number }> {
    if (config.copyCompute) return { min: config.copyCompute.minCu, max: config.copyCompute.maxCu };
    const { endpoints } = await api.call('listProjectBranchEndpoints', `the endpoints of branch "${parent.name}"`, (c) => c.listProjectBranchEndpoints(projectId, parent.id));
    const own = endpoints.find((e) => e.type === EndpointType.ReadWrite);
    if (!own) return { min: SMALLEST_CU, max: SMALLEST_CU };
    return { min: own.autoscaling_limit_min_cu, max: own.autoscaling_limit_max_cu };
  }

  /** Removes a copy branch after reading it back: refuses (NotOurCopyError) anything not ours. */
  async function removeCopy(handle: NeonCopyHandle): Promise<'gone' | undefined> {
    if (!COPY_NAME.test(handle.name)) throw new NotOurCopyError(`"${handle.name}" is not a restore-drill copy name (rd-<database>-<yyyymmddhhmmss>-<4 random>)`);
    const parent = await api.parentBranch();
    if (handle.branchId === parent.id) throw new NotOurCopyError(`branch ${handle.branchId} is the configured branch "${parent.name}" itself (the source): restore-drill never removes it`);
    const found = await ourBranch(handle);
    // Removed by someone else (the janitor, drop, Neon at its expires_at): nothing left to remove.
    if (!found) return 'gone';
    const backups = found.branch.parent_id === parent.id ? [] : backupsOf(parent, await api.listBranches());
    assertOurs(found.branch, found.annotations, parent, backups, handle.name);
    await deleteBranch(handle.name, handle.branchId);
    return undefined;
  }

  /** After a creation whose answer was lost: removes the branch it may have made (ours by name and mark), and says so. */
  async function withoutStrayCopy(error: NeonApiError, copyName: string): Promise<Error> {
    try {
      const stray = (await api.listBranches(copyName)).find((b) => b.name === copyName && b.annotations[MANAGED_ANNOTATION] === 'true');
      if (!stray) return new RestoreDrillError('tool', `${error.message}. No branch ${copyName} was made.`);
      await deleteBranch(copyName, stray.id);
      return new RestoreDrillError('tool', `${error.message}. Neon had made the branch ${copyName} (${stray.id}) all the same; it was removed.`);
    } catch (lookup) {
      return new RestoreDrillError('tool', `${error.message}. Whether Neon made the branch ${copyName} is unknown (${(lookup as Error).message}): restore-drill janitor, or Neon at its expiry, removes it.`);
    }
  }

  async function deleteBranch(name: string, branchId: string): Promise<void> {
    try {
      await api.call('deleteProjectBranch', `the copy branch ${name} (${branchId}) of ${api.projectLabel}`, (c) => c.deleteProjectBranch({ projectId, branchId }));
    } catch (error) {
      // Gone meanwhile (Neon's own expiry, or another run): nothing left to remove.
      if (!(error instanceof NeonApiError && error.status === 404)) throw error;
    }
  }

  return {
    kind: 'neon',

    async window(): Promise<RestoreWindow> {
      const info = await project();
      const { parent, backups } = await liveParent();
      const latest = api.now();
      if (info.history_retention_seconds <= 0) {
        throw new NeonHistoryError(
          `Neon ${api.projectLabel} keeps no history (history_retention_seconds 0): point-in-time restore is off, and no copy of an earlier time can be made. ` +
            'Set the project\'s history retention (Settings → Instant restore) to at least the RPO target, then drill again.',
        );
      }
      const retentionStart = latest.getTime() - info.history_retention_seconds * 1000;
      const created = Date.parse(parent.created_at);
      const notes: string[] = [];
      // The restore made one branch anew: the one that took the name (the branch itself) or the backup. Either way
      // the newer creation time of the two is when the restore happened.
      const restoredAt = backups.length === 0 ? 0 : Math.max(...[parent, ...backups].map((b) => Date.parse(b.created_at)).filter((t) => !Number.isNaN(t)));
      if (restoredAt > 0) {
        notes.push(`branch "${parent.name}" was restored in place at ${new Date(restoredAt).toISOString()} (its earlier state is kept as ${backups.map((b) => `"${b.name}"`).join(', ')}): its history starts there`);
      }
      if (/^free/.test(info.owner?.subscription_type ?? '')) {
        notes.push('on the Free plan Neon caps history by size as well as by time: the oldest restorable point may be later than the retention says');
      }
      const allowed = info.settings?.allowed_ips;
      if (allowed?.ips && allowed.ips.length > 0 && !allowed.protected_branches_only) {
        notes.push(`the project's IP Allow list (${allowed.ips.length} entries) applies to copies too: the host that runs the checks (this machine, or the Verify function's outbound address) must be on it, or limit the list to protected branches`);
      }
      const earliest = Math.max(retentionStart, Number.isNaN(created) ? retentionStart : created, restoredAt);
      return { earliest: new Date(earliest), latest, ...(notes.length > 0 ? { note: notes.join('; ') } : {}) };
    },

    async start({ target, copyName, expiresAt }) {
      if (!COPY_NAME.test(copyName)) throw new RestoreDrillError('input', `copy name ${JSON.stringify(copyName)} does not match rd-<database>-<yyyymmddhhmmss>-<4 random>`);
      const info = await project();
      const { parent } = await liveParent();
      await checkLogin(parent, info, target);
      await checkBranchLimit(info);
      const compute = await copyCompute(parent);
      // Neon deletes the branch itself at expires_at (whole seconds, at most 30 days ahead): a safety net when
      // the janitor cannot run. The annotation keeps the full expiry the janitor goes by.
      const neonExpiry = new Date(Math.min(expiresAt.getTime(), api.now().getTime() + MAX_EXPIRY_MS - 60_000));
      // Neon takes only a future expiry: a copy made already expired (the janitor's tests) carries the annotation alone.
      const withExpiry = neonExpiry.getTime() > api.now().getTime() + 60_000;
      const annotations = {
        [MANAGED_ANNOTATION]: 'true',
        [EXPIRES_ANNOTATION]: expiresAt.toISOString(),
        [DATABASE_ANNOTATION]: options.database,
      };
      let created;
      try {
        created = await api.call('createProjectBranch', `a copy of branch "${parent.name}" of ${api.projectLabel}${target.kind === 'time' ? ` at ${target.time.toISOString()}` : ''}`, (c) =>
          c.createProjectBranch(projectId, {
            branch: {
              parent_id: parent.id,
              name: copyName,
              ...(target.kind === 'time' ? { parent_timestamp: target.time.toISOString() } : {}),
              ...(withExpiry ? { expires_at: neonExpiry.toISOString().replace(/\.\d{3}Z$/, 'Z') } : {}),
            },
            endpoints: [{ type: EndpointType.ReadWrite, autoscaling_limit_min_cu: compute.min, autoscaling_limit_max_cu: compute.max }],
            annotation_value: annotations,
          }),
        );
      } catch (error) {
        // Neon refusing the timestamp means its history does not reach the target: the window was over-claimed.
        if (target.kind === 'time' && error instanceof NeonApiError && error.status === 400 && /timestamp|history|lsn/i.test(error.message)) {
          throw new NeonHistoryError(`Neon's history of branch "${parent.name}" does not reach the target ${target.time.toISOString()}: ${error.message}`);
        }
        // No answer, or a gateway's: Neon may have made the branch all the same. It is not retried (a second POST
        // could make a second copy); a branch of our name and mark is removed, so that none is left behind.
        if (error instanceof NeonApiError && [0, 500, 502, 504].includes(error.status)) throw await withoutStrayCopy(error, copyName);
        throw error;
      }
      const handle: NeonCopyHandle = {
        provider: 'neon',
        name: copyName,
        projectId,
        branchId: created.branch.id,
        parentId: parent.id,
        endpointId: created.endpoints.find((e) => e.type === EndpointType.ReadWrite)?.id,
        endpointHost: created.endpoints.find((e) => e.type === EndpointType.ReadWrite)?.host,
        parentProtected: parent.protected,
        operationIds: created.operations.map((operation) => operation.id),
        target: target.kind === 'latest' ? { kind: 'latest' } : { kind: 'time', time: target.time.toISOString() },
        expiresAt: expiresAt.toISOString(),
      };
      api.removeOnSignal(copyName, () => removeCopy(handle));
      // Ownership rests on the annotation: read it back now, while the branch is known to be ours by its id.
      const stored = await ourBranch(handle);
      const back = stored?.annotations ?? {};
      const missing = Object.entries(annotations).filter(([key, value]) => back[key] !== value).map(([key]) => key);
      if (stored && missing.length > 0) {
        await deleteBranch(copyName, handle.branchId);
        api.forgetOnSignal(copyName);
        throw new RestoreDrillError(
          'tool',
          `Neon made the copy branch ${copyName} (${handle.branchId}) but its annotation did not come back (${missing.join(', ')} missing): without it restore-drill could not recognise the copy as its own later, so it was removed at once. Try again; if it persists, report it to Neon.`,
        );
      }
      return handle;
    },

    async poll(handle): Promise<CopyPoll> {
      const waiting: string[] = [];
      for (const id of handle.operationIds) {
        const { operation } = await api.call('getProjectOperation', `operation ${id} of ${api.projectLabel}`, (c) => c.getProjectOperation(projectId, id));
        if (operation.status === CANCELLED) {
          return {
            state: 'failed',
            reason: `Neon operation ${operation.action} (${id}) for the copy branch ${handle.name} was cancelled${operation.error ? `: ${operation.error}` : ''}`,
          };
        }
        if (DONE.has(operation.status)) continue;
        // `failed` is not final: Neon retries a failed operation by itself (failures_count counts the tries).
        // The restore timeout bounds the wait; the detail says what Neon reported meanwhile.
        waiting.push(
          operation.status === 'failed' || operation.status === 'error'
            ? `${operation.action} ${operation.status} ${operation.failures_count} time(s), Neon retries it${operation.error ? ` (${operation.error})` : ''}`
            : `${operation.action} ${operation.status}`,
        );
      }
      if (waiting.length > 0) return { state: 'pending', detail: waiting.join(', ') };
      return { state: 'ready', connection: await connectionTo(handle), lastReplayedAt: null };
    },

    async destroy(handle) {
      const removed = await removeCopy(handle);
      api.forgetOnSignal(handle.name);
      return removed;
    },

    keep: (handle) => api.forgetOnSignal(handle.name),

    async connectionSecrets(connection: ConnectionInfo) {
      const ref = (connection as Partial<NeonConnection>).neon;
      if (!ref) throw new RestoreDrillError('tool', `the connection to ${connection.host}:${connection.port} does not name its Neon branch: it was not made by the neon provider's poll`);
      const ca = config.caFile ? await readFile(config.caFile, 'utf8') : undefined;
      const configured = await api.configuredPassword();
      if (configured !== undefined) return { user: connection.user, password: configured, ...(ca ? { ca } : {}) };
      const url = await connectionUri(ref);
      return { user: decodeURIComponent(url.username) || connection.user, password: decodeURIComponent(url.password), ...(ca ? { ca } : {}) };
    },

    copyNameOf: (handle) => handle.name,

    capacity: async () => `Neon project ${config.projectId}: ${(await neonBranchCapacity(config, options)).summary}`,

    async listCopies(): Promise<ListedCopy<NeonCopyHandle>[]> {
      const parent = await api.parentBranch();
      const all = await api.listBranches();
      // Copies made before the parent was restored in place are children of its backup: still ours to remove.
      const backups = new Set(backupsOf(parent, all).map((b) => b.id));
      const copies: ListedCopy<NeonCopyHandle>[] = [];
      for (const branch of all) {
        if (!COPY_NAME.test(branch.name) || branch.annotations[MANAGED_ANNOTATION] !== 'true') continue;
        const ofParent = branch.parent_id === parent.id;
        const ofBackup = branch.parent_id !== undefined && backups.has(branch.parent_id) && branch.annotations[DATABASE_ANNOTATION] === options.database;
        if (!ofParent && !ofBackup) continue;
        const expiresAt = readableTime(branch.annotations[EXPIRES_ANNOTATION]) ?? readableTime(branch.expires_at);
        copies.push({
          name: branch.name,
          expiresAt,
          handle: {
            provider: 'neon',
            name: branch.name,
            projectId,
            branchId: branch.id,
            parentId: branch.parent_id ?? parent.id,
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
