/**
 * What a failure means for the drill's outcome and the CLI's exit code:
 * - `input`: the request cannot be carried out as given (config, arguments, a target outside the
 *   window, a copy that is not ours); nothing was created. Exit 2.
 * - `backup`: the backups cannot deliver what was asked (a hole in the WAL, a restore that failed or
 *   timed out). The drill is `failed`. Exit 1.
 * - `tool`: restore-drill itself could not finish (an unreachable API, a bug). The drill is `error`. Exit 3.
 */
export type FailureKind = 'input' | 'backup' | 'tool';

/** Base of every error restore-drill raises on purpose. Names are stable: Step Functions matches on them. */
export class RestoreDrillError extends Error {
  readonly kind: FailureKind;

  constructor(kind: FailureKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RestoreDrillError';
    this.kind = kind;
  }
}

export class ConfigError extends RestoreDrillError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('input', message, options);
    this.name = 'ConfigError';
  }
}

export class TargetOutsideWindowError extends RestoreDrillError {
  constructor(message: string) {
    super('input', message);
    this.name = 'TargetOutsideWindowError';
  }
}

/**
 * The target is later than the latest restorable time: the backups do not reach it. Not bad input
 * but the very failure a drill looks for (log uploads that stopped, a WAL archive that ends early).
 */
export class TargetBeyondBackupsError extends RestoreDrillError {
  constructor(message: string) {
    super('backup', message);
    this.name = 'TargetBeyondBackupsError';
  }
}

export class NotOurCopyError extends RestoreDrillError {
  constructor(message: string) {
    super('input', message);
    this.name = 'NotOurCopyError';
  }
}

/** There is no such copy (any more): removed by someone else (drop, the janitor), or never made. Nothing is touched. */
export class CopyGoneError extends NotOurCopyError {
  constructor(message: string) {
    super(message);
    this.name = 'CopyGoneError';
  }
}

/** Postgres binaries of the needed major version, or a user to run them as, are not to be had. */
export class EnvironmentError extends RestoreDrillError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('input', message, options);
    this.name = 'EnvironmentError';
  }
}

export class NoBaseBackupError extends RestoreDrillError {
  constructor(message: string) {
    super('backup', message);
    this.name = 'NoBaseBackupError';
  }
}

export class WalGapError extends RestoreDrillError {
  readonly missingSegment: string;

  constructor(message: string, missingSegment: string) {
    super('backup', message);
    this.name = 'WalGapError';
    this.missingSegment = missingSegment;
  }
}

export class RestoreFailedError extends RestoreDrillError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('backup', message, options);
    this.name = 'RestoreFailedError';
  }
}

export class RestoreTimeoutError extends RestoreDrillError {
  constructor(message: string) {
    super('backup', message);
    this.name = 'RestoreTimeoutError';
  }
}

/**
 * The provider refused to remove a copy for now (RDS will not delete it in its current state) and
 * waiting longer is not worth it: the copy keeps its expiry tag, and the janitor removes it later.
 */
export class RemovalDeferredError extends RestoreDrillError {
  constructor(message: string) {
    super('tool', message);
    this.name = 'RemovalDeferredError';
  }
}

/**
 * Failures the user must fix in the config or the arguments, found before anything ran. Only these
 * leave no drill result: the CLI writes no report and no metric is written, in the CLI and in the
 * cloud alike (there, the no-drill-result alarm shows a deployment stuck on one). Every other failure,
 * of any kind (AWS refusing a call, a source gone, a broken backup), is a drill result: DrillSucceeded 0.
 */
const REFUSALS = new Set(['ConfigError', 'TargetOutsideWindowError', 'EnvironmentError']);

export function isRefusal(error: { name?: string | undefined; step: string } | undefined): boolean {
  return error !== undefined && error.step === 'plan' && REFUSALS.has(error.name ?? '');
}

/** The kind of any error: ours carry it, anything else is a tool failure. */
export function failureKindOf(error: unknown): FailureKind {
  return error instanceof RestoreDrillError ? error.kind : 'tool';
}
