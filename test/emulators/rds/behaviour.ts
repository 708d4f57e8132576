import { seededRandom } from '../../support/random.ts';
/**
 * How the emulator behaves where RDS in production differs from a tidy model of it, each behaviour
 * seeded so that a test sees the same sequence on every run:
 * - the latest restorable time trails the clock (RDS uploads the transaction logs every 5 minutes);
 * - a restored copy passes through several statuses before it settles, and may flap back after
 *   `available` (time-based, so a copy can change under a client that looked only once);
 * - right after a create, Describe may briefly answer NotFound (eventual consistency);
 * - Describe answers come in pages (Marker, MaxRecords).
 */


/** One status of a copy's lifecycle after its data is restored, held for `ms` (the last one for good). */
export interface LifecycleStep {
  status: string;
  ms: number;
}

/**
 * Shapes a restored RDS instance goes through after `creating`, as the RDS user guide lists the
 * statuses: backups and the options of the restore being applied, reboots, storage optimisation
 * (fully usable, and it can last hours), and flaps back after a first `available`.
 */
export const INSTANCE_LIFECYCLES: Readonly<Record<string, readonly LifecycleStep[]>> = {
  backingUp: [{ status: 'backing-up', ms: 120 }, { status: 'available', ms: 0 }],
  configuring: [
    { status: 'modifying', ms: 60 },
    { status: 'configuring-enhanced-monitoring', ms: 60 },
    { status: 'configuring-iam-database-auth', ms: 60 },
    { status: 'configuring-log-exports', ms: 60 },
    { status: 'available', ms: 0 },
  ],
  flapAfterAvailable: [{ status: 'available', ms: 100 }, { status: 'rebooting', ms: 1_500 }, { status: 'available', ms: 0 }],
  storageOptimization: [{ status: 'backing-up', ms: 60 }, { status: 'storage-optimization', ms: 0 }],
  modifyingTwice: [{ status: 'available', ms: 40 }, { status: 'modifying', ms: 150 }, { status: 'available', ms: 40 }, { status: 'modifying', ms: 150 }, { status: 'available', ms: 0 }],
};

/** Aurora clusters after `creating`: their own statuses, never an instance's. */
export const CLUSTER_LIFECYCLES: Readonly<Record<string, readonly LifecycleStep[]>> = {
  backingUp: [{ status: 'backing-up', ms: 100 }, { status: 'available', ms: 0 }],
  flapAfterAvailable: [{ status: 'available', ms: 60 }, { status: 'modifying', ms: 300 }, { status: 'available', ms: 0 }],
  direct: [{ status: 'available', ms: 0 }],
};

/** Statuses in which a copy does not accept connections (RDS has taken the server down or not yet up). */
export const UNREACHABLE_STATUSES = new Set(['creating', 'rebooting', 'starting', 'stopping', 'stopped', 'deleting', 'resetting-master-credentials', 'upgrading']);

/** Statuses RDS gives a DB instance whose restore ended without a usable copy. */
export const INSTANCE_FAILED_OUTCOMES = ['incompatible-restore', 'failed', 'incompatible-parameters', 'incompatible-network', 'storage-full', 'inaccessible-encryption-credentials'] as const;
/** Statuses an Aurora DB cluster ends in without a usable copy (the Aurora user guide's cluster statuses). */
export const CLUSTER_FAILED_OUTCOMES = ['migration-failed', 'cloning-failed', 'inaccessible-encryption-credentials', 'inaccessible-encryption-credentials-recoverable'] as const;

export interface RdsBehaviour {
  /** Every draw below comes from this seed. @default 1 */
  seed?: number;
  /** The emulator's clock, for the latest restorable time (a test may run the world later than now). @default the real clock */
  clock?: () => Date;
  /**
   * The latest restorable time is the last transaction-log upload: one every `everyMs`, each late by
   * up to `jitterMs`. Without it, the latest restorable time is the archive's last transaction, at once.
   */
  logUploads?: { everyMs: number; jitterMs: number };
  /** The shapes a restored instance's status passes through; one drawn per copy. @default straight to available */
  instanceLifecycles?: readonly (readonly LifecycleStep[])[];
  /** The same for a restored cluster. */
  clusterLifecycles?: readonly (readonly LifecycleStep[])[];
  /** Describe by identifier of an instance or cluster just created answers NotFound this many times first. @default 0 */
  notFoundAfterCreate?: number;
  /** The most records a Describe answers in one page, whatever MaxRecords asks (RDS answers at most 100). @default 100 */
  pageSize?: number;
}

/**
 * The latest restorable time under log uploads: the newest upload at or before `now`, uploads at
 * k * everyMs + phase + jitter_k, with phase and each jitter drawn from the seed.
 */
export function lastUpload(now: Date, seed: number, uploads: { everyMs: number; jitterMs: number }): Date {
  const phase = seededRandom(seed * 7919)() * uploads.everyMs;
  const jitter = (k: number) => seededRandom(seed * 104729 + k)() * uploads.jitterMs;
  let k = Math.floor((now.getTime() - phase) / uploads.everyMs);
  for (let guard = 0; guard < 4; guard++, k--) {
    const at = k * uploads.everyMs + phase + jitter(k);
    if (at <= now.getTime()) return new Date(at);
  }
  return new Date(k * uploads.everyMs + phase);
}

/** A Describe's page: records from the marker on, at most min(MaxRecords, pageSize), and the next marker. */
export function page<T>(items: readonly T[], marker: string | undefined, maxRecords: number, pageSize: number): { items: T[]; marker?: string } {
  const start = marker ? Number(Buffer.from(marker, 'base64url').toString('utf8').replace(/^offset:/, '')) : 0;
  const size = Math.min(maxRecords, pageSize);
  const slice = items.slice(start, start + size);
  const next = start + size < items.length ? Buffer.from(`offset:${start + size}`, 'utf8').toString('base64url') : undefined;
  return { items: slice, ...(next ? { marker: next } : {}) };
}

export function isValidMarker(marker: string): boolean {
  return /^offset:\d+$/.test(Buffer.from(marker, 'base64url').toString('utf8'));
}
