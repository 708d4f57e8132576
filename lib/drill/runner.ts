import { availableParallelism } from 'node:os';
import type { DatabaseConfig, RestoreDrillConfig } from '../config/schema.ts';
import { ConfigError, isRefusal } from '../errors.ts';
import { providerFor, type ProviderOptions } from '../providers/index.ts';
import { assertReportFolder, readPreviousReport, writeReport } from '../report/store.ts';
import type { DrillReport, RunResult } from '../report/types.ts';
import type { RestoreProvider } from '../providers/types.ts';
import { isShuttingDown, onShutdown } from '../shutdown.ts';
import { redactDeep } from '../util/redact.ts';
import { runDrill, type DrillOptions, type DrillResult } from './drill.ts';
import { interruptedReport, type DrillState } from './steps.ts';
import { targetProblem } from './target.ts';
import { worstDrillStatus } from './outcome.ts';
import { copyOnThisMachine } from '../providers/onThisMachine.ts';

export interface RunOptions extends Omit<DrillOptions, 'previousReport'>, ProviderOptions {
  /** Only these databases (--database); all when empty. */
  databases?: readonly string[];
  /** Where reports go (--report-dir); default the config's report.dir. */
  reportDir?: string | undefined;
  /** What the run should know before it starts (concurrency above the cores); the CLI prints it on stderr. */
  warn?: (line: string) => void;
  /** The machine's cores. @default os.availableParallelism() */
  cores?: number;
}

export function selectDatabases(config: RestoreDrillConfig, names: readonly string[] = []): DatabaseConfig[] {
  const unknown = names.filter((name) => !config.databases.some((database) => database.name === name));
  if (unknown.length > 0) {
    throw new ConfigError(`no database named ${unknown.join(', ')} in the config; configured: ${config.databases.map((d) => d.name).join(', ')}`);
  }
  return names.length ? config.databases.filter((database) => names.includes(database.name)) : config.databases;
}

export interface WindowResult {
  database: string;
  earliest: string;
  latest: string;
  /** A hole in the WAL archive (or another limit) that ends the window early. */
  note?: string;
  rpo: { targetSeconds: number; claimedSeconds: number; compliant: boolean };
}

/** `window`: the earliest and latest restorable time of a database, and the claimed RPO against its target. */
export async function restoreWindow(
  config: RestoreDrillConfig,
  name: string,
  options: ProviderOptions & { now?: () => Date; providerFor?: (database: DatabaseConfig) => RestoreProvider } = {},
): Promise<WindowResult> {
  const [database] = selectDatabases(config, [name]);
  const provider = options.providerFor ? options.providerFor(database!) : providerFor(database!, options);
  const window = await provider.window();
  const claimedSeconds = ((options.now ?? (() => new Date()))().getTime() - window.latest.getTime()) / 1000;
  const targetSeconds = database!.rpoTargetSeconds ?? config.rpoTargetSeconds;
  return {
    database: database!.name,
    earliest: window.earliest.toISOString(),
    latest: window.latest.toISOString(),
    ...(window.note ? { note: window.note } : {}),
    rpo: { targetSeconds, claimedSeconds, compliant: claimedSeconds <= targetSeconds },
  };
}

/**
 * One drill whose report goes to reportDir when it ends, and also when SIGINT/SIGTERM cuts it short
 * (as far as it got); its row counts compare with the earlier reports there. A drill refused for its
 * config or arguments (isRefusal) created nothing and writes nothing.
 */
export async function runRecordedDrill(
  config: RestoreDrillConfig,
  database: DatabaseConfig,
  provider: RestoreProvider,
  options: DrillOptions & { reportDir: string; concurrency?: DrillReport['concurrency'] },
): Promise<DrillResult> {
  await assertReportFolder(options.reportDir);
  const target = options.target ?? database.target;
  const problem = targetProblem(target);
  if (problem) throw new ConfigError(`${options.target === undefined ? `databases.${database.name}.target` : '--target'}: ${problem}`);
  let running: DrillState | undefined;
  const forget = onShutdown(async (signal) => {
    if (running) await writeReport(options.reportDir, interruptedReport(running, signal ?? 'a signal'));
  });
  try {
    const previousReport = options.previousReport ?? ((target: Date) => readPreviousReport(options.reportDir, database.name, target));
    const drilled = await runDrill(config, database, provider, { ...options, previousReport, onState: (state) => (running = state) });
    running = undefined;
    // Error messages and summaries are free text (a restore command, a driver's error): what is
    // returned, printed and written is the redacted report.
    const result: DrillResult = { ...drilled, report: redactDeep({ ...drilled.report, ...(options.concurrency ? { concurrency: options.concurrency } : {}) }) };
    // Once a signal came, the interrupted report is the record: what follows is the shutdown breaking the drill.
    if (!isRefusal(result.report.error) && !isShuttingDown()) await writeReport(options.reportDir, result.report);
    return result;
  } finally {
    forget();
  }
}

/**
 * Drills several databases with bounded concurrency. Every drill's report is written to the report
 * folder (drills refused as bad input created nothing and write nothing).
 */
export async function runDrills(config: RestoreDrillConfig, options: RunOptions): Promise<RunResult & { results: DrillResult[] }> {
  const databases = selectDatabases(config, options.databases);
  const reportDir = options.reportDir ?? config.report.dir;
  // Before any drill: found at the end, a copy was made for nothing.
  await assertReportFolder(reportDir, options.reportDir ? '--report-dir' : 'report.dir');
  const targetRefused = options.target === undefined ? undefined : targetProblem(options.target);
  if (targetRefused) throw new ConfigError(`--target: ${targetRefused}`);
  const cores = options.cores ?? availableParallelism();
  const drillsAtOnce = Math.min(config.concurrency, databases.length);
  const concurrency = { configured: config.concurrency, drillsAtOnce, cores };
  // Local copies restore and are checked on this machine: more of them than cores slow each other.
  const localAtOnce = Math.min(drillsAtOnce, databases.filter((database) => copyOnThisMachine(database.provider.kind)).length);
  if (localAtOnce > cores) {
    options.warn?.(
      `concurrency ${config.concurrency} runs ${localAtOnce} local drills at once on ${cores} core${cores === 1 ? '' : 's'}: they compete for CPU and disk, so each restore and RTO is measured longer than a drill alone would take (the reports record it)`,
    );
  }
  const results: DrillResult[] = new Array(databases.length);
  let next = 0;
  const worker = async () => {
    while (next < databases.length) {
      const index = next++;
      const database = databases[index]!;
      results[index] = await runRecordedDrill(config, database, providerFor(database, options), { ...options, reportDir, concurrency });
    }
  };
  await Promise.all(Array.from({ length: Math.min(config.concurrency, databases.length) }, worker));
  const drills: DrillReport[] = results.map((result) => result.report);
  return { status: worstDrillStatus(drills.map((report) => report.status)), drills, results };
}
