import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { runChecks } from '../checks/runChecks.ts';
import type { SourceConnectionConfig } from '../checks/config.ts';
import type { DatabaseConfig, RestoreDrillConfig } from '../config/schema.ts';
import { ConfigError, RemovalDeferredError, RestoreFailedError, RestoreTimeoutError, failureKindOf } from '../errors.ts';
import { copyName } from '../providers/copyName.ts';
import type { ConnectionInfo, RestoreProvider } from '../providers/types.ts';
import type { DrillReport, DrillStep, Trigger } from '../report/types.ts';
import { toolVersion } from '../version.ts';
import { secondsBetween } from './metrics.ts';
import { drillStatus } from './outcome.ts';
import { parseTargetSpec, resolveTarget, TARGET_HINT } from './target.ts';

export interface DrillOptions {
  trigger: Trigger;
  /** --target: overrides the database's configured target. */
  target?: string | undefined;
  /** Keep the copy (restore --keep) for this long; it is removed otherwise. */
  keepForSeconds?: number | undefined;
  /** Run no checks (a plain restore). */
  skipChecks?: boolean;
  previousReport?: DrillReport | undefined;
  now?: () => Date;
  random?: () => number;
  pollIntervalMs?: number;
  onProgress?: (event: ProgressEvent) => void;
  /** Looks at the copy after the checks, before cleanup (the demo shows what the copy holds). */
  inspect?: (copy: pg.ClientConfig, target: Date) => Promise<void>;
}

export interface ProgressEvent {
  database: string;
  step: DrillStep | 'done';
  detail?: string;
}

export interface DrillResult {
  report: DrillReport;
  /** The kept copy's connection (restore --keep). */
  connection?: ConnectionInfo;
}

/**
 * One drill of one database: plan, restore, wait, verify, then cleanup in every outcome (unless
 * the copy is kept). Never throws: whatever breaks off is in the report's `error`, with its step.
 */
export async function runDrill(config: RestoreDrillConfig, database: DatabaseConfig, provider: RestoreProvider, options: DrillOptions): Promise<DrillResult> {
  const now = options.now ?? (() => new Date());
  const progress = (step: ProgressEvent['step'], detail?: string) => options.onProgress?.({ database: database.name, step, ...(detail ? { detail } : {}) });
  const rpoTargetSeconds = database.rpoTargetSeconds ?? config.rpoTargetSeconds;
  const rtoTargetSeconds = database.rtoTargetSeconds ?? config.rtoTargetSeconds;
  const requested = options.target ?? database.target;
  const startedAt = now();
  const report: DrillReport = {
    database: database.name,
    provider: provider.kind,
    status: 'error',
    target: { requested, time: null },
    window: null,
    rpo: { targetSeconds: rpoTargetSeconds, claimedSeconds: null, measuredLagSeconds: null, compliant: null },
    rto: { targetSeconds: rtoTargetSeconds, restoreSeconds: null, verifySeconds: null, totalSeconds: null, compliant: null },
    checks: [],
    copy: { name: null, kept: false, removed: false },
    startedAt: startedAt.toISOString(),
    finishedAt: startedAt.toISOString(),
    toolVersion,
    trigger: options.trigger,
  };
  let step: DrillStep = 'plan';
  let handle: unknown;
  let connection: ConnectionInfo | undefined;
  let copyExpiresAt: Date | undefined;
  const keep = options.keepForSeconds !== undefined;
  try {
    progress('plan');
    const spec = parseTargetSpec(requested);
    if (!spec) throw new ConfigError(`target "${requested}" is not valid: expected ${TARGET_HINT}`);
    const window = await provider.window();
    const planAt = now();
    report.window = { earliest: window.earliest.toISOString(), latest: window.latest.toISOString() };
    report.rpo.claimedSeconds = secondsBetween(window.latest, planAt);
    const target = resolveTarget(requested, spec, window, planAt, options.random);
    report.target.time = target.time.toISOString();

    step = 'restore';
    const name = copyName(database.name, planAt, options.random);
    const expiresAt = new Date(planAt.getTime() + (options.keepForSeconds ?? config.restoreTimeoutSeconds + 3600) * 1000);
    copyExpiresAt = expiresAt;
    report.copy.name = name;
    progress('restore', name);
    const restoreStart = now();
    handle = await provider.start({ target: target.kind === 'latest' ? { kind: 'latest' } : { kind: 'time', time: target.time }, copyName: name, expiresAt });

    step = 'wait';
    const timeoutSeconds = database.restoreTimeoutSeconds ?? config.restoreTimeoutSeconds;
    let lastReplayedAt: string | null = null;
    for (;;) {
      const poll = await provider.poll(handle);
      if (poll.state === 'ready') {
        connection = poll.connection;
        lastReplayedAt = poll.lastReplayedAt;
        break;
      }
      if (poll.state === 'failed') throw new RestoreFailedError(poll.reason);
      progress('wait', poll.detail);
      if (secondsBetween(restoreStart, now()) > timeoutSeconds) {
        throw new RestoreTimeoutError(`copy ${name} was not ready after ${timeoutSeconds} s (restoreTimeoutSeconds)`);
      }
      await delay(options.pollIntervalMs ?? 100);
    }
    report.rto.restoreSeconds = secondsBetween(restoreStart, now());
    const ready = connection;
    let copyClient: pg.ClientConfig | undefined;
    const copyClientConfig = async () => (copyClient ??= clientConfigOf({ ...ready, ...(await provider.connectionSecrets?.(ready)) }));

    if (!options.skipChecks) {
      step = 'verify';
      progress('verify');
      const verifyStart = now();
      report.checks = await runChecks(
        {
          copy: await copyClientConfig(),
          source: database.source ? sourceClientConfig(database.source) : undefined,
          target: target.time,
          rpoTargetSeconds,
          previousCounts: previousCounts(options.previousReport),
          lastReplayedAt: lastReplayedAt ? new Date(lastReplayedAt) : null,
        },
        database.checks,
      );
      report.rto.verifySeconds = secondsBetween(verifyStart, now());
      const freshness = report.checks.find((check) => check.check === 'freshness')?.details as { dataLagSeconds?: number | null } | undefined;
      report.rpo.measuredLagSeconds = freshness?.dataLagSeconds ?? null;
    } else {
      report.rto.verifySeconds = 0;
    }
    if (options.inspect) await options.inspect(await copyClientConfig(), target.time);
    report.rto.totalSeconds = secondsBetween(0, (report.rto.restoreSeconds + report.rto.verifySeconds) * 1000);
    report.rto.compliant = report.rto.totalSeconds <= rtoTargetSeconds;
    report.rpo.compliant =
      report.rpo.claimedSeconds <= rpoTargetSeconds && (report.rpo.measuredLagSeconds === null || report.rpo.measuredLagSeconds <= rpoTargetSeconds);
  } catch (error) {
    report.error = { step, message: (error as Error).message, kind: failureKindOf(error) };
  }

  if (handle !== undefined) {
    if (keep && !report.error) {
      provider.keep?.(handle);
      report.copy.kept = true;
      // The expiry the copy is marked (tagged) with: the one the janitor goes by.
      report.copy.expiresAt = copyExpiresAt!.toISOString();
      if (connection) report.copy.connection = reportedConnection(connection);
    } else {
      progress('cleanup');
      try {
        await provider.destroy(handle);
        report.copy.removed = true;
      } catch (error) {
        report.copy.removeError = (error as Error).message;
        if (error instanceof RemovalDeferredError) {
          // Not a failed drill: the copy keeps its expiry tag and the janitor removes it.
          report.copy.removalLeftToJanitor = true;
        } else {
          report.error ??= { step: 'cleanup', message: `the copy could not be removed: ${(error as Error).message}`, kind: 'tool' };
        }
      }
    }
  }
  report.status = drillStatus(report);
  report.finishedAt = now().toISOString();
  progress('done', report.status);
  return connection && report.copy.kept ? { report, connection } : { report };
}

function clientConfigOf(connection: ConnectionInfo): pg.ClientConfig {
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

/** The production database, for read-only asOf counts; its password from the environment, never from the file. */
function sourceClientConfig(source: SourceConnectionConfig): pg.ClientConfig {
  let password: string | undefined;
  if (source.passwordEnv) {
    password = process.env[source.passwordEnv];
    if (password === undefined) throw new ConfigError(`source.passwordEnv names ${source.passwordEnv}, which is not set`);
  }
  if (source.passwordSecretArn) {
    throw new ConfigError('source.passwordSecretArn is read by the cloud deployment; from the CLI use source.passwordEnv');
  }
  return { host: source.host, port: source.port, database: source.database, user: source.user, ...(password !== undefined ? { password } : {}), ...(source.ssl ? { ssl: true } : {}) };
}

function previousCounts(report: DrillReport | undefined): Record<string, number> | undefined {
  const details = report?.checks.find((check) => check.check === 'rowCounts')?.details as { counts?: Record<string, number> } | undefined;
  return details?.counts;
}
