import { quoteConfValue, type ConfSetting } from './postgresConf.ts';

/**
 * Settings a copy keeps from the source's config: those that change what queries return or that
 * recovery needs (prepared transactions and their locks, commit timestamps). Everything else is
 * dropped: paths into production (hba_file, ssl_*, log_directory, include ...), libraries
 * (shared_preload_libraries would start pg_cron and run production's jobs), archiving, replication,
 * and sizes meant for production's hardware.
 */
const KEPT_FROM_SOURCE = new Set([
  'max_prepared_transactions', 'max_locks_per_transaction', 'max_pred_locks_per_transaction',
  'track_commit_timestamp', 'timezone', 'datestyle', 'intervalstyle', 'default_text_search_config',
  'extra_float_digits', 'bytea_output', 'standard_conforming_strings', 'default_table_access_method',
  'password_encryption', 'max_wal_size', 'min_wal_size', 'checkpoint_timeout', 'full_page_writes',
  'wal_compression',
]);

/** Settings a user may not override for a copy: they would reconnect it to production or expose it. */
const OURS_ONLY = new Set([
  'listen_addresses', 'port', 'unix_socket_directories', 'unix_socket_permissions', 'ssl', 'archive_mode',
  'archive_command', 'archive_library', 'restore_command', 'recovery_target_time', 'recovery_target_action',
  'recovery_target_inclusive', 'recovery_target_timeline', 'shared_preload_libraries', 'hba_file', 'ident_file',
  'data_directory', 'config_file', 'max_logical_replication_workers', 'primary_conninfo', 'primary_slot_name',
  'event_triggers', 'lc_messages',
]);

/** Of those, the ones whose reason is not isolation: restore-drill reads the copy server's log, in English. */
const READ_BY_US = new Set(['lc_messages']);

export interface CopyConfOptions {
  copyName: string;
  socketDir: string;
  restoreCommand: string;
  /** Postgres' text for recovery_target_time (explicit +00, never a Z); absent to replay the whole archive. */
  recoveryTargetTime: string | undefined;
  /** fsync on; off only for throwaway test copies whose timing nobody measures. */
  durable: boolean;
  /**
   * A drill's copy: ours, removed when the drill ends, never kept (not restore --keep). What makes a
   * server survive a crash is then of no use (a copy that crashes is a failed drill, never recovered):
   * see recoverySettings().
   */
  throwaway?: boolean | undefined;
  /** The server's major version: settings newer than it are left out. */
  pgMajor?: number | undefined;
  sourceSettings: readonly ConfSetting[];
  /** Extra settings from the user (copySettings), validated against OURS_ONLY. */
  extraSettings?: Readonly<Record<string, string>> | undefined;
  /** Serve TLS with this certificate and key (already inside the copy's folder); off otherwise. */
  tls?: { certFile: string; keyFile: string } | undefined;
}

/** A setting name as Postgres's configuration lexer reads one: `work_mem`, `pg_stat_statements.max`. */
const SETTING_NAME = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/;
const INCLUDES = new Set(['include', 'include_if_exists', 'include_dir']);

/**
 * copySettings the copy's server would read otherwise than they are written here (the config checks
 * them too; this holds for every caller of the engine): a key not written as Postgres reads a name
 * (`"hba_file "`, a line break, capitals) would slip past the list of our settings, an include
 * would read another file, and a line break or NUL in a value would end the setting and start another.
 */
export function copySettingsProblems(settings: Readonly<Record<string, string>>): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(settings)) {
    if (!SETTING_NAME.test(key)) problems.push(`${JSON.stringify(key)} is not a setting name as Postgres reads it (lowercase letters, digits, _ and one .)`);
    else if (INCLUDES.has(key)) problems.push(`${key} would read another file into the copy's configuration`);
    else if (OURS_ONLY.has(key)) problems.push(`${key} is set by restore-drill ${READ_BY_US.has(key) ? "to read the copy server's log, which it needs in English (C)" : 'to keep the copy isolated'}`);
    if (/[\r\n\0]/.test(value)) problems.push(`the value of ${JSON.stringify(key)} holds a line break or a NUL character`);
  }
  return problems;
}

export function copyPostgresqlConf(options: CopyConfOptions): { text: string; dropped: string[]; recovery: RecoveryPath } {
  const kept = new Map<string, string>();
  const dropped = new Set<string>();
  for (const setting of options.sourceSettings) {
    if (KEPT_FROM_SOURCE.has(setting.name)) kept.set(setting.name, setting.value);
    else dropped.add(setting.name);
  }
  const ours: [string, string][] = [
    ['listen_addresses', '127.0.0.1'],
    ['unix_socket_directories', options.socketDir],
    ['unix_socket_permissions', '0700'],
    ...(options.tls
      ? ([['ssl', 'on'], ['ssl_cert_file', options.tls.certFile], ['ssl_key_file', options.tls.keyFile]] as [string, string][])
      : ([['ssl', 'off']] as [string, string][])),
    ['archive_mode', 'off'],
    ['archive_command', ''],
    ['shared_preload_libraries', ''],
    ['session_preload_libraries', ''],
    ['local_preload_libraries', ''],
    // PostgreSQL 17's login event triggers run on every connection, the readiness probe's and the
    // connection check's included, before isolation could disable them: a copy runs no event trigger.
    ...(options.pgMajor !== undefined && options.pgMajor >= 17 ? ([['event_triggers', 'off']] as [string, string][]) : []),
    ['max_logical_replication_workers', '0'],
    ['max_sync_workers_per_subscription', '0'],
    ['autovacuum', 'off'],
    // Without hot standby nobody can connect before promotion, and no setting has to match the source's.
    ['hot_standby', 'off'],
    ['logging_collector', 'off'],
    // What the server says is read (why it stopped, a full disk): in English whatever the machine's locale.
    ['lc_messages', 'C'],
    ['log_destination', 'stderr'],
    ['log_line_prefix', '%m [%p] '],
    ['log_timezone', 'UTC'],
    // A copy holds production data: its log keeps the server's own story (recovery, start, stop, FATAL)
    // and no statement or value. In log_min_messages LOG ranks above ERROR, so query errors (which quote
    // the value that failed: `invalid input syntax ... "<value>"`, `Key (id)=(...)`) are left out.
    ['log_min_messages', 'log'],
    ['log_min_error_statement', 'panic'],
    ['log_error_verbosity', 'terse'],
    ['log_statement', 'none'],
    ['log_min_duration_statement', '-1'],
    ['log_duration', 'off'],
    ['debug_print_parse', 'off'],
    ['debug_print_rewritten', 'off'],
    ['debug_print_plan', 'off'],
    ['cluster_name', options.copyName],
    ...recoverySettings(options).pairs,
    ['restore_command', options.restoreCommand],
    ['recovery_target_action', 'promote'],
    ['recovery_target_inclusive', 'on'],
    ['recovery_target_timeline', 'latest'],
    ...(options.recoveryTargetTime ? ([['recovery_target_time', options.recoveryTargetTime]] as [string, string][]) : []),
  ];
  const lines = [
    `# Written by restore-drill for copy ${options.copyName}. The source's own files are kept beside`,
    '# this one as *.from-source; only settings that change query results were taken from them.',
    ...[...kept].map(([name, value]) => `${name} = ${quoteConfValue(value)}`),
    ...Object.entries(options.extraSettings ?? {}).map(([name, value]) => `${name} = ${quoteConfValue(value)}`),
    ...ours.map(([name, value]) => `${name} = ${quoteConfValue(value)}`),
  ];
  const { path, settings } = recoverySettings(options);
  return { text: `${lines.join('\n')}\n`, dropped: [...dropped].filter((name) => !kept.has(name)).sort(), recovery: { path, settings } };
}

/** Which recovery path a copy runs: what a report says of it (DrillReport.backup.recovery). */
export interface RecoveryPath {
  /** `throwaway`: a drill's copy, removed at the end; `durable`: a copy that may be kept (restore --keep). */
  path: 'throwaway' | 'durable';
  /** The settings that make the difference, as written in the copy's postgresql.conf. */
  settings: string[];
  /** WAL segments copied into pg_wal before the start, which replay read there instead of through restore_command. */
  stagedWalSegments?: number;
}

/**
 * Recovery settings by path. A throwaway copy (measured on a pgbench scale 50 backup plus 500 MB of
 * WAL: 0.56x the time of the same restore with fsync on): fsync off skips syncing the copied data
 * folder at start and every write's flush during replay and the end-of-recovery checkpoint; a
 * checkpoint_timeout and max_wal_size out of reach leave replay without restartpoints (writing
 * every dirty page once per max_wal_size of WAL, for a crash that would only end the drill).
 * A durable copy keeps fsync on, and syncs its data folder at start with one syncfs() where the
 * server has recovery_init_sync_method (PostgreSQL 14+) instead of an fsync per file.
 */
export function recoverySettings(options: Pick<CopyConfOptions, 'durable' | 'throwaway' | 'pgMajor' | 'extraSettings'>, platform: NodeJS.Platform = process.platform): RecoveryPath & { pairs: [string, string][] } {
  const throwaway = options.throwaway === true || !options.durable;
  const pairs: [string, string][] = throwaway
    ? [['fsync', 'off'], ['synchronous_commit', 'off'], ['checkpoint_timeout', '1d'], ['max_wal_size', '1TB']]
    : [['fsync', 'on'], ...(options.pgMajor !== undefined && options.pgMajor >= 14 ? ([['recovery_init_sync_method', 'syncfs']] as [string, string][]) : [])];
  pairs.push(...prefetchSettings(options.pgMajor, platform));
  // The user's copySettings are theirs to choose: one that names a setting of the path's wins, and the report says so.
  const user = options.extraSettings ?? {};
  const ours = pairs.filter(([name]) => !Object.hasOwn(user, name));
  const theirs = pairs.filter(([name]) => Object.hasOwn(user, name)).map(([name]) => `${name} = ${user[name]} (copySettings)`);
  return { path: throwaway ? 'throwaway' : 'durable', settings: [...ours.map(([name, value]) => `${name} = ${value}`), ...theirs], pairs: ours };
}

/** The file that puts a copy's server into archive recovery; the server removes it when recovery ends. */
export const RECOVERY_SIGNAL = 'recovery.signal';

/** The settings that decide whether replay makes restartpoints (which recycle old WAL segments into new names). */
export const RESTARTPOINT_SETTINGS = ['checkpoint_timeout', 'max_wal_size'] as const;

/**
 * Replay's prefetch (PostgreSQL 15+, `recovery_prefetch = try` by default) reads the data pages the WAL
 * ahead will touch: deeper than its default (10 reads in flight, 512 kB of WAL looked ahead) for a copy
 * whose data no longer fits the page cache (pgbench scale 500, 7 GB of backup and 7 GB of WAL: the
 * drill's replay 41 s against 45–52 s). Only where the server can prefetch: a non-zero io concurrency
 * stops a server without posix_fadvise (macOS) from starting.
 */
function prefetchSettings(pgMajor: number | undefined, platform: NodeJS.Platform): [string, string][] {
  if (pgMajor === undefined || pgMajor < 15 || platform !== 'linux') return [];
  return [['maintenance_io_concurrency', '100'], ['wal_decode_buffer_size', '4MB']];
}

/** Only local connections: the private socket folder without a password, loopback with one. */
export const COPY_PG_HBA = copyPgHba(false);

/** With TLS on, loopback connections must use it (`hostssl`): a client that skips TLS is refused. */
export function copyPgHba(tls: boolean): string {
  const host = tls ? 'hostssl' : 'host';
  return [
    '# Written by restore-drill: this copy holds production data; it is reachable from this machine only.',
    'local all all trust',
    `${host} all all 127.0.0.1/32 scram-sha-256`,
    `${host} all all ::1/128 scram-sha-256`,
    '',
  ].join('\n');
}

/**
 * The copy's restore_command: reads the archive (plain files, else .gz), never writes there. One shell
 * line, as a DBA would write it: a script file in between costs a process for every WAL file replayed.
 * A file the archive does not hold exits 1, silently (Postgres asks for files past the end, and for
 * timeline histories that do not exist). A file it holds but cannot copy (a full disk, a read error)
 * exits 255, which Postgres takes as fatal: recovery stops there, the tool's message in the server's
 * log, instead of promoting what it had and passing for a broken backup.
 */
export function restoreCommandFor(archiveDir: string): string {
  // Postgres replaces %f, %p, %r and %% anywhere in restore_command: a % of the folder's own name is written %%.
  const dir = archiveDir.replaceAll('%', '%%');
  const file = shellQuote(`${dir}/%f`);
  const gz = shellQuote(`${dir}/%f.gz`);
  return `if [ -f ${file} ]; then cp ${file} '%p' || exit 255; elif [ -f ${gz} ]; then gzip -dc ${gz} > '%p' || exit 255; else exit 1; fi`;
}

/**
 * What a copy's server log says when the scratch disk filled up: the restore command's cp, or the
 * server's own writes, which say ENOSPC, or, when a write got only part of its bytes down, "wrote only
 * N of M bytes" with the hint to check free disk space.
 */
export const OUT_OF_SPACE = /No space left on device|wrote only \d+ of \d+ bytes|Check free disk space/;

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** recovery_target_time text: Postgres 15 rejects ISO's `Z` ("invalid value"), so always `+00`. */
export function recoveryTargetTime(time: Date): string {
  return `${time.toISOString().replace('T', ' ').replace('Z', '')}+00`;
}
