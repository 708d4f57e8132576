import { COPY_NAME } from '../copyName.ts';
import { EXPIRES_ANNOTATION, MANAGED_ANNOTATION, NeonApi, type NeonProviderOptions } from './api.ts';
import type { NeonProviderConfig } from '../../config/schema.ts';

/** How close a Neon project is to its plan's branch limit, and how much of it is ours: what the janitor reports. */
export interface NeonBranchCapacity {
  projectId: string;
  branches: number;
  /** owner.branches_limit; null when Neon reports none. */
  limit: number | null;
  /** Branches a new copy could still take (null without a limit). */
  free: number | null;
  /** Our copies among them, with the expiry the janitor goes by. */
  copies: { name: string; expiresAt: string | null }[];
  /** One line for people: "9 of 10 branches (2 restore-drill copies): 1 free". */
  summary: string;
}

/** Reads the project's branch limit and its branches (read only). */
export async function neonBranchCapacity(config: NeonProviderConfig, options: Omit<NeonProviderOptions, 'connection' | 'database'> = {}): Promise<NeonBranchCapacity> {
  const api = new NeonApi(config, { ...options, connection: { database: 'postgres', user: 'postgres' }, database: '' });
  const { project } = await api.call('getProject', api.projectLabel, (c) => c.getProject(config.projectId));
  const branches = await api.listBranches();
  const limit = project.owner?.branches_limit && project.owner.branches_limit > 0 ? project.owner.branches_limit : null;
  const copies = branches
    .filter((b) => COPY_NAME.test(b.name) && b.annotations[MANAGED_ANNOTATION] === 'true')
    .map((b) => ({ name: b.name, expiresAt: b.annotations[EXPIRES_ANNOTATION] ?? b.expires_at ?? null }));
  const free = limit === null ? null : Math.max(0, limit - branches.length);
  const ours = `${copies.length} restore-drill ${copies.length === 1 ? 'copy' : 'copies'}`;
  const summary = limit === null
    ? `${branches.length} branches (${ours}); Neon reports no branch limit`
    : `${branches.length} of ${limit} branches (${ours}): ${free === 0 ? 'at the limit, no copy can be made' : `${free} free`}`;
  return { projectId: config.projectId, branches: branches.length, limit, free, copies, summary };
}
