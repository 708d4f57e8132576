import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { redactSecrets, REDACTED } from '../util/redact.ts';
import type { MigrationsLayout } from './ledger.ts';

/**
 * drizzle-kit as the schema check runs it: its own `pull` (introspection) against the copy, and its
 * own differ, each in a Node process of its own. A process of its own because drizzle-kit asks
 * questions on a terminal (a column both added and dropped: "renamed?"), calls process.exit on errors,
 * and 1.x needs `drizzle-orm` to be 1.x; and because a process can be stopped at the time limit.
 */
export interface DrizzleKit {
  layout: MigrationsLayout;
  /** The package folder. */
  dir: string;
  version: string;
  /** Node options the kit's processes need (1.x: the drizzle-orm alias). */
  nodeArgs: string[];
}

export class DrizzleKitMissingError extends Error {
  override name = 'DrizzleKitMissingError';
}

const KIT_PACKAGES: Record<MigrationsLayout, { entry: string; installAs: string }> = {
  '0.x': { entry: 'drizzle-kit/api', installAs: 'drizzle-kit@0.31' },
  '1.x': { entry: 'drizzle-kit-v1/api-postgres', installAs: 'drizzle-kit-v1@npm:drizzle-kit@1.0.0-rc.5 (with drizzle-orm-v1)' },
};

/** Files next to this module, as .ts from the checkout and .js from the build. */
function sibling(name: string): string {
  const here = fileURLToPath(import.meta.url);
  return join(dirname(here), `${name}${extname(here)}`);
}

/** The drizzle-kit installed with restore-drill for a migrations layout, or why there is none. */
export async function findDrizzleKit(layout: MigrationsLayout): Promise<DrizzleKit> {
  const { entry, installAs } = KIT_PACKAGES[layout];
  let dir: string;
  try {
    dir = dirname(createRequire(import.meta.url).resolve(entry));
  } catch {
    throw new DrizzleKitMissingError(
      `drizzle-kit for the ${layout} layout (${installAs}) is not installed beside restore-drill here; in the cloud, Verify carries the kits of the layouts it saw at synth (lib/infra/verifyKit.ts): synthesise the stack again with these migrations and checks.schema, and deploy`,
    );
  }
  const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { version: string };
  if (!manifest.version.startsWith(layout === '0.x' ? '0.' : '1.')) {
    throw new DrizzleKitMissingError(`the drizzle-kit found in ${dir} is ${manifest.version}, but the migrations are in the ${layout} layout: install ${installAs} beside restore-drill`);
  }
  const nodeArgs = layout === '1.x' ? ['--import', `file://${sibling('schemaKitAlias')}`] : [];
  return { layout, dir, version: manifest.version, nodeArgs };
}

/** The environment of drizzle-kit's processes: nothing of ours (no AWS keys, no PG* passwords), no colours. */
function kitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { NO_COLOR: '1', FORCE_COLOR: '0' };
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) if (process.env[name] !== undefined) env[name] = process.env[name];
  return env;
}

const OUTPUT_LIMIT = 1 << 20;

interface RunOptions {
  what: string;
  cwd: string;
  deadline: number;
  input?: string;
  /** Values to cut from any output we pass on (the copy's password). */
  secrets: readonly string[];
}

/** Runs `node args`, with fd 3 as a pipe for the answer; kills the process at the deadline. */
function runNode(args: string[], options: RunOptions): Promise<{ code: number | null; stdout: string; stderr: string; answer: string }> {
  const leftMs = options.deadline - Date.now();
  if (leftMs <= 0) return Promise.reject(new Error(`${options.what} did not start: the schema check's time (timeoutSeconds) ran out`));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: options.cwd, env: kitEnv(), stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
    const out = { stdout: '', stderr: '', answer: '' };
    const collect = (key: keyof typeof out) => (chunk: Buffer) => {
      if (out[key].length < OUTPUT_LIMIT) out[key] += chunk.toString('utf8');
    };
    child.stdout!.on('data', collect('stdout'));
    child.stderr!.on('data', collect('stderr'));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', collect('answer'));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, leftMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) reject(new Error(`${options.what} did not finish within the schema check's ${Math.round(leftMs / 100) / 10} s (timeoutSeconds) and was stopped`));
      else resolve({ code, ...out });
    });
    child.stdin!.on('error', () => {});
    child.stdin!.end(options.input ?? '');
  });
}

/** The tail of a process's output, readable, with secrets cut: it may echo a connection error. */
export function cleanOutput(text: string, secrets: readonly string[]): string {
  let clean = text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '\n');
  for (const secret of secrets) if (secret) clean = clean.replaceAll(secret, REDACTED);
  const lines = clean.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !/\b(fetching|fetched)\b/.test(line));
  return redactSecrets(lines.slice(-15).join('\n')).slice(-2000);
}

export interface PullOptions {
  schemas: readonly string[];
  ledger: { schema: string; table: string };
  deadline: number;
}

/**
 * drizzle-kit's `pull` against the copy, into a folder of our own that is removed afterwards; returns
 * the snapshot it writes. The credentials reach drizzle-kit only through a config file, mode 0600 in
 * a 0700 folder, never on a command line (any user can read those in ps).
 */
export async function pullSnapshot(kit: DrizzleKit, copy: pg.ClientConfig, options: PullOptions): Promise<Record<string, unknown>> {
  const password = typeof copy.password === 'function' ? await copy.password() : copy.password;
  const secrets = password ? [password] : [];
  const dir = await mkdtemp(join(tmpdir(), 'rd-schema-'));
  try {
    const out = join(dir, 'out');
    const credentials = {
      host: copy.host ?? 'localhost',
      ...(copy.port !== undefined ? { port: copy.port } : {}),
      ...(copy.user !== undefined ? { user: copy.user } : {}),
      ...(password !== undefined ? { password } : {}),
      database: copy.database ?? copy.user ?? 'postgres',
      // drizzle-kit asks for TLS when ssl is left out: say no where our own clients do not use it.
      ssl: copy.ssl ?? false,
    };
    const config = {
      dialect: 'postgresql',
      out,
      schemaFilter: [...options.schemas],
      migrations: { schema: options.ledger.schema, table: options.ledger.table },
      dbCredentials: credentials,
    };
    // CommonJS, which 0.x requires and 1.x imports (1.x would need an import attribute for JSON); JSON is a valid literal.
    const configFile = join(dir, 'drizzle.config.cjs');
    await writeFile(configFile, `module.exports = ${JSON.stringify(config)};\n`, { mode: 0o600 });
    const what = `drizzle-kit ${kit.version} pull`;
    const run = await runNode([...kit.nodeArgs, join(kit.dir, 'bin.cjs'), 'pull', '--config', configFile], { what, cwd: dir, deadline: options.deadline, secrets });
    const snapshotFile = await pulledSnapshotFile(kit.layout, out);
    if (run.code !== 0 || snapshotFile === null) {
      const said = cleanOutput(`${run.stdout}\n${run.stderr}`, secrets);
      throw new Error(`${what} of the copy failed (exit code ${run.code ?? 'none'}${snapshotFile === null ? ', no snapshot written' : ''})${said ? `: ${said}` : ''}`);
    }
    return JSON.parse(await readFile(snapshotFile, 'utf8')) as Record<string, unknown>;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** 0.x writes `meta/0000_snapshot.json`; 1.x a `<timestamp>_<name>/snapshot.json` folder. */
async function pulledSnapshotFile(layout: MigrationsLayout, out: string): Promise<string | null> {
  const entries = await readdir(out, { withFileTypes: true }).catch(() => []);
  if (layout === '0.x') {
    const meta = await readdir(join(out, 'meta')).catch(() => [] as string[]);
    const name = meta.find((file) => /^\d+_snapshot\.json$/.test(file));
    return name ? join(out, 'meta', name) : null;
  }
  const folder = entries.find((entry) => entry.isDirectory() && /^\d{14}/.test(entry.name));
  return folder ? join(out, folder.name, 'snapshot.json') : null;
}

export type DifferRequest =
  /** Each job's steps are diffed one after the other, their SQL joined; one answer per job. */
  | { op: 'diff'; layout: MigrationsLayout; kitDir: string; jobs: [unknown, unknown][][] }
  | { op: 'reconstruct'; layout: '1.x'; kitDir: string; files: Record<string, unknown>; id: string };

/** Runs schemaDiffer (drizzle-kit's differ or 1.x's reconstruct) in a process of its own; returns its answer. */
export async function runDiffer<T>(kit: DrizzleKit, request: DifferRequest, deadline: number): Promise<T> {
  const what = `drizzle-kit ${kit.version} ${request.op === 'diff' ? 'differ' : 'snapshot reconstruction'}`;
  // In /tmp: in Lambda, the task root (where the kit is) is read-only.
  const run = await runNode([...kit.nodeArgs, sibling('schemaDiffer')], { what, cwd: tmpdir(), deadline, input: JSON.stringify(request), secrets: [] });
  let answer: { ok: true; value: T } | { ok: false; error: string } | undefined;
  try {
    answer = JSON.parse(run.answer) as typeof answer;
  } catch {
    answer = undefined;
  }
  if (run.code !== 0 || !answer) {
    throw new Error(`${what} failed (exit code ${run.code ?? 'none'})${run.stderr ? `: ${cleanOutput(run.stderr, [])}` : ''}`);
  }
  if (!answer.ok) throw new Error(`${what} failed: ${answer.error}`);
  return answer.value;
}
