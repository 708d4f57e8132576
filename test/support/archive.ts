import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Every file of a folder with its size, mtime and content hash: to prove nobody wrote there. */
export async function folderFingerprint(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    const path = join(dir, name);
    const info = await stat(path);
    const hash = createHash('sha256').update(await readFile(path)).digest('hex');
    result[name] = `${info.size}:${info.mtimeMs}:${hash}`;
  }
  return result;
}
