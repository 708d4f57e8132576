/**
 * What bench/restore.ts alternates: one way of restoring the same backup, timed from the start of the
 * copy until a live server answers pg_is_in_recovery() = false, with where the time went read from
 * the server's own log. A method of another tool that restores this same pgbench backup goes into
 * bench/restore.ts's list of methods and gets a row in every table; pgBackRest has a source and a
 * section of its own (bench/pgbackrest.ts, run after the sizes).
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import type { PgBinaries } from '../lib/providers/local/binaries.ts';
import type { SourceCluster } from '../lib/providers/local/sourceCluster.ts';
import type { ServerUser } from '../lib/providers/local/serverUser.ts';

/** One size's source, as every method sees it. */
export interface BenchSource {
  scale: number;
  source: SourceCluster;
  binaries: PgBinaries;
  user: ServerUser;
  /** The base backup's folder (plain format, under source.backupsDir). */
  backup: string;
}

/** Where one restore's time went (all in ms, from our clock and the server log's). */
export interface Timed {
  totalMs: number;
  /** Start of the copy until the server logs its start: plan, copy, config, chown, spawn. */
  beforeServerMs: number;
  /** Server start until `redo starts` (syncing the copied data folder, when fsync is on). */
  startupMs: number;
  /** `redo starts` until `redo done`. */
  replayMs: number;
  /** `redo done` until `ready to accept connections` (end-of-recovery checkpoint, new timeline). */
  endOfRecoveryMs: number;
  /** `ready to accept connections` until pg_is_in_recovery() = false was seen. */
  noticeMs: number;
}

export interface RestoreMethod {
  /** As the tables print it: "engine (drill)", "by hand", "pgBackRest". */
  name: string;
  /** Once per size, right after the base backup and before the WAL that follows it (a tool's own backup of the same point). */
  afterBaseBackup?(context: BenchSource): Promise<void>;
  /** One timed restore to the end of the archive; removes what it made before it returns. */
  run(context: BenchSource): Promise<Timed>;
  /** Once per size, after its rounds. */
  cleanup?(context: BenchSource): Promise<void>;
}

/** Where a restore's time went, from the server log's own timestamps (log_line_prefix '%m', UTC). */
export async function phasesFromLog(logFile: string, started: number, promoted: number): Promise<Timed> {
  // pg_is_in_recovery() turns false a moment before the postmaster logs that it is ready: wait for that line.
  const ready = /database system is ready to accept connections$/m;
  let text = await readFile(logFile, 'utf8');
  for (let tries = 0; !ready.test(text) && tries < 100; tries++) {
    await delay(20);
    text = await readFile(logFile, 'utf8');
  }
  const at = (pattern: RegExp): number => {
    const line = text.split('\n').find((l) => pattern.test(l));
    const stamp = line && /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) UTC/.exec(line)?.[1];
    if (!stamp) throw new Error(`no log line matching ${pattern} in ${logFile}`);
    return Date.parse(`${stamp.replace(' ', 'T')}Z`);
  };
  const serverStart = at(/starting PostgreSQL/);
  const redoStart = at(/redo starts at/);
  const redoDone = at(/redo done at/);
  const readyAt = at(/database system is ready to accept connections$/);
  return {
    totalMs: promoted - started,
    beforeServerMs: serverStart - started,
    startupMs: redoStart - serverStart,
    replayMs: redoDone - redoStart,
    endOfRecoveryMs: readyAt - redoDone,
    noticeMs: promoted - readyAt,
  };
}
