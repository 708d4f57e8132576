import type { CheckResult } from '../checks/types.ts';
import type { FailureKind } from '../errors.ts';

export type DrillStatus = 'passed' | 'failed' | 'error';
export type DrillStep = 'plan' | 'restore' | 'wait' | 'verify' | 'report' | 'cleanup';
export type Trigger = 'cli' | 'schedule' | 'manual';

/** What became of a drill's copy (DrillReport.copy.fate). */
export type CopyFate = 'removed' | 'gone' | 'kept' | 'left-to-janitor' | 'cleanup-failed' | 'never-made';

/**
 * One drill of one database. Each number means what the design's table "One name for each number"
 * says; seconds are rounded to milliseconds; null where a step did not get that far.
 */
export interface DrillReport {
  /**
   * Names the report's file and bucket key (lib/report/drillId.ts): set at the first write, kept by
   * every later one. Absent in reports written before it existed.
   */
  drillId?: string;
  database: string;
  provider: string;
  status: DrillStatus;
  target: { requested: string; time: string | null };
  window: { earliest: string; latest: string; note?: string } | null;
  /**
   * The source as AWS names it for good (RDS: its DbiResourceId, Aurora: its DbClusterResourceId):
   * what its retained automated backups are found by once it is deleted (provider.sourceResourceId).
   */
  source?: { resourceId: string };
  /** `measuredBy`: the evidence behind measuredLagSeconds (set with it). */
  rpo: { targetSeconds: number; claimedSeconds: number | null; measuredLagSeconds: number | null; measuredBy?: string; compliant: boolean | null };
  rto: {
    targetSeconds: number;
    restoreSeconds: number | null;
    verifySeconds: number | null;
    totalSeconds: number | null;
    compliant: boolean | null;
  };
  checks: CheckResult[];
  /** The base backup the copy came from (local provider): its files' verification, and every backup skipped with why. */
  backup?: {
    used: string;
    files: string;
    filesVerifiedBy: string;
    skipped: { name: string; reason: string }[];
    /** The backup as its tool names it (pgBackRest: label, full/diff/incr, stop time) and the tool that restored the copy. */
    label?: string;
    type?: string;
    stopTime?: string;
    tool?: string;
    /** Which recovery path ran: `throwaway` (a drill's copy, fsync off) or `durable` (restore --keep), with the settings that differ. */
    recovery?: { path: 'throwaway' | 'durable'; settings: string[]; stagedWalSegments?: number };
    /** Whether the copy's server ran in a network namespace of its own (local and pgBackRest copies), and how or why not. */
    network?: { isolated: boolean; how: string };
  };
  copy: {
    name: string | null;
    kept: boolean;
    removed: boolean;
    /** Set for a kept copy: when the janitor may remove it. */
    expiresAt?: string;
    /** Set for a kept copy: how to reach it (never a password). */
    connection?: { host: string; port: number; database: string; user: string; passwordFrom: string };
    /** Why removal failed; the janitor removes the copy after its expiry. */
    removeError?: string;
    /** The provider could not remove the copy yet (RDS refused it in its state): the janitor will, after expiresAt. */
    removalLeftToJanitor?: boolean;
    /** false: the drill stopped before the copy was made (or its start undid itself): nothing to remove. */
    made?: false;
    /**
     * What really became of the copy, as cleanup found it: `removed` by this drill; `gone`, removed by
     * someone else first (a person's drop, the janitor), so this drill removed nothing; `kept`;
     * `left-to-janitor` (the provider refused for now); `cleanup-failed`; `never-made`. Absent in
     * reports written before it existed.
     */
    fate?: CopyFate;
    /** One sentence on the fate when it is not plain (gone, found by name after a lost Start). */
    note?: string;
  };
  startedAt: string;
  finishedAt: string;
  /** `name`: the error's stable name (ConfigError, AwsApiError, NeonApiError, or Lambda's error type such as States.Timeout). */
  error?: { step: DrillStep; message: string; kind: FailureKind; name?: string };
  toolVersion: string;
  trigger: Trigger;
  /**
   * How many drills of the run could run at once, against the machine's cores: local drills beyond
   * the cores slow each other, and their restore and RTO times with them (set by the CLI's runner).
   */
  concurrency?: { configured: number; drillsAtOnce: number; cores: number };
  /** What became of the run's Slack message and metrics: set after they were tried; never changes `status`. */
  delivery?: { slack?: DeliveryOutcome; metrics?: DeliveryOutcome };
  /** Set when a signing key is configured: see ReportSignature. */
  signature?: ReportSignature;
}

/**
 * A detached Ed25519 signature over the report's canonical JSON (keys sorted, no whitespace, this
 * object without `value`): lib/evidence/signing.ts. `keyId`: the first 16 hex digits of the SHA-256
 * of the public key's SubjectPublicKeyInfo.
 */
export interface ReportSignature {
  algorithm: 'Ed25519';
  keyId: string;
  /** Base64. */
  value: string;
}

/** One attempt to hand a report on (Slack, CloudWatch, an EMF file); `error` never holds a secret. */
export interface DeliveryOutcome {
  ok: boolean;
  /** `slack`, `cloudwatch`, `emf <file>` (CLI) or `emf stdout` (Lambda). */
  to: string;
  attempts: number;
  error?: string;
  at: string;
}

export interface RunResult {
  status: DrillStatus;
  drills: DrillReport[];
}
