import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { RestoreDrillError } from '../../errors.ts';
import { WalCorruptError } from '../local/errors.ts';
import { isSegmentName } from '../local/wal/lsn.ts';
import { runPgbackrest, saidBy, type PgbackrestSource } from './command.ts';
import { stagePgControl } from './pgControl.ts';

/** What the repository's archive holds for one archive id: segment names and timeline histories, from `repo-ls`. */
export interface RepoArchiveListing {
  segments: Set<string>;
  histories: Set<number>;
}

/**
 * Lists the archive as it is in the repository (one `pgbackrest repo-ls`), so that a segment missing
 * there is named even when an earlier run cached it. File names are `<segment>-<sha1>[.gz|.lz4|.zst|...]`;
 * names are never encrypted, contents may be.
 */
export async function listRepoArchive(source: PgbackrestSource, workDir: string, archiveId: string): Promise<RepoArchiveListing> {
  const path = `archive/${source.stanza}/${archiveId}`;
  const result = await runPgbackrest(source, 'repo-ls', { workDir, options: ['--output=json', '--recurse'] }, [path]);
  if (result.code !== 0) throw new RestoreDrillError('backup', `pgbackrest repo-ls ${path} (repo${source.repo}) failed: ${saidBy(result)}`);
  const listing: RepoArchiveListing = { segments: new Set(), histories: new Set() };
  for (const [name, entry] of Object.entries(JSON.parse(result.stdout) as Record<string, { type: string }>)) {
    if (entry.type !== 'file') continue;
    const file = name.slice(name.lastIndexOf('/') + 1);
    const segment = file.slice(0, 24);
    if (isSegmentName(segment) && file[24] === '-') listing.segments.add(segment);
    else if (/^[0-9A-F]{8}\.history$/.test(file)) listing.histories.add(parseInt(file.slice(0, 8), 16));
  }
  return listing;
}

/**
 * Fetches WAL files from the repository into our cache with `pgbackrest archive-get` (which
 * decompresses, decrypts and checks them), each through a partial file renamed into place, so that
 * runs sharing the cache never see half a file. Files already cached are not fetched again: archived
 * WAL never changes (archive-push refuses a different file under a name it holds).
 */
export class WalCache {
  readonly dir: string;
  private readonly source: PgbackrestSource;
  private readonly workDir: string;
  private readonly backup: { label: string; archiveId: string };
  private have: Set<string> | undefined;
  private pgPath: Promise<string | undefined> | undefined;

  /** The cache of the archive `backup` reads (its archive id). */
  constructor(source: PgbackrestSource, workDir: string, backup: { label: string; archiveId: string }) {
    this.source = source;
    this.workDir = workDir;
    this.backup = backup;
    this.dir = join(workDir, 'wal', backup.archiveId);
  }

  async has(name: string): Promise<boolean> {
    if (!this.have) {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      this.have = new Set((await readdir(this.dir)).filter((file) => !file.startsWith('.')));
    }
    return this.have.has(name);
  }

  /** Fetches one file; false when the repository does not hold it, an error (naming the file) when it holds a damaged one. */
  async fetch(name: string): Promise<boolean> {
    if (await this.has(name)) return true;
    const partial = join(this.dir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.partial`);
    this.pgPath ??= stagePgControl(this.source, this.workDir, this.backup);
    const pgPath = await this.pgPath;
    const options = pgPath ? [`--pg1-path=${pgPath}`] : [];
    const result = await runPgbackrest(this.source, 'archive-get', { workDir: this.workDir, options }, [name, partial]);
    if (result.code === 0 && (await stat(partial).then((info) => info.size > 0, () => false))) {
      await rename(partial, join(this.dir, name));
      this.have!.add(name);
      return true;
    }
    await rm(partial, { force: true });
    // 1: not in the archive. Anything else: it is there and could not be read (damaged, wrong passphrase).
    if (result.code === 1) return false;
    const said = saidBy(result);
    if (/FormatError|checksum|crypto|cipher|decrypt|eof/i.test(said)) {
      throw new WalCorruptError(`WAL file ${name} in the repository (stanza ${this.source.stanza}, repo${this.source.repo}) cannot be read back: ${said}`, name, 0);
    }
    throw new RestoreDrillError('backup', `pgbackrest archive-get ${name} (stanza ${this.source.stanza}, repo${this.source.repo}) failed: ${said}`);
  }
}
