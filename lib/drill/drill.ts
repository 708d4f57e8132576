import { setTimeout as delay } from 'node:timers/promises';
import type pg from 'pg';
import type { DatabaseConfig, RestoreDrillConfig } from '../config/schema.ts';
import type { ConnectionInfo, RestoreProvider } from '../providers/types.ts';
import type { DrillReport, DrillStep, Trigger } from '../report/types.ts';
import { beginDrill, cleanupStep, failureOf, planStep, pollStep, recordFailure, sourcePasswordFromEnv, startStep, verifyStep, type DrillState } from './steps.ts';

export interface DrillOptions {
  trigger: Trigger;
  /** --target: overrides the database's configured target. */
  target?: string | undefined;
  /** Keep the copy (restore --keep) for this long; it is removed otherwise. */
  keepForSeconds?: number | undefined;
  /** Run no checks (a plain restore). */
  skipChecks?: boolean;
  /** The report to compare row counts with, for a drill to this target (see VerifyContext). */
  previousReport?: ((target: Date) => Promise<DrillReport | undefined>) | undefined;
  now?: () => Date;
  random?: () => number;
  pollIntervalMs?: number;
  onProgress?: (event: ProgressEvent) => void;
  /** Looks at the copy after the checks, before cleanup (the demo shows what the copy holds). */
  inspect?: (copy: pg.ClientConfig, target: Date) => Promise<void>;
  /** The drill's state after every step: what an interrupted run still reports (runner.ts). */
  onState?: (state: DrillState) => void;
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
 * The same steps, over the same JSON state, are the cloud's Lambda tasks (lib/drill/steps.ts).
 */
export async function runDrill(config: RestoreDrillConfig, database: DatabaseConfig, provider: RestoreProvider, options: DrillOptions): Promise<DrillResult> {
  const context = { ...(options.now ? { now: options.now } : {}), ...(options.random ? { random: options.random } : {}) };
  const progress = (step: ProgressEvent['step'], detail?: string) => options.onProgress?.({ database: database.name, step, ...(detail ? { detail } : {}) });
  let state = beginDrill(config, database, { ...options, skipChecks: options.skipChecks ?? false });
  const advance = (next: DrillState) => {
    state = next;
    options.onState?.(state);
  };
  options.onState?.(state);
  const configured = database.pollIntervalSeconds === undefined ? undefined : database.pollIntervalSeconds * 1000;
  const pollIntervalMs = options.pollIntervalMs ?? configured ?? provider.pollIntervalMs ?? 1000;
  try {
    progress('plan');
    sourcePasswordFromEnv(database);
    advance(await planStep(state, provider, context));
    if (state.report.error) throw new PlanFailed();
    progress('restore', state.report.copy.name ?? undefined);
    advance(await startStep(state, config, provider, context));
    for (;;) {
      advance(await pollStep(state, config, database, provider, context));
      if (state.poll?.state === 'ready') break;
      progress('wait', state.poll?.detail);
      await delay(pollIntervalMs);
    }
    if (!options.skipChecks) progress('verify');
    advance(await verifyStep(state, database, provider, { ...context, previousReport: options.previousReport, inspect: options.inspect }));
  } catch (error) {
    if (!(error instanceof PlanFailed)) advance(recordFailure(state, failureOf(error)));
  }
  if (state.handle !== undefined && !(state.keepForSeconds !== null && !state.report.error)) progress('cleanup');
  advance(await cleanupStep(state, provider, context));
  const report = state.report;
  progress('done', report.status);
  return state.connection && report.copy.kept ? { report, connection: state.connection } : { report };
}

/** Plan recorded its own failure (the target beyond the backups): nothing more to do but cleanup. */
class PlanFailed extends Error {}
