import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { z } from 'zod';
import { checksConfigProblems, type ChecksConfig } from '../checks/config.ts';
import { parseTableName } from '../checks/sql.ts';
import { ConfigError } from '../errors.ts';
import { nearestKey } from './knownKeys.ts';
import { configSchema, type RestoreDrillConfig } from './schema.ts';
import { rememberConfiguredSecrets } from './secrets.ts';

export const CONFIG_FILE_NAMES = ['restore-drill.config.ts', 'restore-drill.config.mjs', 'restore-drill.config.js', 'restore-drill.config.json'];

export interface LoadedConfig {
  file: string;
  config: RestoreDrillConfig;
}

/** Finds the config file: `explicit`, else the first of CONFIG_FILE_NAMES in `cwd`. */
export async function findConfigFile(cwd: string, explicit?: string): Promise<string> {
  if (explicit) {
    const file = resolve(cwd, explicit);
    if (!(await isFile(file))) throw new ConfigError(`config file ${file} does not exist`);
    return file;
  }
  for (const name of CONFIG_FILE_NAMES) {
    if (await isFile(join(cwd, name))) return join(cwd, name);
  }
  throw new ConfigError(`no config file in ${cwd}: create one of ${CONFIG_FILE_NAMES.join(', ')}, or pass --config FILE`);
}

export interface LoadOptions {
  /**
   * false: the checks' folders (the ledger's migrations) need not exist. `window`, `restore`, `drop`
   * and the janitor take the data back without them: on the bad day the repo may not be at hand.
   * @default true
   */
  checkFolders?: boolean;
}

export async function loadConfig(cwd: string, explicit?: string, options: LoadOptions = {}): Promise<LoadedConfig> {
  const file = await findConfigFile(cwd, explicit);
  const config = await validateConfig(await readConfigValue(file), dirname(file), file, options);
  // The values of the secrets the config names, for the redactor of every outward text.
  rememberConfiguredSecrets(config);
  return { file, config };
}

async function readConfigValue(file: string): Promise<unknown> {
  try {
    if (extname(file) === '.json') return JSON.parse(await readFile(file, 'utf8'));
    const module = (await import(pathToFileURL(file).href)) as { default?: unknown };
    if (module.default === undefined) throw new Error('it has no default export; write `export default defineConfig({ ... })`');
    return module.default;
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${thrownText(error)}`, { cause: error });
  }
}

/** What a config module threw, in words: modules throw strings and plain objects too. */
function thrownText(thrown: unknown): string {
  if (thrown instanceof Error) return thrown.message;
  if (typeof thrown === 'string') return thrown;
  if (thrown === undefined || thrown === null || typeof thrown !== 'object') return `it threw ${String(thrown)} (not an Error)`;
  try {
    return JSON.stringify(thrown);
  } catch {
    return `it threw ${Object.prototype.toString.call(thrown)} (not an Error)`;
  }
}

/** A setting name as Postgres's configuration lexer reads one, folded to lowercase: `work_mem`, `pg_stat_statements.max`. */
const SETTING_NAME = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/;
const INCLUDES = new Set(['include', 'include_if_exists', 'include_dir']);

/**
 * copySettings as the copy's server will read them: a key is compared with the settings only
 * restore-drill sets (local engine) as written, so a key must be written as Postgres reads it
 * (`"hba_file "` or a key holding a newline passed that comparison and set hba_file). Values hold no
 * line break, which would end the setting and start another.
 */
function copySettingsProblems(settings: Record<string, string>): string[] {
  const problems: string[] = [];
  const rule = "lowercase letters, digits and _, one . for an extension's setting";
  for (const [key, value] of Object.entries(settings)) {
    // A key with spaces or line breaks is shown quoted, so that the person sees exactly what is there.
    const at = /^[A-Za-z0-9_.]+$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
    if (!SETTING_NAME.test(key)) {
      const meant = key.trim().toLowerCase();
      problems.push(`${at}: ${JSON.stringify(key)} is not a setting name as Postgres reads it (${rule})${SETTING_NAME.test(meant) ? `: write ${JSON.stringify(meant)}` : ''}`);
    } else if (INCLUDES.has(key)) {
      problems.push(`${at}: ${key} reads another file into the copy's configuration; copies take no settings from other files`);
    }
    if (/[\r\n\0]/.test(value)) problems.push(`${at}: the value holds a line break or a NUL character, which would end the setting and start another`);
  }
  return problems;
}

/** NAMEDATALEN - 1: Postgres silently truncates a longer name, counted in bytes (UTF-8), not characters. */
const MAX_NAME_BYTES = 63;

/**
 * Names in the checks that Postgres would truncate to another name (a table counted would be
 * another table): every part of a table name, and every column and ledger name, by its bytes.
 */
function nameLengthProblems(checks: ChecksConfig): string[] {
  const problems: string[] = [];
  const tooLong = (name: string) => Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES;
  const name = (path: string, value: string | undefined) => {
    if (value !== undefined && tooLong(value)) problems.push(`${path}: ${JSON.stringify(value)} is ${Buffer.byteLength(value, 'utf8')} bytes long; Postgres truncates names to ${MAX_NAME_BYTES} bytes`);
  };
  const table = (path: string, value: string | undefined) => {
    if (value === undefined) return;
    let parts: string[];
    try {
      const parsed = parseTableName(value);
      parts = parsed.schema === null ? [parsed.name] : [parsed.schema, parsed.name];
    } catch {
      return; // the schema already reported the malformed name
    }
    for (const part of parts.filter(tooLong)) {
      problems.push(`${path}: ${JSON.stringify(part)} is ${Buffer.byteLength(part, 'utf8')} bytes long; Postgres truncates names to ${MAX_NAME_BYTES} bytes and would count another table`);
    }
  };
  for (const [index, rule] of (checks.rowCounts ?? []).entries()) {
    table(`rowCounts[${index}].table`, rule.table);
    name(`rowCounts[${index}].asOf.column`, rule.asOf?.column);
  }
  table('freshness.table', checks.freshness?.table);
  name('freshness.column', checks.freshness?.column);
  name('ledger.schema', checks.ledger?.schema);
  name('ledger.table', checks.ledger?.table);
  for (const [index, relation] of (checks.integrity?.relations ?? []).entries()) table(`integrity.relations[${index}]`, relation);
  return problems;
}

/**
 * Validates a config value; every problem of the file is reported at once, each with its path
 * (`databases[1].provider.walArchive: required`). Paths in the file are relative to `baseDir`.
 */
export async function validateConfig(value: unknown, baseDir: string, file = 'config', options: LoadOptions = {}): Promise<RestoreDrillConfig> {
  const parsed = configSchema.safeParse(value);
  const bounds = checksDurationProblems(value);
  if (!parsed.success) throw problemsError(file, [...parsed.error.issues.flatMap((issue) => describeIssue(issue)), ...bounds]);
  const config = resolvePaths(parsed.data, baseDir);
  const problems: string[] = [...bounds];
  const seen = new Set<string>();
  for (const [index, database] of config.databases.entries()) {
    const at = `databases[${index}]`;
    if (seen.has(database.name)) problems.push(`${at}.name: "${database.name}" is used by an earlier database; names must be unique`);
    seen.add(database.name);
    const provider = database.provider;
    const folders: [string, string | undefined][] = [
      ...(provider.kind === 'local'
        ? ([
            [`${at}.provider.baseBackups`, provider.baseBackups],
            [`${at}.provider.walArchive`, provider.walArchive],
            [`${at}.provider.pgBin`, provider.pgBin],
          ] as [string, string | undefined][])
        : []),
      ...(provider.kind === 'pgbackrest' ? ([[`${at}.provider.pgBin`, provider.pgBin]] as [string, string | undefined][]) : []),
      [`${at}.checks.ledger.migrationsFolder`, options.checkFolders === false ? undefined : database.checks.ledger?.migrationsFolder],
    ];
    for (const [path, folder] of folders) {
      if (folder !== undefined && !(await isFolder(folder))) problems.push(`${path}: folder ${folder} does not exist`);
    }
    if (provider.kind === 'pgbackrest' && provider.config !== undefined && !(await isFile(provider.config))) {
      problems.push(`${at}.provider.config: file ${provider.config} does not exist (pgBackRest's configuration file)`);
    }
    if (provider.kind !== 'local' && provider.kind !== 'pgbackrest' && provider.caFile !== undefined && !(await isFile(provider.caFile))) {
      problems.push(`${at}.provider.caFile: file ${provider.caFile} does not exist`);
    }
    problems.push(...checksConfigProblems(database.checks, { hasSource: database.source !== undefined }).map((p) => `${at}.${p}`));
    problems.push(...nameLengthProblems(database.checks).map((p) => `${at}.checks.${p}`));
    if (provider.kind === 'local' || provider.kind === 'pgbackrest') problems.push(...copySettingsProblems(provider.copySettings ?? {}).map((p) => `${at}.provider.copySettings${p}`));
  }
  if (problems.length > 0) throw problemsError(file, problems);
  return config;
}

const MAX_TIMER_MS = 2 ** 31 - 1;
const YEAR_SECONDS = 365 * 86_400;

/**
 * The checks' durations, bounded here with the config's own (schema.ts DURATION_BOUNDS): a
 * statement_timeout above 2^31 - 1 ms is refused by Postgres only once a copy exists, and Node
 * fires a longer timer at once. Read from the value as written, so that they are reported with
 * every other problem of the file.
 */
function checksDurationProblems(value: unknown): string[] {
  const problems: string[] = [];
  const databases = (value as { databases?: unknown } | null)?.databases;
  if (!Array.isArray(databases)) return problems;
  const bound = (path: string, input: unknown, min: number, max: number, whole: boolean, unit: string, why: string) => {
    if (typeof input !== 'number') return;
    if ((whole && !Number.isInteger(input)) || !(input >= min && input <= max)) {
      problems.push(`${path}: must be ${whole ? 'a whole number' : 'a number'} of ${unit} from ${min} to ${max} (${why}); got ${String(input)}`);
    }
  };
  for (const [index, database] of databases.entries()) {
    const checks = (database as { checks?: Record<string, unknown> } | null)?.checks;
    if (!checks || typeof checks !== 'object') continue;
    const at = `databases[${index}].checks`;
    bound(`${at}.statementTimeoutMs`, checks.statementTimeoutMs, 1, MAX_TIMER_MS, true, 'milliseconds', '2^31 - 1, about 24.8 days: Postgres and Node timers hold no more');
    const rowCounts = checks.rowCounts;
    if (Array.isArray(rowCounts)) {
      for (const [rule, counted] of rowCounts.entries()) {
        bound(`${at}.rowCounts[${rule}].asOf.marginSeconds`, (counted as { asOf?: { marginSeconds?: unknown } } | null)?.asOf?.marginSeconds, 0, YEAR_SECONDS, false, 'seconds', '365 days');
      }
    }
    bound(`${at}.freshness.maxLagSeconds`, (checks.freshness as { maxLagSeconds?: unknown } | undefined)?.maxLagSeconds, 0, YEAR_SECONDS, false, 'seconds', '365 days');
    bound(`${at}.integrity.budgetSeconds`, (checks.integrity as { budgetSeconds?: unknown } | undefined)?.budgetSeconds, 0, Math.floor(MAX_TIMER_MS / 1000), false, 'seconds', 'about 24.8 days: Node timers hold no more');
  }
  return problems;
}

function resolvePaths(config: RestoreDrillConfig, baseDir: string): RestoreDrillConfig {
  const at = (path: string) => (isAbsolute(path) ? path : resolve(baseDir, path));
  return {
    ...config,
    report: { dir: at(config.report.dir) },
    databases: config.databases.map((database) => ({
      ...database,
      provider:
        database.provider.kind === 'local'
          ? {
              ...database.provider,
              baseBackups: at(database.provider.baseBackups),
              ...(database.provider.walArchive ? { walArchive: at(database.provider.walArchive) } : {}),
              ...(database.provider.pgBin ? { pgBin: at(database.provider.pgBin) } : {}),
            }
          : database.provider.kind === 'pgbackrest'
            ? {
                ...database.provider,
                ...(database.provider.config ? { config: at(database.provider.config) } : {}),
                ...(database.provider.pgBin ? { pgBin: at(database.provider.pgBin) } : {}),
              }
            : { ...database.provider, ...(database.provider.caFile ? { caFile: at(database.provider.caFile) } : {}) },
      checks: {
        ...database.checks,
        ...(database.checks.ledger ? { ledger: { ...database.checks.ledger, migrationsFolder: at(database.checks.ledger.migrationsFolder) } } : {}),
      },
    })),
  };
}

function problemsError(file: string, problems: string[]): ConfigError {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return new ConfigError(`${file} has ${count}:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, key) => (typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key)), '');
}

/**
 * A zod issue as the lines a person reads: the path, then what is wrong (unknown keys one per line,
 * with the known key they most likely meant).
 */
export function describeIssue(issue: z.core.$ZodIssue, schema: z.ZodType = configSchema): string[] {
  const at = formatPath(issue.path);
  const prefix = at ? `${at}: ` : '';
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const meant = nearestKey(schema, issue.path, key);
      return `${at ? `${at}.` : ''}${key}: unknown key ${meant ? `(did you mean ${meant}? See` : '(check its spelling; see'} the README's configuration reference)`;
    });
  }
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) return [`${prefix}required`];
  return [`${prefix}${issue.message.replace(/^Invalid input: /, '')}`];
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then((info) => info.isFile(), () => false);
}

async function isFolder(path: string): Promise<boolean> {
  return stat(path).then((info) => info.isDirectory(), () => false);
}
