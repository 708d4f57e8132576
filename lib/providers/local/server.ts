import { spawn } from 'node:child_process';
import { closeSync, fchmodSync, openSync } from 'node:fs';
import { readdir, readFile, realpath, rename, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { isAbsolute, join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { RestoreFailedError } from '../../errors.ts';
import { execFile } from '../../util/exec.ts';
import { tool, type PgBinaries } from './binaries.ts';
import type { ServerUser } from './serverUser.ts';
import { serverUserEnv } from './childEnv.ts';

/** A running postgres process: its data folder, socket folder, loopback port and log. */
export interface ServerLocation {
  pid: number;
  port: number;
  dataDir: string;
  socketDir: string;
  logFile: string;
  /** Whether the server runs in a network namespace of its own, and how (or why not). */
  network?: NetworkIsolation;
}

export interface NetworkIsolation {
  /** In a network namespace of its own: no TCP/IP connection leaves it, loopback included (its loopback is down). */
  isolated: boolean;
  how: string;
}

export interface StartServerOptions {
  binaries: PgBinaries;
  user: ServerUser;
  dataDir: string;
  socketDir: string;
  logFile: string;
  /**
   * Start the server in a network namespace of its own where the machine allows it (root, with
   * util-linux's unshare): code in the copy (COPY ... TO PROGRAM, an untrusted language) then cannot
   * reach production over the network. Clients reach it over its Unix socket, which is a file.
   */
  isolateNetwork?: boolean | undefined;
}

const UNSHARE_PATHS = ['/usr/bin/unshare', '/bin/unshare'];
let namespaceProbe: Promise<{ unshare: string } | { unavailable: string }> | undefined;

/** Whether `unshare --net` works here: as root (it needs CAP_SYS_ADMIN), with unshare installed, outside a container that forbids it. */
export function networkNamespaceSupport(): Promise<{ unshare: string } | { unavailable: string }> {
  namespaceProbe ??= (async () => {
    if (process.getuid?.() !== 0) return { unavailable: 'not run as root (a network namespace needs CAP_SYS_ADMIN)' };
    const unshare = (await Promise.all(UNSHARE_PATHS.map(async (path) => ((await stat(path).catch(() => undefined))?.isFile() ? path : undefined)))).find(Boolean);
    if (!unshare) return { unavailable: `unshare (util-linux) is not installed (looked for ${UNSHARE_PATHS.join(', ')})` };
    const probe = await execFile(unshare, ['--net', '/bin/true']).catch((error: Error) => ({ code: 1, stdout: '', stderr: error.message }));
    if (probe.code !== 0) return { unavailable: `unshare --net failed here: ${probe.stderr.trim() || `exit ${probe.code}`}` };
    return { unshare };
  })();
  return namespaceProbe;
}

/**
 * The command that starts postgres. In a namespace: unshare makes it as root, switches to the server's
 * user (-G drops the supplementary groups) and execs postgres, so the pid we spawn is the postmaster's.
 */
async function serverCommand(options: StartServerOptions, args: string[]): Promise<{ file: string; args: string[]; runAs: ServerUser['runAs']; network: NetworkIsolation }> {
  const postgres = tool(options.binaries, 'postgres');
  const plain = (how: string) => ({ file: postgres, args, runAs: options.user.runAs, network: { isolated: false, how } });
  if (!options.isolateNetwork) return plain('not asked for');
  const support = await networkNamespaceSupport();
  if ('unavailable' in support) return plain(`shares the machine's network: ${support.unavailable}`);
  const { runAs } = options.user;
  const switchUser = runAs ? ['--setgid', String(runAs.gid), '--setuid', String(runAs.uid)] : [];
  return {
    file: support.unshare,
    args: ['--net', ...switchUser, postgres, ...args],
    runAs: undefined,
    network: { isolated: true, how: `its own network namespace (unshare --net): loopback down, no route out; clients use its Unix socket` },
  };
}

const POLL_MS = 25;
// Ports 32768-60999 are Linux's ephemeral range: a server there can collide with outgoing connections.
const PORT_LOW = 20_000;
const PORT_HIGH = 32_700;

/**
 * Starts `postgres` detached (a kept copy outlives the CLI) on a free loopback port below the
 * ephemeral range, and returns once it listens. A port taken in the meantime is retried with another.
 */
export async function startServer(options: StartServerOptions): Promise<ServerLocation> {
  for (let attempt = 1; ; attempt++) {
    const port = await freeLoopbackPort();
    // The log may hold what a copy of production says about itself: ours alone (the server writes through the inherited descriptor).
    const log = openSync(options.logFile, 'a', 0o600);
    fchmodSync(log, 0o600);
    const command = await serverCommand(options, ['-D', options.dataDir, '-p', String(port), '-k', options.socketDir]);
    const child = spawn(command.file, command.args, {
      detached: true,
      stdio: ['ignore', log, log],
      env: serverUserEnv(),
      ...(command.runAs ?? {}),
    });
    closeSync(log);
    child.unref();
    const pid = child.pid;
    if (pid === undefined) throw new RestoreFailedError(`could not start ${tool(options.binaries, 'postgres')}`);
    const location = { pid, port, dataDir: options.dataDir, socketDir: options.socketDir, logFile: options.logFile, network: command.network };
    for (;;) {
      const status = await serverStatus(location);
      if (status.alive && status.listening) return location;
      if (!status.alive) {
        const log = await readFile(options.logFile, 'utf8').catch(() => '');
        if (attempt < 5 && /could not bind|Address already in use|could not create any TCP\/IP sockets/.test(log)) {
          // Set aside: the log read for why a server stopped is the running server's alone.
          await rename(options.logFile, `${options.logFile}.port-${port}`);
          break;
        }
        throw new RestoreFailedError(`the Postgres server for ${options.dataDir} exited at start: ${logReason(log)}`);
      }
      await delay(POLL_MS);
    }
  }
}

export interface ServerStatus {
  alive: boolean;
  /** postmaster.pid's status line: starting, ready, standby, stopping. */
  state: string | undefined;
  listening: boolean;
}

/** What postmaster.pid says about a server (lines: pid, data dir, start, port, socket dir, listen address, shmem, status). */
export async function serverStatus(location: Pick<ServerLocation, 'pid' | 'dataDir'>): Promise<ServerStatus> {
  const alive = await isRunning(location.pid);
  const lines = (await readFile(join(location.dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n');
  const ours = lines[0]?.trim() === String(location.pid);
  return {
    alive,
    state: ours ? lines[7]?.trim() || undefined : undefined,
    listening: ours && Boolean(lines[5]?.trim()),
  };
}

/** Waits until the server reports `ready`; fails with the server's own words when it dies first. */
export async function waitUntilReady(
  location: ServerLocation,
  options: { timeoutMs: number; onTimeout: () => Error },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const status = await serverStatus(location);
    if (status.alive && status.state === 'ready') return;
    if (!status.alive) throw new RestoreFailedError(`the Postgres server stopped: ${await logReasonOf(location)}`);
    if (Date.now() > deadline) throw options.onTimeout();
    await delay(POLL_MS);
  }
}

/**
 * Stops a server: `immediate` (SIGQUIT) for a copy we throw away anyway, `fast` (SIGINT) otherwise;
 * SIGKILL if it has not gone after the grace period. Signals only a live postgres process for this data folder.
 */
export async function stopServer(
  location: Pick<ServerLocation, 'pid' | 'dataDir'>,
  mode: 'fast' | 'immediate' = 'immediate',
  graceMs = 15_000,
): Promise<void> {
  if (!(await isOurPostgres(location))) return;
  process.kill(location.pid, mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
  const deadline = Date.now() + graceMs;
  while (await isRunning(location.pid)) {
    if (Date.now() > deadline) {
      process.kill(location.pid, 'SIGKILL');
      while (await isRunning(location.pid)) await delay(POLL_MS);
      return;
    }
    await delay(POLL_MS);
  }
}

async function isOurPostgres(location: Pick<ServerLocation, 'pid' | 'dataDir'>): Promise<boolean> {
  if (!(await isRunning(location.pid))) return false;
  const cmdline = await readFile(`/proc/${location.pid}/cmdline`, 'utf8').catch(() => undefined);
  // Where /proc is missing (macOS) the pid file decides: it names the pid only while that server runs.
  return cmdline === undefined ? (await serverStatus(location)).state !== undefined : runsIn(location.pid, location.dataDir);
}

/**
 * Whether a process is the postmaster of this data folder: its working folder is the data folder
 * (Postgres enters it at start), or its command line says `-D <data folder>` exactly. Never a
 * substring: an empty or partial path would match every process.
 */
async function runsIn(pid: number, dataDir: string): Promise<boolean> {
  if (!Number.isSafeInteger(pid) || pid <= 1 || !isAbsolute(dataDir)) return false;
  const wanted = await realpath(dataDir).catch(() => resolve(dataDir));
  const cwd = await realpath(`/proc/${pid}/cwd`).catch(() => undefined);
  const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
  const dashD = argv.indexOf('-D');
  const named = dashD >= 0 && argv[dashD + 1] !== undefined && resolve(argv[dashD + 1]!) === wanted;
  // Backends share the postmaster's working folder but rewrite their command line: only the postmaster keeps `-D`.
  return named || (cwd === wanted && argv.length > 1 && dashD >= 0);
}

/**
 * The postmaster serving a copy's data folder, found from the folder itself and never from what a
 * marker claims: the pid in its postmaster.pid, else a process that runs in it. Each is checked
 * against /proc before anyone signals it.
 */
export async function serverOf(dataDir: string): Promise<number[]> {
  const found = new Set<number>();
  const fromPidFile = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]?.trim());
  if (fromPidFile && (await isRunning(fromPidFile)) && (await runsIn(fromPidFile, dataDir))) found.add(fromPidFile);
  // A server whose pid file is not written yet (killed right after start) is found by its working folder and command line.
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry) || found.has(Number(entry))) continue;
    if ((await isRunning(Number(entry))) && (await runsIn(Number(entry), dataDir))) found.add(Number(entry));
  }
  return [...found];
}

/** A zombie (exited, not yet reaped) counts as gone. */
export async function isRunning(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat === undefined || !/^\d+ \(.*\) Z/.test(stat);
}

export async function logReasonOf(location: Pick<ServerLocation, 'logFile'>): Promise<string> {
  return logReason(await readFile(location.logFile, 'utf8').catch(() => ''));
}

/**
 * Whether the server said why it stopped: Postgres does for a broken backup too (a FATAL or PANIC line,
 * or a process of it that died of a signal). One that did not could not write it, or was killed from outside.
 */
export function gaveReason(log: string): boolean {
  return /\b(FATAL|PANIC):|terminated by signal/.test(log);
}

/** The server's last FATAL or PANIC line with the two lines before it (where the cause usually is), else its last lines. */
export function logReason(log: string): string {
  const lines = log.split('\n').filter(Boolean);
  const last = lines.findLastIndex((line) => /\b(FATAL|PANIC):/.test(line));
  const chosen = last >= 0 ? lines.slice(Math.max(0, last - 2), last + 1) : lines.slice(-3);
  return chosen.map((line) => line.replace(/^.*?\b(FATAL|PANIC|ERROR|LOG|DETAIL|HINT):\s+/, '$1: ')).join(' | ') || 'no log output';
}

async function freeLoopbackPort(): Promise<number> {
  for (;;) {
    const port = PORT_LOW + Math.floor(Math.random() * (PORT_HIGH - PORT_LOW));
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
}
