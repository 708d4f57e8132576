import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { signWithConfiguredKey } from '../evidence/signing.ts';
import { redactDeep } from '../util/redact.ts';
import type { DrillReport } from './types.ts';

/**
 * Writes `<database>-<startedAt>.json` into the report folder; returns its path. Signed (Ed25519) when
 * RESTORE_DRILL_SIGNING_KEY or RESTORE_DRILL_SIGNING_KEY_FILE is set. Redacted before it is signed: the
 * file is what auditors, the evidence page and the next drill read.
 */
export async function writeReport(dir: string, unsigned: DrillReport): Promise<string> {
  const report = await signWithConfiguredKey(redactDeep(unsigned));
  await mkdir(dir, { recursive: true });
  const stamp = report.startedAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const file = join(dir, `${report.database}-${stamp}.json`);
  await writeFile(`${file}.tmp`, `${JSON.stringify(report, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
  return file;
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
