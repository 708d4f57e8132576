import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { RestoreDrillError } from '../../errors.ts';
import { execFile, type ExecResult } from '../../util/exec.ts';
import { rememberSecret } from '../../util/redact.ts';
import { restoreCommandEnv } from '../local/childEnv.ts';
import { scratchFolders } from '../local/scratch.ts';

/** A stanza of a pgBackRest repository, as the provider's config names it. */
export interface PgbackrestSource {
  stanza: string;
  /** pgBackRest's configuration file; undefined for pgBackRest's own default. */
  config?: string | undefined;
  repo: number;
  /** The program to run. @default pgbackrest */
  command?: string | undefined;
  processMax?: number | undefined;
  /** Reads the repository's cipher passphrase (an environment variable, a secret); it only ever reaches pgbackrest's environment. */
  cipherPass?: (() => Promise<string | undefined>) | undefined;
}

/** Commands that accept --lock-path (verify and repo-ls refuse it: they take no lock). */
const TAKES_LOCK_PATH = new Set(['info', 'archive-get', 'restore']);

/**
 * Commands that act on a PostgreSQL data folder. A repository host's stanza names the database host
 * (pg1-host), and pgBackRest then refuses them there ([072]); ours always act on this machine (our
 * cache, our copy's folder), so the host and its pg1-host-* options are reset to their defaults.
 */
const ACTS_LOCALLY = new Set(['archive-get', 'restore']);

export interface PgbackrestRun {
  /** The folder pgBackRest's lock and log files go to (never /tmp/pgbackrest nor /var/log/pgbackrest). */
  workDir: string;
  /** Extra options, as pgBackRest spells them (--type=time). */
  options?: readonly string[];
}

/** How a command line is made: options of ours first, the command, then its own arguments. */
export function pgbackrestArgs(source: PgbackrestSource, command: string, run: PgbackrestRun, args: readonly string[] = []): string[] {
  return [
    `--stanza=${source.stanza}`,
    ...(source.config ? [`--config=${source.config}`] : []),
    `--repo=${source.repo}`,
    `--log-path=${join(run.workDir, 'log')}`,
    '--log-level-file=off',
    '--log-level-stderr=off',
    '--log-timestamp=n',
    ...(TAKES_LOCK_PATH.has(command) ? [`--lock-path=${join(run.workDir, 'lock')}`] : []),
    ...(ACTS_LOCALLY.has(command) ? ['--reset-pg1-host'] : []),
    ...(run.options ?? []),
    command,
    ...args,
  ];
}

/**
 * The environment pgbackrest runs with: ours minus restore-drill's own secrets (childEnv), plus the
 * repository's passphrase as PGBACKREST_REPO<n>_CIPHER_PASS, which pgBackRest reads from there; never
 * an argument, where `ps` and pgBackRest's own "command begin" log line would show it.
 */
export async function pgbackrestEnv(source: PgbackrestSource): Promise<NodeJS.ProcessEnv> {
  const env = restoreCommandEnv();
  const pass = await source.cipherPass?.();
  if (pass !== undefined) {
    rememberSecret(pass);
    env[`PGBACKREST_REPO${source.repo}_CIPHER_PASS`] = pass;
  }
  return env;
}

/** Our folder for one stanza and repository under the scratch root: the WAL cache, lock and log files. */
export async function stanzaWorkDir(source: PgbackrestSource): Promise<string> {
  const key = createHash('sha256').update(JSON.stringify([source.config ?? '', source.stanza, source.repo])).digest('hex').slice(0, 16);
  const dir = join(scratchFolders.walCache(), `pgbackrest-${key}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}

export function programOf(source: PgbackrestSource): string {
  return source.command ?? 'pgbackrest';
}

/** Runs one pgbackrest command to its end (never throws for an exit code: callers read it). */
export async function runPgbackrest(source: PgbackrestSource, command: string, run: PgbackrestRun, args: readonly string[] = []): Promise<ExecResult> {
  const program = programOf(source);
  return execFile(program, pgbackrestArgs(source, command, run, args), { env: await pgbackrestEnv(source) }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') {
      throw new RestoreDrillError(
        'input',
        `the pgbackrest program (${program}) is not installed or not on PATH: install it (Debian and Ubuntu: apt-get install pgbackrest; macOS: brew install pgbackrest), or set provider.command`,
      );
    }
    throw error;
  });
}

/** pgBackRest's own words for a failed command: its ERROR lines, else its last lines; what to do where it is not obvious. */
export function saidBy(result: ExecResult): string {
  const said = pgbackrestWords(result);
  // pgBackRest checks every repository the config declares encrypted, whichever one the command reads.
  const pass = /requires option: repo(\d+)-cipher-pass/.exec(said);
  if (pass) {
    return `${said} (the configuration declares repo${pass[1]} encrypted, and pgBackRest wants its passphrase for every command, whichever repository is read: ` +
      `set PGBACKREST_REPO${pass[1]}_CIPHER_PASS in restore-drill's environment, or provider.repoCipherPass when provider.repo is ${pass[1]})`;
  }
  // Newer pgBackRest runs only restore as root unless told otherwise.
  if (/allow-root/.test(said)) {
    return `${said} (run restore-drill as the repository's user, or set allow-root=y in the [global] section of pgbackrest.conf)`;
  }
  return said;
}

function pgbackrestWords(result: ExecResult): string {
  const lines = `${result.stdout}\n${result.stderr}`.split('\n').map((line) => line.trim()).filter(Boolean);
  const errors = lines.filter((line) => /ERROR:|WARN:/.test(line));
  return (errors.length > 0 ? errors : lines.slice(-3)).join(' | ').replace(/^P\d+\s+/, '') || `exit ${result.code}`;
}
