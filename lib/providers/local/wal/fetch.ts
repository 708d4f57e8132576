import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { NoBaseBackupError, RestoreDrillError } from '../../../errors.ts';
import { execFile } from '../../../util/exec.ts';
import { restoreCommandEnv } from '../childEnv.ts';
import { OUT_OF_SPACE } from '../copyConfig.ts';
import { scratchFolders } from '../scratch.ts';
import { backupLabelOf } from '../tarBackup.ts';
import { parseLabelFile, readSegmentSize } from './archive.ts';
import { parseLsn, parseSegmentName, segmentName } from './lsn.ts';

/**
 * WAL kept where only a command can fetch it (`aws s3 cp s3://bucket/wal/%f %p`, `wal-g wal-fetch %f %p`):
 * restore-drill runs the user's restore command itself, as the user running restore-drill (who holds
 * the credentials), into a cache under the scratch root, and then reads that cache like an archive
 * folder. It fetches the oldest backup's start segment and every segment after it until the command
 * fails: that is where the archive ends (a hole looks the same as the end here). Fetched files never
 * change, so the cache is reused by later runs with the same command.
 */
export async function fetchArchive(baseBackups: string, restoreCommand: string): Promise<string> {
  const dir = walCacheDir(restoreCommand);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const have = new Set(await readdir(dir));
  const fetch = async (name: string): Promise<boolean> => {
    if (have.has(name)) return true;
    // Per fetch: runs sharing this cache never write, rename or remove each other's partial files.
    const temporary = join(dir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.partial`);
    // As Postgres expands restore_command: one pass, so that %% is a % and the %f after it stays text.
    const values: Record<string, string> = { f: name, p: temporary, r: '000000010000000000000001', '%': '%' };
    const command = restoreCommand.replace(/%([fpr%])/g, (_match, key: string) => values[key]!);
    const result = await execFile('/bin/sh', ['-c', command], { env: restoreCommandEnv() });
    const fetched = result.code === 0 && (await stat(temporary).then((info) => info.size > 0, () => false));
    if (!fetched) {
      await rm(temporary, { force: true });
      // A full disk is not the end of the archive: said as such, or the window would silently end here.
      if (OUT_OF_SPACE.test(result.stderr)) {
        throw new RestoreDrillError(
          'tool',
          `not enough free space for the WAL cache in ${dir}: the restore command could not write ${name} (No space left on device); ` +
            'free space there, or set RESTORE_DRILL_SCRATCH to a bigger disk',
        );
      }
      // Another run may have fetched it meanwhile: cached files are whole (renamed into place) and never change.
      if (await stat(join(dir, name)).then((info) => info.isFile() && info.size > 0, () => false)) {
        have.add(name);
        return true;
      }
      return false;
    }
    await rename(temporary, join(dir, name));
    have.add(name);
    return true;
  };

  const labels = await backupLabels(baseBackups);
  const oldest = labels[0];
  if (!oldest) throw new NoBaseBackupError(`no base backup in ${baseBackups}: expected folders holding a backup_label`);
  if (!(await fetch(oldest.segment))) {
    throw new NoBaseBackupError(`the restore command could not fetch WAL segment ${oldest.segment} (the oldest base backup's start): ${restoreCommand}`);
  }
  const segmentSize = await readSegmentSize({ name: oldest.segment, path: join(dir, oldest.segment), gzip: false });
  for (const label of labels) {
    await fetch(`${label.segment}.${(label.startLsn % segmentSize).toString(16).toUpperCase().padStart(8, '0')}.backup`);
  }
  const timelines = [Math.max(...labels.map((label) => label.timeline))];
  while (await fetch(`${(timelines.at(-1)! + 1).toString(16).toUpperCase().padStart(8, '0')}.history`)) timelines.push(timelines.at(-1)! + 1);

  let { segno } = parseSegmentName(oldest.segment, segmentSize);
  for (;; segno++) {
    let found = false;
    for (const timeline of [...timelines].reverse()) {
      if (await fetch(segmentName({ timeline, segno }, segmentSize))) {
        found = true;
        break;
      }
    }
    if (!found) break;
  }
  return dir;
}

/** The cache folder of one restore command. */
export function walCacheDir(restoreCommand: string): string {
  return join(scratchFolders.walCache(), createHash('sha256').update(restoreCommand).digest('hex').slice(0, 16));
}

async function backupLabels(baseBackups: string): Promise<{ segment: string; startLsn: number; timeline: number }[]> {
  const folders = [baseBackups, ...(await readdir(baseBackups).catch(() => [] as string[])).map((name) => join(baseBackups, name))];
  const labels = [];
  for (const folder of folders) {
    const text = await backupLabelOf(folder);
    if (!text) continue;
    const start = parseLabelFile(text).get('START WAL LOCATION') ?? '';
    const match = /^(\S+) \(file ([0-9A-F]{24})\)/.exec(start);
    if (match) labels.push({ segment: match[2]!, startLsn: parseLsn(match[1]!), timeline: Number(parseLabelFile(text).get('START TIMELINE') ?? 1) });
  }
  return labels.sort((a, b) => a.startLsn - b.startLsn);
}
