import { Command } from 'commander';
import { readFile, writeFile, rename } from 'node:fs/promises';
import { ConfigError, RestoreDrillError } from '../errors.ts';
import { DURATION_HINT, parseDurationSeconds } from '../drill/duration.ts';
import type { DrillReport } from '../report/types.ts';

export interface CommandIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const processIo: CommandIo = { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) };

function duration(option: string, value: string): number {
  const seconds = parseDurationSeconds(value);
  if (seconds === undefined || seconds <= 0) throw new ConfigError(`${option} "${value}" is not valid: expected ${DURATION_HINT}`);
  return seconds;
}

export interface EvidenceOptions {
  config?: string;
  reportDir?: string;
  bucket?: string;
  region?: string;
  database?: string[];
  since: string;
  expectEvery?: string;
  publicKey?: string;
  out: string;
}

/** `restore-drill evidence`: the page from the report folder or the bucket; returns the exit code. */
export async function runEvidence(options: EvidenceOptions, io: CommandIo = processIo, now: Date = new Date()): Promise<number> {
  const sinceSeconds = duration('--since', options.since);
  const expectEverySeconds = options.expectEvery === undefined ? undefined : duration('--expect-every', options.expectEvery);
  const period = { since: new Date(now.getTime() - sinceSeconds * 1000), until: now };
  const [{ renderEvidence }, { buildEvidence }, sources, { loadPublicKey, keyIdOf }] = await Promise.all([import('./page.ts'), import('./model.ts'), import('./sources.ts'), import('./signing.ts')]);
  const publicKey = options.publicKey ? await loadPublicKey(options.publicKey) : undefined;
  let loaded;
  let source: string;
  if (options.bucket) {
    const { S3Client } = await import('@aws-sdk/client-s3');
    const client = new S3Client(options.region ? { region: options.region } : {});
    source = `the bucket s3://${options.bucket}/reports/`;
    loaded = await sources.readReportsFromBucket(client, options.bucket, { databases: options.database, since: period.since }).catch((error: Error) => {
      // The SDK's message names the caller and the action; the bucket is ours to name.
      throw new RestoreDrillError('tool', `could not read the reports in s3://${options.bucket}/reports/: ${error.name}: ${error.message}; nothing was written`, { cause: error });
    });
  } else {
    let dir = options.reportDir;
    if (!dir) {
      const { loadConfig } = await import('../config/load.ts');
      dir = (await loadConfig(process.cwd(), options.config, { checkFolders: false })).config.report.dir;
    }
    loaded = await sources.readReportsFromDir(dir);
    source = `the folder ${dir}`;
  }
  const evidence = buildEvidence({ reports: loaded.reports, unreadable: loaded.unreadable, knownDatabases: loaded.databases, period, now, databases: options.database, expectEverySeconds, publicKey, source });
  const html = await renderEvidence(evidence);
  await writeFile(`${options.out}.tmp`, html);
  await rename(`${options.out}.tmp`, options.out);
  const drills = evidence.databases.flatMap((database) => database.drills);
  const counted = evidence.databases.flatMap((database) => database.counted);
  const duplicates = evidence.databases.flatMap((database) => database.duplicates);
  const drillCount = publicKey ? `${counted.length} verified drill(s) of ${drills.length}` : `${drills.length} drill(s)`;
  io.out(`wrote ${options.out}: ${evidence.databases.length} database(s), ${drillCount} since ${period.since.toISOString()} from ${source}\n`);
  if (evidence.unreadable.length) io.err(`restore-drill: ${evidence.unreadable.length} file(s) were not readable drill reports; the page names them\n`);
  for (const duplicate of duplicates) io.err(`${'duplicate'.padEnd(22)} ${duplicate.origin}: the same drill as ${duplicate.of}\n`);
  if (duplicates.length) io.err(`restore-drill: ${duplicates.length} report(s) repeat a drill already read under another name; each drill is counted once\n`);
  if (!publicKey) return 0;
  // Altered or signed by another key: the history cannot be vouched for, and each is named. Unsigned
  // reports (from before signing was turned on, or written while the key could not be read) are shown,
  // not counted; one newer than a signed report of its database that does not say its signing failed
  // may stand in for a signed one, and fails the command.
  const failed = [...drills, ...duplicates].filter((drill) => drill.signature === 'altered' || drill.signature === 'other-key' || drill.signature === 'unchecked');
  for (const drill of failed) io.err(`${STATE_TEXT[drill.signature === 'other-key' ? 'other-key' : 'altered'].padEnd(22)} ${drill.origin} (${drill.report.database}, ${drill.report.startedAt})\n`);
  const suspect = evidence.databases.flatMap((database) => database.unsignedAfterSigning);
  for (const drill of suspect) io.err(`${'unsigned after signing'.padEnd(22)} ${drill.origin} (${drill.report.database}, ${drill.report.startedAt})\n`);
  const unsigned = drills.filter((drill) => drill.signature === 'unsigned').length;
  if (unsigned) io.err(`restore-drill: ${unsigned} report(s) are unsigned and not counted as verified drills (written before signing was turned on, or when the key could not be read: such a report says why in its error); the page names them\n`);
  if (suspect.length) io.err(`restore-drill: ${suspect.length} unsigned report(s) are newer than a signed report of their database and do not say their signing failed: each may stand in for a signed report; the page names them\n`);
  if (failed.length) io.err(`restore-drill: ${failed.length} report(s) do not verify against the public key (key ${keyIdOf(publicKey)}); the page marks them\n`);
  return failed.length || suspect.length ? 1 : 0;
}

export interface VerifyResult {
  file: string;
  state: 'intact' | 'altered' | 'other-key' | 'unsigned' | 'unreadable';
  database?: string;
  startedAt?: string;
  reason?: string;
}

const STATE_TEXT: Record<VerifyResult['state'], string> = {
  intact: 'intact',
  altered: 'ALTERED',
  'other-key': 'signed by another key',
  unsigned: 'unsigned',
  unreadable: 'unreadable',
};

/** `restore-drill verify-report FILE... --public-key K`: exit 0 when every report is intact, 1 otherwise. */
export async function runVerifyReport(files: readonly string[], options: { publicKey: string; json?: boolean }, io: CommandIo = processIo): Promise<number> {
  const { loadPublicKey, signatureStateOf, keyIdOf } = await import('./signing.ts');
  const key = await loadPublicKey(options.publicKey);
  const results: VerifyResult[] = [];
  for (const file of files) {
    let report: DrillReport;
    try {
      report = JSON.parse(await readFile(file, 'utf8')) as DrillReport;
      if (typeof report !== 'object' || report === null || Array.isArray(report)) throw new Error('not a JSON object');
    } catch (error) {
      results.push({ file, state: 'unreadable', reason: (error as NodeJS.ErrnoException).code ?? (error as Error).message });
      continue;
    }
    const state = signatureStateOf(report, key);
    results.push({ file, state: state === 'unchecked' ? 'altered' : state, database: report.database, startedAt: report.startedAt, ...(state === 'other-key' ? { reason: `signed by key ${String(report.signature?.keyId)}, not ${keyIdOf(key)}` } : {}) });
  }
  if (options.json) {
    io.out(`${JSON.stringify({ keyId: keyIdOf(key), results }, null, 2)}\n`);
  } else {
    for (const result of results) {
      const about = result.database ? ` (${result.database}, ${result.startedAt})` : '';
      io.out(`${STATE_TEXT[result.state].padEnd(22)} ${result.file}${about}${result.reason ? `: ${result.reason}` : ''}\n`);
    }
    const intact = results.filter((result) => result.state === 'intact').length;
    io.out(`${intact} of ${results.length} intact (key ${keyIdOf(key)})\n`);
  }
  return results.every((result) => result.state === 'intact') ? 0 : 1;
}

/** The two commands, for bin/cli.ts to add; their modules load only when they run. */
export function evidenceCommands(): Command[] {
  const evidence = new Command('evidence')
    .description('one self-contained HTML page of the drill history (a calendar, RPO and RTO against their targets, the latest drill, every failure) for a person or an auditor')
    .option('-c, --config <file>', 'config file (its report.dir is read)')
    .option('--report-dir <dir>', 'read the reports in this folder (default: the config\'s report.dir)')
    .option('--bucket <name>', 'read the reports from this bucket (reports/<database>/...) with the AWS SDK\'s usual credentials')
    .option('--region <region>', 'the bucket\'s region (default: the AWS SDK\'s)')
    .option('-d, --database <name...>', 'only these databases (default: all)')
    .option('--since <duration>', 'the period: this long before now', '90d')
    .option('--expect-every <duration>', 'a drill is expected this often (the schedule): days without one are "missing" (default: derived from the reports\' spacing)')
    .option('--public-key <key>', 'check each report\'s signature with this Ed25519 public key (a PEM file or PEM text): only intact reports are counted, each report not intact is named, exit 1 when one is altered, signed by another key, or unsigned though newer than a signed report of its database')
    .option('-o, --out <file>', 'where the page is written', 'evidence.html')
    .addHelpText('after', '\nExamples:\n  restore-drill evidence --since 90d --expect-every 1d --public-key signing.pub.pem\n  restore-drill evidence --bucket my-reports-bucket --database app --out app-evidence.html')
    .action(async (options: EvidenceOptions) => {
      process.exitCode = await runEvidence(options);
    });
  const verify = new Command('verify-report')
    .description('checks reports\' Ed25519 signatures: says which are intact, altered or unsigned (exit 1 unless all are intact)')
    .argument('<file...>', 'report files (JSON)')
    .requiredOption('--public-key <key>', 'the Ed25519 public key (a PEM file or PEM text)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  restore-drill verify-report drill-reports/*.json --public-key signing.pub.pem')
    .action(async (files: string[], options: { publicKey: string; json?: boolean }) => {
      process.exitCode = await runVerifyReport(files, options);
    });
  return [evidence, verify];
}
