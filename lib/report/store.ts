import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, link, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ConfigError } from '../errors.ts';
import { signWithConfiguredKey } from '../evidence/signing.ts';
import { redactDeep } from '../util/redact.ts';
import { firstDrillId, newDrillId, reportStamp, sameDrill } from './drillId.ts';
import type { DrillReport } from './types.ts';

/** Names drawn before giving up: each taken name is another drill's (or a racing writer's of this one). */
const NAME_ATTEMPTS = 8;

/**
 * Writes `<database>-<startedAt>-<drillId>.json` into the report folder; returns its path. The first
 * write of a drill is exclusive (a hard link of a complete temporary file: it fails when the name
 * exists), so another drill's report is never overwritten; the drill's own file is replaced whole
 * (rename) when it is written again after delivery. Sets the report's drillId when it has none.
 * Signed (Ed25519) when RESTORE_DRILL_SIGNING_KEY or RESTORE_DRILL_SIGNING_KEY_FILE is set.
 * Redacted before it is signed: the file is what auditors, the evidence page and the next drill read.
 */
export async function writeReport(dir: string, report: DrillReport): Promise<string> {
  await mkdir(dir, { recursive: true });
  report.drillId ??= firstDrillId(report);
  for (let attempt = 1; ; attempt++) {
    const signed = await signWithConfiguredKey(redactDeep(report));
    const file = join(dir, `${report.database}-${reportStamp(report.startedAt)}-${report.drillId}.json`);
    // Per write: two writers of one drill must not share (and tear) a temporary file.
    const temporary = join(dir, `.${report.database}-${randomBytes(6).toString('hex')}.tmp`);
    await writeFile(temporary, `${JSON.stringify(signed, null, 2)}\n`, { flag: 'wx' });
    try {
      if (sameDrill(await readStored(file), report)) {
        await rename(temporary, file);
        return file;
      }
      try {
        await link(temporary, file);
        return file;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        // Taken since: by a racing writer of this drill (then this is a rewrite), or by another drill.
        if (!sameDrill(await readStored(file), report)) {
          if (attempt >= NAME_ATTEMPTS) throw new Error(`could not find a free report name in ${dir} after ${attempt} tries (last ${file})`, { cause: error });
          report.drillId = newDrillId();
        }
      }
    } finally {
      await rm(temporary, { force: true });
    }
  }
}

/**
 * Refuses (ConfigError) a report folder that could not take a report, before a drill makes anything:
 * found at the end, the copy was restored and checked for nothing. Touches nothing: a folder that does
 * not exist yet is judged by the nearest one above it, where writeReport would create it.
 */
export async function assertReportFolder(dir: string, setting = 'report.dir'): Promise<void> {
  const refuse = (why: string, cause?: unknown) => new ConfigError(`${setting} ${dir} cannot hold reports (${why}): give a folder this user can write, in the config or with --report-dir; nothing was started`, { cause });
  let folder = dir;
  for (;;) {
    const info = await stat(folder).catch((error: NodeJS.ErrnoException) => error);
    if (!(info instanceof Error)) {
      if (!info.isDirectory()) throw refuse(folder === dir ? 'not a folder' : `${folder} is not a folder`);
      break;
    }
    if (info.code === 'ENOTDIR') throw refuse('ENOTDIR', info);
    if (info.code !== 'ENOENT') throw refuse(info.code ?? info.message, info);
    const parent = dirname(folder);
    if (parent === folder) break;
    folder = parent;
  }
  await access(folder, constants.W_OK | constants.X_OK).catch((error: NodeJS.ErrnoException) => {
    throw refuse(folder === dir ? (error.code ?? error.message) : `${error.code ?? error.message} on ${folder}`, error);
  });
}

async function readStored(file: string): Promise<Partial<DrillReport> | undefined> {
  return readFile(file, 'utf8').then(
    (text) => JSON.parse(text) as Partial<DrillReport>,
    () => undefined,
  );
}

/**
 * The newest earlier report of a database in the folder, matched on its `database` field; with
 * `targetAtMost`, only a drill whose target was no later (a random or older target must not be
 * compared with a later state of the data).
 */
export async function readPreviousReport(dir: string, database: string, targetAtMost?: Date): Promise<DrillReport | undefined> {
  let newest: DrillReport | undefined;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.json')) continue;
    const report = await readFile(join(dir, name), 'utf8')
      .then((text) => JSON.parse(text) as DrillReport)
      .catch(() => undefined);
    if (report?.database === database && typeof report.startedAt === 'string' && targetNoLaterThan(report, targetAtMost) && (!newest || report.startedAt > newest.startedAt)) {
      newest = report;
    }
  }
  return newest;
}

/** Whether the report's drill restored to this time or earlier (always, when no time is given). */
export function targetNoLaterThan(report: DrillReport, time: Date | undefined): boolean {
  if (!time) return true;
  const target = report.target?.time;
  return typeof target === 'string' && Date.parse(target) <= time.getTime();
}
