import type { DatabaseConfig, RestoreDrillConfig } from '../config/schema.ts';
import { ConfigError, isRefusal } from '../errors.ts';
import { redactDeep } from '../util/redact.ts';
import { providerFor, type ProviderOptions } from '../providers/index.ts';
import type { RestoreProvider } from '../providers/types.ts';
import { deliverRun, type MetricsSink } from '../report/deliver.ts';
import type { ReportStore } from '../report/s3Store.ts';
import type { DrillStatus, Trigger } from '../report/types.ts';
import { worstDrillStatus } from './outcome.ts';
import { selectDatabases } from './runner.ts';
import { beginDrill, cleanupStep, failureOf, planStep, pollStep, recordFailure, startStep, verifyStep, type DrillState, type Failure, type StepContext } from './steps.ts';

/**
 * The state machine's tasks: each takes and returns plain JSON, and does its work with the steps the
 * CLI's runner uses. Functions in functions/ only build the dependencies and call one of these.
 */

/** What starts an execution: the schedule's drill, or a manual restore. */
export interface ExecutionInput {
  /** @default 'drill' */
  mode?: 'drill' | 'restore';
  /** A restore names one database; a drill covers these, or every configured one. */
  database?: string;
  databases?: string[];
  target?: string;
  /** Restore: keep the copy for `keepForSeconds` (default one day). */
  keep?: boolean;
  keepForSeconds?: number;
  trigger?: Trigger;
}

export interface PlanOutput {
  mode: 'drill' | 'restore';
  drills: DrillState[];
  /** Empty: the state machine's PlanFailed and DrillsFailed fill it for Report when Plan or the Map fails. */
  run: RunFailure;
}

/** Plan or the drills' Map failed as a whole (caught by the state machine): Report still reports each database. */
export interface RunFailure {
  step?: 'plan' | 'drills';
  failure?: CaughtFailure;
  /** The execution's input (PlanFailed): which databases the run was for. */
  input?: ExecutionInput;
  /** Plan's drills (DrillsFailed): each with its planned copy name. */
  planned?: DrillState[];
}

/** A failure as the state machine's Catch hands it on (`ResultPath: $.failure`). */
export interface CaughtFailure {
  Error: string;
  Cause?: string;
}

export type CleanupInput = DrillState & { failure?: CaughtFailure };

export interface DrillSummary {
  database: string;
  status: DrillStatus;
  /** null when Cleanup itself failed (the state machine's CleanupFailed state): no report was saved. */
  reportKey: string | null;
  copy: string | null;
  kept: boolean;
  /** Set by CleanupFailed: why Cleanup did not finish. */
  error?: string;
}

export interface ReportOutput {
  status: DrillStatus;
  /** Where the evidence page was written (`s3://<bucket>/evidence/index.html`). */
  evidence?: string;
  reportKeys: string[];
  drills: { database: string; status: DrillStatus; error?: string }[];
}

export interface TaskDependencies {
  config: RestoreDrillConfig;
  store: ReportStore;
  providerOptions?: ProviderOptions;
  /** Another provider (tests wrap them). @default providerFor */
  providerFor?: (database: DatabaseConfig) => RestoreProvider;
  sourcePassword?: (database: DatabaseConfig) => Promise<string | undefined>;
  metrics?: MetricsSink;
  slackWebhookUrl?: () => Promise<string | undefined>;
  /** Writes the evidence page from the stored reports; returns where it is (Report, after every run). */
  publishEvidence?: (now: Date) => Promise<string>;
  log?: (line: string) => void;
  now?: () => Date;
  random?: () => number;
  /** How long Cleanup looks for the copy of a Start that died (its answer lost). @default LOST_COPY_WAIT_MS */
  lostCopyWaitMs?: number;
}

/** Within Cleanup's limit (its removal wait plus two minutes): a listing may miss a copy made moments ago. */
const LOST_COPY_WAIT_MS = 60_000;

const DEFAULT_KEEP_SECONDS = 86_400;
/** Time kept back from Verify's limit to settle RPO/RTO and return the state. */
const VERIFY_RETURN_MARGIN_MS = 20_000;

/**
 * A failure the state machine caught: the function itself failed (Lambda's time limit, a crash at
 * init, the service), never one of ours, which the tasks record in the state themselves (see
 * `recorded`). So it is the tool's, whatever its name.
 */
export function failureOfCaught(failure: CaughtFailure): Failure {
  let message = failure.Cause ?? failure.Error;
  try {
    const cause = JSON.parse(failure.Cause ?? '') as { errorMessage?: unknown };
    if (typeof cause.errorMessage === 'string') message = cause.errorMessage;
  } catch {
    // A cause that is not Lambda's JSON (States.Timeout): its text is the message.
  }
  return { message: message.startsWith(failure.Error) ? message : `${failure.Error}: ${message}`, kind: 'tool', name: failure.Error };
}

/**
 * A step's failure, recorded in the state by the same classification the CLI uses (failureOf): the
 * state machine then goes to Cleanup on `report.error`. Thrown to Step Functions, an error would
 * arrive as a name and a text, and its kind would have to be guessed again.
 */
async function recorded(state: DrillState, step: () => Promise<DrillState>): Promise<DrillState> {
  try {
    return redactedState(await step());
  } catch (error) {
    return redactedState(recordFailure(state, failureOf(error)));
  }
}

/** The state goes into the execution's history and logs: its report's free text through the shared redactor, as every outward text. */
function redactedState(state: DrillState): DrillState {
  return { ...state, report: redactDeep(state.report) };
}

export function drillTasks(dependencies: TaskDependencies) {
  const { config, store } = dependencies;
  const context: StepContext = { ...(dependencies.now ? { now: dependencies.now } : {}), ...(dependencies.random ? { random: dependencies.random } : {}) };
  const databaseOf = (state: DrillState): DatabaseConfig => {
    const database = config.databases.find((candidate) => candidate.name === state.report.database);
    if (!database) throw new ConfigError(`no database named ${state.report.database} in the deployed config: redeploy, or check the execution's input`);
    return database;
  };
  const provider = (database: DatabaseConfig) => (dependencies.providerFor ?? ((db) => providerFor(db, dependencies.providerOptions)))(database);

  /**
   * A run whose Plan or Map failed as a whole: a saved error report for each database it was for (the
   * planned drills, else the input's databases), so that metrics, alarms and Slack see it. Input that
   * Plan refused (a refusal: nothing was made) fails the execution as before, with no report.
   */
  async function brokenRunReports(run: RunFailure, failure: CaughtFailure): Promise<DrillSummary[]> {
    const caught = failureOfCaught(failure);
    if (run.step === 'plan' && isRefusal({ step: 'plan', name: failure.Error })) throw new ConfigError(caught.message);
    const where = run.step === 'plan' ? 'Plan failed' : "the drills' Map failed (a drill's copy, if made, is removed by the janitor after its expiry)";
    const trigger = run.input?.trigger ?? (run.input?.mode === 'restore' ? 'manual' : 'schedule');
    const names = run.input?.database ? [run.input.database] : (run.input?.databases ?? []);
    const states =
      run.step === 'drills' && run.planned?.length
        ? run.planned
        : config.databases
            .filter((database) => names.length === 0 || names.includes(database.name))
            .map((database) => beginDrill(config, database, { trigger, ...(dependencies.now ? { now: dependencies.now } : {}) }));
    return Promise.all(
      states.map(async (planned) => {
        const state = redactedState(recordFailure(planned, { ...caught, message: `${where}: ${caught.message}` }));
        const report = { ...state.report, status: 'error' as const, finishedAt: (dependencies.now ?? (() => new Date()))().toISOString() };
        const reportKey = await store.put(report);
        return { database: report.database, status: report.status, reportKey, copy: report.copy.name, kept: false };
      }),
    );
  }

  return {
    /** Plans every drill; a drill whose plan fails carries its error and goes straight to Cleanup and Report. */
    async plan(input: ExecutionInput = {}): Promise<PlanOutput> {
      const mode = input.mode ?? 'drill';
      if (mode !== 'drill' && mode !== 'restore') throw new ConfigError(`mode "${String(mode)}" is not known: expected "drill" or "restore"`);
      if (mode === 'restore' && !input.database) throw new ConfigError('a restore names its database: {"mode": "restore", "database": "prod", "target": "...", "keep": true}');
      const names = input.database ? [input.database] : (input.databases ?? []);
      const databases = selectDatabases(config, names);
      const keepForSeconds = mode === 'restore' && input.keep !== false ? (input.keepForSeconds ?? DEFAULT_KEEP_SECONDS) : undefined;
      const drills = await Promise.all(
        databases.map(async (database) => {
          const state = beginDrill(config, database, {
            trigger: input.trigger ?? (mode === 'restore' ? 'manual' : 'schedule'),
            target: input.target,
            keepForSeconds,
            skipChecks: mode === 'restore',
            ...(dependencies.now ? { now: dependencies.now } : {}),
          });
          try {
            return await planStep(state, provider(database), context);
          } catch (error) {
            return recordFailure(state, failureOf(error));
          }
        }),
      );
      return { mode, drills: drills.map(redactedState), run: {} };
    },
    async start(state: DrillState): Promise<DrillState> {
      return recorded(state, () => startStep(state, config, provider(databaseOf(state)), context));
    },
    async poll(state: DrillState): Promise<DrillState> {
      return recorded(state, () => {
        const database = databaseOf(state);
        return pollStep(state, config, database, provider(database), context);
      });
    },
    /** `remainingMs`: the function's time left (Lambda's context); the checks stop in time to return what they found. */
    async verify(state: DrillState, options: { remainingMs?: number | undefined } = {}): Promise<DrillState> {
      const checked = await recorded(state, async () => {
        const database = databaseOf(state);
        const sourcePassword = database.source?.passwordSecretArn ? await dependencies.sourcePassword?.(database) : undefined;
        const checksDeadline = options.remainingMs === undefined ? undefined : new Date(Date.now() + options.remainingMs - VERIFY_RETURN_MARGIN_MS);
        return verifyStep(state, database, provider(database), { ...context, previousReport: (target) => store.previous(database.name, target), sourcePassword, checksDeadline });
      });
      return keptUnderStateLimit(checked, store);
    },
    /** Records a caught failure, removes (or keeps) the copy, saves the report; returns only its key. */
    async cleanup(input: CleanupInput): Promise<DrillSummary> {
      const { failure, ...rest } = input;
      let state: DrillState = await withSavedChecks(rest, store);
      if (failure && !state.report.error) state = recordFailure(state, failureOfCaught(failure));
      // A Start that died (a time limit, a crash) may have made its copy before: Cleanup looks for it a while.
      const lostCopyWaitMs = failure && state.handle === undefined ? (dependencies.lostCopyWaitMs ?? LOST_COPY_WAIT_MS) : 0;
      state = await cleanupStep(state, provider(databaseOf(state)), { ...context, lostCopyWaitMs });
      const reportKey = await store.put(state.report);
      return { database: state.report.database, status: state.report.status, reportKey, copy: state.report.copy.name, kept: state.report.copy.kept };
    },
    /** Metrics and Slack for the whole execution; a delivery that fails is in the reports, never a failed execution. */
    async report(input: { drills: DrillSummary[]; run?: RunFailure }): Promise<ReportOutput> {
      const broken = input.run?.failure ? await brokenRunReports(input.run, input.run.failure) : [];
      const saved = [...input.drills, ...broken].filter((drill): drill is DrillSummary & { reportKey: string } => drill.reportKey !== null);
      const unsaved = input.drills.filter((drill) => drill.reportKey === null);
      const unsavedMessage = (drill: DrillSummary) => `cleanup did not finish (the copy ${drill.copy ?? '(none)'} may be left to the janitor): ${drill.error ?? 'unknown'}`;
      // A drill whose Cleanup failed has no report: one is made here, so that its metrics and Slack say so too.
      const unsavedReports = unsaved.flatMap((drill) => {
        const database = config.databases.find((candidate) => candidate.name === drill.database);
        if (!database) return [];
        const begun = beginDrill(config, database, { trigger: 'schedule', ...(dependencies.now ? { now: dependencies.now } : {}) });
        const report = recordFailure({ ...begun, step: 'cleanup' }, { kind: 'tool', name: 'CleanupFailed', message: unsavedMessage(drill) }).report;
        return [{ ...report, copy: { ...report.copy, name: drill.copy } }];
      });
      const reports = await Promise.all(saved.map((drill) => store.get(drill.reportKey)));
      const result = { status: worstDrillStatus([...reports.map((report) => report.status), ...unsaved.map(() => 'error' as const)]), drills: [...reports, ...unsavedReports] };
      const log = dependencies.log ?? ((line: string) => console.error(line));
      // The page first, so that the Slack message can say where it is; a page that cannot be made is logged, never a failed run.
      const evidence = await dependencies.publishEvidence?.((dependencies.now ?? (() => new Date()))()).catch((error: unknown) => {
        log(`the evidence page was not written: ${(error as Error).message}`);
        return undefined;
      });
      const webhookUrl = await dependencies.slackWebhookUrl?.();
      const links = { ...(config.slack?.runbookUrl ? { runbookUrl: config.slack.runbookUrl } : {}), ...(evidence ? { evidence } : {}) };
      await deliverRun(result, {
        saveReport: (report) => store.put(report),
        metrics: dependencies.metrics,
        slack: webhookUrl ? { webhookUrl, links } : undefined,
        log,
        ...(dependencies.now ? { now: dependencies.now } : {}),
      });
      return {
        status: result.status,
        ...(evidence ? { evidence } : {}),
        reportKeys: saved.map((drill) => drill.reportKey),
        drills: [
          ...reports.map((report) => ({ database: report.database, status: report.status, ...(report.error ? { error: report.error.message } : {}) })),
          ...unsaved.map((drill) => ({ database: drill.database, status: 'error' as const, error: unsavedMessage(drill) })),
        ],
      };
    },
  };
}

export type DrillTasks = ReturnType<typeof drillTasks>;

/** Step Functions hands at most 256 KB from one state to the next; the state keeps well under it. */
export const STATE_BUDGET_BYTES = 128 * 1024;

/**
 * Verify's state, small enough for Step Functions: when the checks' details (a ledger of hundreds of
 * migrations, row counts of hundreds of tables) make it too large, the report is saved now and the
 * state goes on without the details, which Cleanup takes back (withSavedChecks).
 */
export async function keptUnderStateLimit(state: DrillState, store: ReportStore, budget = STATE_BUDGET_BYTES): Promise<DrillState> {
  if (Buffer.byteLength(JSON.stringify(state)) <= budget) return state;
  const checksKey = await store.put(state.report);
  const checks = state.report.checks.map((check) => ({ ...check, details: { savedWithReport: checksKey } }));
  return { ...state, checksKey, report: { ...state.report, checks } };
}

/** The checks' details back from the saved report, for Cleanup to save the whole report again. */
export async function withSavedChecks(state: DrillState, store: ReportStore): Promise<DrillState> {
  if (!state.checksKey) return state;
  const { checksKey, ...rest } = state;
  const saved = await store.get(checksKey);
  return { ...rest, report: { ...rest.report, checks: saved.checks } };
}
