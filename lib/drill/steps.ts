import { availableParallelism } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { runChecks } from '../checks/runChecks.ts';
import type { DatabaseConfig, RestoreDrillConfig } from '../config/schema.ts';
import { ConfigError, RemovalDeferredError, TargetBeyondBackupsError, RestoreFailedError, RestoreTimeoutError, failureKindOf, type FailureKind } from '../errors.ts';
import { copyName } from '../providers/copyName.ts';
import type { ConnectionInfo, ListedCopy, RestoreProvider } from '../providers/types.ts';
import type { DrillReport, DrillStep, Trigger } from '../report/types.ts';
import { toolVersion } from '../version.ts';
import { drillCopyExpiry } from './copyLifetime.ts';
import { secondsBetween } from './metrics.ts';
import { drillStatus } from './outcome.ts';
import { parseTargetSpec, resolveTarget, TARGET_HINT } from './target.ts';
import { copyOnThisMachine } from '../providers/onThisMachine.ts';

/**
 * One drill between its steps: plain JSON, so that Step Functions can carry it from one Lambda to
 * the next. The in-process runner passes the same object from step to step. Never holds a secret:
 * `connection` is a poll result, whose password and CA bundle come from the provider where a check connects.
 */
export interface DrillState {
  report: DrillReport;
  /** The step running now; when a step throws, the failure belongs to it. */
  step: DrillStep;
  keepForSeconds: number | null;
  skipChecks: boolean;
  handle?: unknown;
  restoreStartedAt?: string;
  expiresAt?: string;
  /**
   * The last poll: the state machine's Choice loops on it. `waitSeconds`: how long to wait before the
   * next poll (nextPollWaitSeconds); the state machine caps it at its pollIntervalSeconds.
   */
  poll?: { state: 'pending' | 'ready'; detail?: string; waitSeconds?: number };
  connection?: ConnectionInfo;
  lastReplayedAt?: string | null;
  /** The target is the end of what is restorable (RDS restores it with UseLatestRestorableTime). */
  targetIsLatest?: boolean;
  /** The cloud: where the checks' details wait while the state goes on without them (tasks.ts). */
  checksKey?: string;
}

export interface BeginOptions {
  trigger: Trigger;
  target?: string | undefined;
  keepForSeconds?: number | undefined;
  skipChecks?: boolean | undefined;
  now?: () => Date;
}

export interface StepContext {
  now?: () => Date;
  random?: () => number;
  /**
   * How long cleanup looks for the copy of a Start that failed without a handle (its answer lost: a
   * time limit, a dropped connection), while a listing may not show a new copy yet. @default 0 (one look)
   */
  lostCopyWaitMs?: number;
}

export function beginDrill(config: RestoreDrillConfig, database: DatabaseConfig, options: BeginOptions): DrillState {
  const startedAt = (options.now ?? (() => new Date()))().toISOString();
  return {
    step: 'plan',
    keepForSeconds: options.keepForSeconds ?? null,
    skipChecks: options.skipChecks ?? false,
    report: {
      database: database.name,
      provider: database.provider.kind,
      status: 'error',
      target: { requested: options.target ?? database.target, time: null },
      window: null,
      rpo: { targetSeconds: database.rpoTargetSeconds ?? config.rpoTargetSeconds, claimedSeconds: null, measuredLagSeconds: null, compliant: null },
      rto: { targetSeconds: database.rtoTargetSeconds ?? config.rtoTargetSeconds, restoreSeconds: null, verifySeconds: null, totalSeconds: null, compliant: null },
      checks: [],
      copy: { name: null, kept: false, removed: false },
      startedAt,
      finishedAt: startedAt,
      toolVersion,
      trigger: options.trigger,
    },
  };
}

/**
 * Reads the window, resolves the target and rejects one before it, before anything is created. A
 * target after it comes back as a recorded failure (report.error): the backups do not reach it.
 */
export async function planStep(state: DrillState, provider: RestoreProvider, context: StepContext = {}): Promise<DrillState> {
  const now = context.now ?? (() => new Date());
  const report = structuredClone(state.report);
  const requested = report.target.requested;
  const spec = parseTargetSpec(requested);
  if (!spec) throw new ConfigError(`target "${requested}" is not valid: expected ${TARGET_HINT}`);
  const window = await provider.window();
  const planAt = now();
  report.window = { earliest: window.earliest.toISOString(), latest: window.latest.toISOString(), ...(window.note ? { note: window.note } : {}) };
  report.rpo.claimedSeconds = secondsBetween(window.latest, planAt);
  let target: ReturnType<typeof resolveTarget>;
  try {
    target = resolveTarget(requested, spec, window, planAt, context.random);
  } catch (error) {
    // The backups do not reach the target: a failed drill that keeps its window and claimed RPO, never a refusal.
    if (error instanceof TargetBeyondBackupsError) return recordFailure({ ...state, report }, failureOf(error));
    throw error;
  }
  report.target.time = target.time.toISOString();
  report.copy.name = copyName(report.database, planAt, context.random);
  return { ...state, report, step: 'restore', targetIsLatest: target.kind === 'latest' };
}

export async function startStep(state: DrillState, config: RestoreDrillConfig, provider: RestoreProvider, context: StepContext = {}): Promise<DrillState> {
  const now = context.now ?? (() => new Date());
  const name = state.report.copy.name;
  const time = state.report.target.time;
  if (!name || !time) throw new Error('startStep needs a planned drill (copy name and target time): run planStep first');
  const startAt = now();
  const restoreTimeoutSeconds = config.databases.find((database) => database.name === state.report.database)?.restoreTimeoutSeconds ?? config.restoreTimeoutSeconds;
  const expiresAt = state.keepForSeconds !== null ? new Date(startAt.getTime() + state.keepForSeconds * 1000) : drillCopyExpiry(startAt, restoreTimeoutSeconds);
  const handle = await provider.start({ target: state.targetIsLatest ? { kind: 'latest' } : { kind: 'time', time: new Date(time) }, copyName: name, expiresAt, keep: state.keepForSeconds !== null });
  // The local provider's handle says which base backup the copy came from, and how its files were verified.
  const backup = (handle as { baseBackup?: DrillReport['backup'] } | null)?.baseBackup;
  // RDS and Aurora: the source's resource id, by which its retained backups are found once it is deleted.
  const resourceId = (handle as { source?: { resourceId?: string } } | null)?.source?.resourceId;
  const report = { ...state.report, ...(backup ? { backup } : {}), ...(resourceId ? { source: { resourceId } } : {}) };
  return { ...state, report, step: 'wait', handle, restoreStartedAt: startAt.toISOString(), expiresAt: expiresAt.toISOString(), poll: { state: 'pending', waitSeconds: nextPollWaitSeconds(0) } };
}

/**
 * The wait before the next poll of a copy being restored: half the time the restore has taken so
 * far, at least 1 s. A copy ready in seconds (a Neon branch) is seen in seconds, and the time a copy
 * waits to be noticed stays under half its restore time; the state machine caps the wait at its
 * pollIntervalSeconds, which long restores reach after a few polls.
 */
export function nextPollWaitSeconds(elapsedSeconds: number): number {
  return Math.max(1, Math.ceil(elapsedSeconds / 2));
}

/** One look at the copy: pending, or ready with its connection; a failed or timed-out restore throws. */
export async function pollStep(state: DrillState, config: RestoreDrillConfig, database: DatabaseConfig, provider: RestoreProvider, context: StepContext = {}): Promise<DrillState> {
  const now = context.now ?? (() => new Date());
  if (state.handle === undefined || !state.restoreStartedAt) throw new Error('pollStep needs a started copy: run startStep first');
  const poll = await provider.poll(state.handle);
  if (poll.state === 'failed') throw new RestoreFailedError(poll.reason);
  if (poll.state === 'ready') {
    const report = structuredClone(state.report);
    report.rto.restoreSeconds = secondsBetween(new Date(state.restoreStartedAt), now());
    return { ...state, report, step: 'verify', poll: { state: 'ready' }, connection: poll.connection, lastReplayedAt: poll.lastReplayedAt };
  }
  const timeoutSeconds = database.restoreTimeoutSeconds ?? config.restoreTimeoutSeconds;
  const elapsedSeconds = secondsBetween(new Date(state.restoreStartedAt), now());
  if (elapsedSeconds > timeoutSeconds) {
    throw new RestoreTimeoutError(`copy ${state.report.copy.name} was not ready after ${timeoutSeconds} s (restoreTimeoutSeconds)`);
  }
  return { ...state, poll: { state: 'pending', ...(poll.detail ? { detail: poll.detail } : {}), waitSeconds: nextPollWaitSeconds(elapsedSeconds) } };
}

export interface VerifyContext extends StepContext {
  /** The report to compare row counts with: the newest earlier drill to this target or before. */
  previousReport?: ((target: Date) => Promise<DrillReport | undefined>) | undefined;
  /** Looks at the copy after the checks (the demo). */
  inspect?: ((copy: pg.ClientConfig, target: Date) => Promise<void>) | undefined;
  /** The source's password for asOf counts, when the config names a secret (the cloud reads it). */
  sourcePassword?: string | undefined;
  /** When the checks must have answered (a Lambda function's time limit); later ones are reported as errors. */
  checksDeadline?: Date | undefined;
}

/** Runs every check on the ready copy, then settles RPO and RTO compliance. */
export async function verifyStep(state: DrillState, database: DatabaseConfig, provider: RestoreProvider, context: VerifyContext = {}): Promise<DrillState> {
  const now = context.now ?? (() => new Date());
  const ready = state.connection;
  const time = state.report.target.time;
  if (!ready || !time) throw new Error('verifyStep needs a ready copy: poll until it is ready first');
  const report = structuredClone(state.report);
  const target = new Date(time);
  let copyClient: pg.ClientConfig | undefined;
  const copyClientConfig = async () => (copyClient ??= clientConfigOf({ ...ready, ...(await provider.connectionSecrets?.(ready)) }));
  if (!state.skipChecks) {
    const verifyStart = now();
    report.checks = await runChecks(
      {
        copy: await copyClientConfig(),
        source: database.source ? sourceClientConfig(database, context.sourcePassword) : undefined,
        target,
        targetIsLatest: state.targetIsLatest ?? false,
        rpoTargetSeconds: report.rpo.targetSeconds,
        previousCounts: previousCounts(await context.previousReport?.(target)),
        lastReplayedAt: state.lastReplayedAt ? new Date(state.lastReplayedAt) : null,
        // Commits after this moment are the copy's own: the connection check dates the copy by those before it.
        copyRequestedAt: state.restoreStartedAt ? new Date(state.restoreStartedAt) : undefined,
        checksStartedAt: verifyStart,
        provider: database.provider.kind,
        copyCpus: copyOnThisMachine(database.provider.kind) ? availableParallelism() : undefined,
      },
      database.checks,
      { deadline: context.checksDeadline },
    );
    report.rto.verifySeconds = secondsBetween(verifyStart, now());
    const freshness = report.checks.find((check) => check.check === 'freshness')?.details as { dataLagSeconds?: number | null } | undefined;
    report.rpo.measuredLagSeconds = freshness?.dataLagSeconds ?? null;
    // What measured it, for every provider alike (Neon's claimed RPO is about 0 by construction: this is the one that tells).
    const column = database.checks.freshness;
    if (report.rpo.measuredLagSeconds !== null && column) report.rpo.measuredBy = `the newest ${column.table}.${column.column} in the copy (freshness check)`;
  } else {
    report.rto.verifySeconds = 0;
  }
  if (context.inspect) await context.inspect(await copyClientConfig(), target);
  const restoreSeconds = report.rto.restoreSeconds ?? 0;
  report.rto.totalSeconds = secondsBetween(0, (restoreSeconds + report.rto.verifySeconds) * 1000);
  report.rto.compliant = report.rto.totalSeconds <= report.rto.targetSeconds;
  const claimed = report.rpo.claimedSeconds ?? Number.POSITIVE_INFINITY;
  report.rpo.compliant = claimed <= report.rpo.targetSeconds && (report.rpo.measuredLagSeconds === null || report.rpo.measuredLagSeconds <= report.rpo.targetSeconds);
  return { ...state, report, step: 'cleanup' };
}

/** The report of a drill that SIGINT/SIGTERM cut short, as far as it got (its copy is being removed meanwhile). */
export function interruptedReport(state: DrillState, signal: string, now = new Date()): DrillReport {
  const copy = state.report.copy.name;
  const expiresAt = state.expiresAt ?? state.report.copy.expiresAt;
  const cut = state.report.error
    ? state
    : recordFailure(state, {
        kind: 'tool',
        message: `interrupted by ${signal} during ${state.step}${copy && expiresAt ? `; the copy ${copy} is removed on the way out (else the janitor removes it after ${expiresAt})` : ''}`,
      });
  const report = structuredClone(cut.report);
  // Written while the signal's cleanup removes the copy: what becomes of it is not known yet, and said so.
  if (copy && state.step !== 'plan' && !report.copy.kept) {
    report.copy.note = `interrupted by ${signal}: the copy, if it was made, is removed on the way out; else the janitor removes it (its marker or tags carry its expiry)`;
  }
  report.status = drillStatus(report);
  report.finishedAt = now.toISOString();
  return report;
}

/** Records what broke off a drill, against the step that was running. */
export function recordFailure(state: DrillState, failure: Failure): DrillState {
  const report = structuredClone(state.report);
  report.error = { step: state.step, message: failure.message, kind: failure.kind, ...(failure.name ? { name: failure.name } : {}) };
  if (failure.copyRemoved) {
    report.copy.removed = true;
    report.copy.fate = 'removed';
  }
  return { ...state, report };
}

export interface Failure {
  message: string;
  kind: FailureKind;
  name?: string;
  /** The provider made the copy's folder and removed it itself as the start failed (a refused tar). */
  copyRemoved?: true;
}

/** What any error means for a drill: the one classification the CLI and the cloud's tasks share. */
export function failureOf(error: unknown): Failure {
  const name = error instanceof Error ? error.name : undefined;
  const copyRemoved = (error as { copyRemoved?: unknown } | null)?.copyRemoved === true;
  return { message: error instanceof Error ? error.message : String(error), kind: failureKindOf(error), ...(name ? { name } : {}), ...(copyRemoved ? { copyRemoved } : {}) };
}

/**
 * Removes the copy (or keeps it, when asked and nothing failed), then settles the status. Never
 * throws: a removal that fails is in the report.
 */
export async function cleanupStep(state: DrillState, provider: RestoreProvider, context: StepContext = {}): Promise<DrillState> {
  const now = context.now ?? (() => new Date());
  const report = structuredClone(state.report);
  if (state.handle === undefined && report.copy.name && report.copy.fate !== 'removed') {
    // A Start that failed for the tool's reasons (a time limit, a dropped connection, a 5xx) may still have made the copy,
    // its answer lost after the provider accepted it: looked for by its planned name. A refusal made nothing.
    const unknownOutcome = report.error?.step === 'restore' && report.error.kind === 'tool';
    const lost = unknownOutcome ? await lostCopy(provider, report.copy.name, context.lostCopyWaitMs ?? 0) : undefined;
    if (lost?.copy) {
      try {
        await provider.destroy(lost.copy.handle);
        report.copy.removed = true;
        report.copy.fate = 'removed';
        report.copy.note = `Start's answer was lost, but the copy had been made: found by its planned name and our tag, and removed`;
      } catch (error) {
        report.copy.removeError = (error as Error).message;
        report.copy.fate = error instanceof RemovalDeferredError ? 'left-to-janitor' : 'cleanup-failed';
        report.copy.note = `Start's answer was lost, but the copy had been made: found by its planned name and our tag; it could not be removed yet, the janitor removes it after its expiry`;
      }
    } else {
      report.copy.made = false;
      report.copy.fate = 'never-made';
      if (lost?.error) report.copy.note = `whether Start made the copy is unknown (its copies could not be listed: ${lost.error}); the janitor removes it after its expiry if it was`;
    }
  }
  if (state.handle !== undefined) {
    if (state.keepForSeconds !== null && !report.error) {
      provider.keep?.(state.handle);
      report.copy.kept = true;
      report.copy.fate = 'kept';
      // The expiry the copy is marked (tagged) with: the one the janitor goes by.
      if (state.expiresAt) report.copy.expiresAt = state.expiresAt;
      if (state.connection) report.copy.connection = reportedConnection(state.connection);
    } else {
      try {
        if ((await provider.destroy(state.handle)) === 'gone') {
          // Not this drill's removal: whatever the checks found, the copy was taken from under the drill.
          report.copy.fate = 'gone';
          report.copy.note = 'the copy was already gone at cleanup: removed by someone else (drop, the janitor) before the drill ended';
        } else {
          report.copy.removed = true;
          report.copy.fate = 'removed';
        }
      } catch (error) {
        report.copy.removeError = (error as Error).message;
        if (error instanceof RemovalDeferredError) {
          // Not a failed drill: the copy keeps its expiry tag and the janitor removes it.
          report.copy.removalLeftToJanitor = true;
          report.copy.fate = 'left-to-janitor';
        } else {
          report.copy.fate = 'cleanup-failed';
          report.error ??= { step: 'cleanup', message: `the copy could not be removed: ${(error as Error).message}`, kind: 'tool' };
        }
      }
    }
  }
  report.status = drillStatus(report);
  report.finishedAt = now().toISOString();
  return { ...state, report, step: 'report' };
}

/** The copy of that name among the provider's copies of ours (name and mark), looked for until waitMs has passed. */
async function lostCopy(provider: RestoreProvider, name: string, waitMs: number): Promise<{ copy?: ListedCopy; error?: string } | undefined> {
  if (!provider.listCopies) return undefined;
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const copy = (await provider.listCopies()).find((listed) => listed.name === name);
      if (copy) return { copy };
    } catch (error) {
      return { error: (error as Error).message };
    }
    if (Date.now() >= deadline) return {};
    await delay(Math.min(5_000, Math.max(50, waitMs / 10)));
  }
}

export function clientConfigOf(connection: ConnectionInfo): pg.ClientConfig {
  const ssl = connection.ca !== undefined ? { ca: connection.ca, rejectUnauthorized: true } : connection.ssl ? true : undefined;
  return {
    host: connection.host,
    port: connection.port,
    database: connection.database,
    user: connection.user,
    ...(connection.password !== undefined ? { password: connection.password } : {}),
    ...(ssl ? { ssl } : {}),
  };
}

/** What a report may say about a copy's connection: never its password, nor the CA bundle. */
export function reportedConnection(connection: ConnectionInfo): NonNullable<DrillReport['copy']['connection']> {
  return { host: connection.host, port: connection.port, database: connection.database, user: connection.user, passwordFrom: connection.passwordFrom };
}

/**
 * Where the CLI finds the source's password, checked before anything is created: a missing variable
 * found after a 20-minute restore would waste it. The cloud reads passwordSecretArn instead.
 */
export function sourcePasswordFromEnv(database: DatabaseConfig, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const source = database.source;
  if (!source) return undefined;
  const at = `databases.${database.name}.source`;
  if (source.passwordSecretArn) throw new ConfigError(`${at}.passwordSecretArn is read by the cloud deployment; from the CLI use ${at}.passwordEnv`);
  if (!source.passwordEnv) return undefined;
  const password = env[source.passwordEnv];
  if (password === undefined) throw new ConfigError(`${at}.passwordEnv names ${source.passwordEnv}, which is not set: export it (the read-only user's password), or remove ${at} to count without asOf`);
  return password;
}

/** The production database, for read-only asOf counts; its password from the environment or the cloud's secret, never from the file. */
function sourceClientConfig(database: DatabaseConfig, secretPassword: string | undefined): pg.ClientConfig {
  const source = database.source!;
  const password = source.passwordSecretArn ? secretPassword : sourcePasswordFromEnv(database);
  if (source.passwordSecretArn && password === undefined) throw new ConfigError(`databases.${database.name}.source.passwordSecretArn: the secret could not be read`);
  return { host: source.host, port: source.port, database: source.database, user: source.user, ...(password !== undefined ? { password } : {}), ...(source.ssl ? { ssl: true } : {}) };
}

function previousCounts(report: DrillReport | undefined): Record<string, number> | undefined {
  const details = report?.checks.find((check) => check.check === 'rowCounts')?.details as { counts?: Record<string, number> } | undefined;
  return details?.counts;
}
