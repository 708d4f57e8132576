#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { progressPrinter } from '../lib/cli/progress.ts';
import { loadConfig } from '../lib/config/load.ts';
import { keepForProblem } from '../lib/config/schema.ts';
import { parseDurationSeconds } from '../lib/drill/duration.ts';
import { exitCodeOf } from '../lib/drill/outcome.ts';
import { restoreWindow, runDrills, runRecordedDrill, selectDatabases } from '../lib/drill/runner.ts';
import { evidenceCommands } from '../lib/evidence/cli.ts';
import { dropCopy, runJanitor } from '../lib/janitor.ts';
import { ConfigError, failureKindOf, RestoreDrillError } from '../lib/errors.ts';
import { providerFor } from '../lib/providers/index.ts';
import { cliDelivery, deliverRun } from '../lib/report/deliver.ts';
import { formatRunText, formatSeconds, summarizeDrill } from '../lib/report/format.ts';
import type { RunResult } from '../lib/report/types.ts';
import { install as installShutdownHandlers, isShuttingDown } from '../lib/shutdown.ts';
import { redactDeep, redactSecrets, rememberSecret } from '../lib/util/redact.ts';
import { toolVersion } from '../lib/version.ts';

const EXIT = { input: 2, backup: 1, tool: 3 } as const;

function output(result: RunResult, json: boolean): void {
  const document: RunResult = redactDeep({ status: result.status, drills: result.drills });
  process.stdout.write(json ? `${JSON.stringify(document, null, 2)}\n` : `${formatRunText(document)}\n`);
}

function keepSeconds(text: string): number {
  const problem = keepForProblem(text);
  if (problem) throw new ConfigError(`--keep-for "${text}" is not valid: ${problem}`);
  return parseDurationSeconds(text)!;
}

const METRICS_HELP = 'send the drill metrics: "cloudwatch" (PutMetricData as the AWS SDK is configured; AWS_ENDPOINT_URL_CLOUDWATCH for another endpoint) or "emf FILE" (appends EMF lines)';
const SLACK_HELP = 'post the run\'s Slack message to the incoming webhook in SLACK_WEBHOOK_URL (a secret: never an argument nor a config value)';

function warn(line: string): void {
  process.stderr.write(`restore-drill: ${redactSecrets(line)}\n`);
}

/** Progress lines carry copy names and providers' words (a poll's detail): redacted like every outward text. */
function progress(): ReturnType<typeof progressPrinter> {
  const print = progressPrinter();
  return (event) => print(event.detail === undefined ? event : { ...event, detail: redactSecrets(event.detail) });
}

const program = new Command()
  .name('restore-drill')
  .description('Proves that Postgres backups restore: point-in-time copies, checks, RPO and RTO.')
  .version(toolVersion)
  .showHelpAfterError()
  .exitOverride();

program
  .command('run')
  .description('drill every configured database (or those named): restore, check, report, remove the copy')
  .option('-c, --config <file>', 'config file (default: restore-drill.config.{ts,mjs,js,json} in this folder)')
  .option('-d, --database <name...>', 'only these databases')
  .option('-t, --target <target>', 'latest, -15m, -2h, an ISO time with an offset, or random (overrides the config)')
  .option('--report-dir <dir>', 'where reports are written (default: the config\'s report.dir)')
  .option('--json', 'print only the JSON result on stdout')
  .addHelpText('after', '\nExamples:\n  restore-drill run\n  restore-drill run --database app --target -15m --json\n  restore-drill run --target random')
  .option('--metrics <sink...>', METRICS_HELP)
  .option('--slack', SLACK_HELP)
  .action(async (options: { config?: string; database?: string[]; target?: string; reportDir?: string; json?: boolean; metrics?: string[]; slack?: boolean }) => {
    const { config } = await loadConfig(process.cwd(), options.config);
    const delivery = cliDelivery(options, config, options.reportDir ?? config.report.dir, { log: warn });
    const result = await runDrills(config, {
      // Ctrl-C removes the cloud copies this run started, as it removes local ones.
      aws: { removeOnSignal: true },
      neon: { removeOnSignal: true },
      trigger: 'cli',
      target: options.target,
      databases: options.database ?? [],
      reportDir: options.reportDir,
      warn,
      onProgress: progress(),
    });
    // After a signal the interrupted reports are the record; what the drills said since is the shutdown breaking them.
    if (isShuttingDown()) return;
    await deliverRun(result, delivery);
    output(result, options.json ?? false);
    process.exitCode = exitCodeOf(result.drills);
  });

program
  .command('restore')
  .description('a real restore: a copy of one database at a point in time, checked; with --keep it stays and its connection is printed')
  .requiredOption('-d, --database <name>', 'the database to restore')
  .requiredOption('-t, --target <target>', 'latest, -15m, or an ISO time with an offset (e.g. 2026-11-25T14:59:59Z)')
  .option('-c, --config <file>', 'config file')
  .option('--keep', 'keep the copy when done')
  .option('--keep-for <duration>', 'how long a kept copy stays before the janitor may remove it', '24h')
  .option('--json', 'print only the JSON result on stdout')
  .addHelpText('after', '\nExamples:\n  restore-drill restore --database app --target 2026-11-25T14:59:59Z --keep\n  restore-drill drop --copy rd-app-20261125150102-x7k2')
  .option('--metrics <sink...>', METRICS_HELP)
  .option('--slack', SLACK_HELP)
  .action(async (options: { database: string; target: string; config?: string; keep?: boolean; keepFor: string; json?: boolean; metrics?: string[]; slack?: boolean }) => {
    const keepForSeconds = options.keep ? keepSeconds(options.keepFor) : undefined;
    const { config } = await loadConfig(process.cwd(), options.config, { checkFolders: false });
    const delivery = cliDelivery(options, config, config.report.dir, { log: warn });
    const [database] = selectDatabases(config, [options.database]);
    const { report, connection } = await runRecordedDrill(config, database!, providerFor(database!, { aws: { removeOnSignal: true }, neon: { removeOnSignal: true } }), {
      trigger: 'manual',
      target: options.target,
      keepForSeconds,
      reportDir: config.report.dir,
      onProgress: progress(),
    });
    if (isShuttingDown()) return;
    await deliverRun({ status: report.status, drills: [report] }, delivery);
    output({ status: report.status, drills: [report] }, options.json ?? false);
    if (connection && !options.json) {
      process.stdout.write(
        `\nThe copy ${report.copy.name} stays until ${report.copy.expiresAt}:\n` +
          `  psql "host=${connection.host} port=${connection.port} dbname=${connection.database} user=${connection.user}${connection.ssl ? ' sslmode=verify-full' : ''}"\n` +
          `  password: ${connection.passwordFrom}\n` +
          `  remove it with: restore-drill drop --copy ${report.copy.name}${options.config ? ` --config ${options.config}` : ''}\n`,
      );
    }
    process.exitCode = exitCodeOf([report]);
  });

program
  .command('drop')
  .description('remove a copy kept by restore --keep (only copies restore-drill made and marked)')
  .requiredOption('--copy <name>', 'the copy, rd-<database>-<yyyymmddhhmmss>-<4 random>')
  .option('-c, --config <file>', 'config file (RDS and Aurora copies are found through their database\'s provider)')
  .option('--force', 'remove a local copy even while the drill that made it still runs (it then reports the copy gone)')
  .addHelpText('after', '\nExample:\n  restore-drill drop --copy rd-app-20261125150102-x7k2')
  .action(async (options: { copy: string; config?: string; force?: boolean }) => {
    // Without --config, a config in this folder is used when there is a readable one (a local copy needs none).
    const loaded = await loadConfig(process.cwd(), options.config, { checkFolders: false }).catch((error: unknown) => {
      if (options.config) throw error;
      return undefined;
    });
    await dropCopy(options.copy, { config: loaded?.config, force: options.force === true });
    process.stdout.write(`removed ${options.copy}\n`);
  });

program
  .command('window')
  .description('the earliest and latest restorable time of a database, and the claimed RPO against its target')
  .requiredOption('-d, --database <name>', 'the database')
  .option('-c, --config <file>', 'config file')
  .option('--json', 'print JSON')
  .addHelpText('after', '\nExample:\n  restore-drill window --database app')
  .action(async (options: { database: string; config?: string; json?: boolean }) => {
    const { config } = await loadConfig(process.cwd(), options.config, { checkFolders: false });
    const result = redactDeep(await restoreWindow(config, options.database));
    process.stdout.write(
      options.json
        ? `${JSON.stringify(result, null, 2)}\n`
        : `${result.database}: restorable from ${result.earliest} to ${result.latest}\n` +
            (result.note ? `⚠️  ${result.note}\n` : '') +
            `RPO (claimed): ${formatSeconds(result.rpo.claimedSeconds)} (target ${formatSeconds(result.rpo.targetSeconds)}) ${result.rpo.compliant ? '✅' : '❌'}\n`,
    );
  });

program
  .command('janitor')
  .description('remove our copies past their expiry (RDS and Aurora copies by their tags, Neon branches by their expiry, local copies by their marker)')
  .option('-c, --config <file>', 'config file')
  .option('--dry-run', 'list the expired copies, remove nothing')
  .option('--json', 'print JSON')
  .addHelpText('after', '\nExamples:\n  restore-drill janitor --dry-run\n  restore-drill janitor')
  .action(async (options: { config?: string; dryRun?: boolean; json?: boolean }) => {
    const { config } = await loadConfig(process.cwd(), options.config, { checkFolders: false });
    const result = redactDeep(await runJanitor(config, { dryRun: options.dryRun ?? false }));
    if (options.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } else {
      const lines = [
        ...result.removed.map((copy) => `${result.dryRun ? 'would remove' : 'removed'} ${copy.name} (${copy.provider}, expired ${copy.expiresAt})`),
        ...result.failed.map((copy) => `could not remove ${copy.name} (${copy.provider}): ${copy.error}`),
        ...result.deferred.map((copy) => `not removed yet, the next run tries again: ${copy.name} (${copy.provider}): ${copy.error}`),
        ...result.skipped.map((copy) => `skipped ${copy.name} (${copy.provider}): ${copy.error}`),
        ...result.unlisted.map((listing) => `could not list the copies of ${listing.database} (${listing.provider}): ${listing.error}`),
        ...result.capacity.map((limit) => `${limit.database}: ${limit.summary}`),
        `expired copies ${result.dryRun ? 'to remove' : 'removed'}: ${result.removed.length}; copies of ours not expired, left alone: ${result.kept.length}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    process.exitCode = result.failed.length > 0 || result.unlisted.length > 0 ? EXIT.tool : 0;
  });

program
  .command('demo')
  .description('the full drill on the embedded default: a source with archiving, Drizzle migrations, a backup, a point-in-time restore and its checks')
  .option('--report-dir <dir>', 'where the report is written', './drill-reports')
  .option('--json', 'print only the JSON result on stdout')
  .action(async (options: { reportDir: string; json?: boolean }) => {
    // drizzle-orm's migrator takes most of a second to import: only the demo needs it.
    const { runDemo } = await import('../lib/demo.ts');
    const demo = await runDemo({ reportDir: options.reportDir, onProgress: progress() });
    output({ status: demo.report.status, drills: [demo.report] }, options.json ?? false);
    if (!options.json) {
      process.stdout.write(
        `\nPostgreSQL ${demo.postgres}. Restored to ${demo.report.target.time}:\n` +
          `  the copy holds:       ${demo.copyHeld.join(', ')}\n` +
          `  the source held then: ${demo.sourceHeldThen.join(', ')}\n` +
          `  the source holds now: ${demo.sourceHoldsNow.join(', ')}\n` +
          `report: ${demo.reportFile}\n`,
      );
    }
    process.exitCode = exitCodeOf([demo.report]);
  });

program
  .command('cloud')
  .description('checks of the deployed stack (cdk deploy)')
  .command('check')
  .description('after cdk deploy: reads the stack, runs Plan dry, simulates the roles in IAM, optionally fires each alarm; lists what a person must check')
  .option('--stack <name>', 'the stack', 'RestoreDrill')
  .option('--region <region>', 'its region (default: the AWS SDK\'s, AWS_REGION)')
  .option('--yes-touch-alarms', 'put each alarm in ALARM and back: Slack receives one message per alarm')
  .option('--json', 'print the JSON result')
  .addHelpText('after', '\nExamples:\n  restore-drill cloud check --stack RestoreDrill --region eu-west-1\n  restore-drill cloud check --yes-touch-alarms')
  .action(async (options: { stack: string; region?: string; yesTouchAlarms?: boolean; json?: boolean }) => {
    const { cloudCheckCommand } = await import('../lib/cloud/cli.ts');
    process.exitCode = await cloudCheckCommand(options, { out: (text) => process.stdout.write(redactSecrets(text)), err: (line) => process.stderr.write(redactSecrets(line)) });
  });

// evidence and verify-report: their options and actions live in lib/evidence/cli.ts.
for (const command of evidenceCommands()) program.addCommand(command.copyInheritedSettings(program));

installShutdownHandlers();
// The webhook URL is read where --slack is parsed; remembered first, so that no text of any command echoes it.
rememberSecret(process.env.SLACK_WEBHOOK_URL);
try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : EXIT.input;
  } else {
    const kind = failureKindOf(error);
    process.stderr.write(`restore-drill: ${redactSecrets(error instanceof RestoreDrillError ? error.message : (error as Error).stack ?? String(error))}\n`);
    process.exitCode = EXIT[kind];
  }
}
