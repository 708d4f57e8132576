import { createHash } from 'node:crypto';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { execFile, type ExecResult } from '../../util/exec.ts';
import { CRC32C_INIT, crc32cFinish, crc32cUpdate } from './wal/crc32c.ts';

/**
 * A base backup's files against its backup_manifest (PostgreSQL 13+, pg_basebackup's default): every
 * file there, of its size and checksum. pg_verifybackup does it where the binaries have it; this
 * module's own reader of the manifest format (docs: "Backup Manifest Format") does it where they do
 * not (the embedded binaries ship no pg_verifybackup).
 */
export interface FilesVerification {
  /** How the files were checked, or why they were not. */
  method: 'pg_verifybackup' | 'manifest reader' | 'no manifest';
  ok: boolean;
  /** Files the manifest lists (0 without one). */
  files: number;
  /** What is wrong, one line per file, in the checker's words; empty when ok. */
  problems: string[];
  /** One line for reports: "14 files verified by pg_verifybackup", "files not verified: no manifest". */
  summary: string;
}

interface ManifestFile {
  Path?: string;
  'Encoded-Path'?: string;
  Size: number;
  'Checksum-Algorithm'?: string;
  Checksum?: string;
}

interface Manifest {
  'PostgreSQL-Backup-Manifest-Version': number;
  Files: ManifestFile[];
  'Manifest-Checksum'?: string;
}

const MANIFEST = 'backup_manifest';
// What pg_verifybackup leaves out of its look for files the manifest does not list (they are written
// after the backup, or are the manifest itself); pg_wal is the WAL's to check, not the manifest's.
const NOT_IN_MANIFEST = new Set([MANIFEST, 'pg_wal', 'postgresql.auto.conf', 'recovery.signal', 'standby.signal']);

export interface VerifyOptions {
  pgVerifybackup?: string | undefined;
  /**
   * The backup_manifest when it is not inside `backupPath`: a tar-format backup keeps it beside its
   * tars, and is verified once unpacked (pg_verifybackup reads tar format only from PostgreSQL 18 on).
   */
  manifestPath?: string | undefined;
  /** Runs pg_verifybackup (the engine's, which stops it when the copy is removed). @default execFile */
  run?: ((file: string, args: readonly string[]) => Promise<ExecResult>) | undefined;
}

/** Verifies the backup's files with pg_verifybackup when `pgVerifybackup` is given, else with our own reader. */
export async function verifyBackupFiles(backupPath: string, options: VerifyOptions = {}): Promise<FilesVerification> {
  const text = await readFile(options.manifestPath ?? join(backupPath, MANIFEST), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (text === undefined) {
    const why = options.manifestPath ? 'pg_basebackup --no-manifest' : 'a low-level API backup';
    return { method: 'no manifest', ok: true, files: 0, problems: [], summary: `files not verified: no manifest (${why})` };
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text) as Manifest;
  } catch (error) {
    return failed('manifest reader', 0, [`${MANIFEST} is not valid JSON: ${(error as Error).message}`]);
  }
  const files = Array.isArray(manifest.Files) ? manifest.Files.length : 0;
  if (options.pgVerifybackup) return viaPgVerifybackup(options.pgVerifybackup, backupPath, files, options.manifestPath, options.run ?? execFile);
  return viaReader(backupPath, text, manifest);
}

function failed(method: FilesVerification['method'], files: number, problems: string[]): FilesVerification {
  const shown = problems.slice(0, 5).join('; ');
  const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
  return { method, ok: false, files, problems, summary: `files do not match the backup_manifest (${method}): ${shown}${more}` };
}

function passed(method: FilesVerification['method'], files: number): FilesVerification {
  return { method, ok: true, files, problems: [], summary: `${files} files verified against the backup_manifest by ${method} (size and checksum)` };
}

async function viaPgVerifybackup(tool: string, backupPath: string, files: number, manifestPath: string | undefined, run: NonNullable<VerifyOptions['run']>): Promise<FilesVerification> {
  // -n: the WAL is the engine's to read (the archive, not the backup's pg_wal). Without -e it reports every bad file, not only the first.
  const result = await run(tool, ['-n', ...(manifestPath ? ['-m', manifestPath] : []), backupPath]);
  if (result.code === 0) return passed('pg_verifybackup', files);
  const problems = result.stderr
    .split('\n')
    .map((line) => line.replace(/^pg_verifybackup: (error: )?/, '').trim())
    .filter((line) => line && !/^(hint|detail): /i.test(line) && !/^Try "pg_verifybackup --help"/.test(line));
  return failed('pg_verifybackup', files, problems.length ? problems : [`exited with ${result.code}`]);
}

async function viaReader(backupPath: string, text: string, manifest: Manifest): Promise<FilesVerification> {
  const problems: string[] = [];
  if (manifest['PostgreSQL-Backup-Manifest-Version'] !== 1 && manifest['PostgreSQL-Backup-Manifest-Version'] !== 2) {
    problems.push(`unknown manifest version ${JSON.stringify(manifest['PostgreSQL-Backup-Manifest-Version'])}`);
  }
  // The last line holds a SHA-256 of every byte before it: a manifest edited or cut short fails here.
  const at = text.lastIndexOf('"Manifest-Checksum"');
  const expected = manifest['Manifest-Checksum'];
  if (at === -1 || !expected) problems.push('the manifest has no Manifest-Checksum: it was cut short');
  else if (createHash('sha256').update(text.slice(0, at)).digest('hex') !== expected.toLowerCase()) problems.push('the manifest\'s own checksum does not match its content');
  const listed = new Set<string>();
  for (const file of manifest.Files ?? []) {
    const path = file.Path ?? Buffer.from(file['Encoded-Path'] ?? '', 'hex').toString('utf8');
    listed.add(path);
    const full = join(backupPath, path);
    const info = await stat(full).catch(() => undefined);
    if (!info?.isFile()) {
      problems.push(`"${path}" is present in the manifest but not on disk`);
      continue;
    }
    if (info.size !== file.Size) {
      problems.push(`"${path}" has size ${info.size} on disk but size ${file.Size} in the manifest`);
      continue;
    }
    const algorithm = file['Checksum-Algorithm'];
    if (!algorithm || algorithm === 'NONE' || !file.Checksum) continue;
    const actual = await checksumOf(full, algorithm);
    if (actual === undefined) problems.push(`"${path}": unknown checksum algorithm ${algorithm}`);
    else if (actual !== file.Checksum.toLowerCase()) problems.push(`checksum mismatch for file "${path}"`);
  }
  for (const path of await filesUnder(backupPath)) {
    if (!listed.has(path)) problems.push(`"${path}" is present on disk but not in the manifest`);
  }
  const files = manifest.Files?.length ?? 0;
  return problems.length ? failed('manifest reader', files, problems) : passed('manifest reader', files);
}

/** The checksum as the manifest writes it: CRC-32C as its four bytes in memory order (little-endian), SHA as usual. */
async function checksumOf(path: string, algorithm: string): Promise<string | undefined> {
  const sha = /^SHA(224|256|384|512)$/.exec(algorithm);
  if (algorithm !== 'CRC32C' && !sha) return undefined;
  const hash = sha ? createHash(`sha${sha[1]}`) : undefined;
  let crc = CRC32C_INIT;
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      if (hash) hash.update(buffer.subarray(0, bytesRead));
      else crc = crc32cUpdate(crc, buffer, 0, bytesRead);
    }
  } finally {
    await handle.close();
  }
  if (hash) return hash.digest('hex');
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(crc32cFinish(crc));
  return bytes.toString('hex');
}

async function filesUnder(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      const path = relative(root, full);
      if (NOT_IN_MANIFEST.has(path)) continue;
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) found.push(path);
    }
  };
  await walk(root);
  return found;
}
