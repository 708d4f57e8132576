import { readdir, readFile } from 'node:fs/promises';
import { scratchFolders } from '../../lib/providers/local/scratch.ts';

/** Copy folders left in the scratch root. */
export async function copyFolders(): Promise<string[]> {
  return readdir(scratchFolders.copies()).catch(() => []);
}

/** Postgres servers whose data folder is a copy of ours (by their command line). */
export async function copyServers(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(`${scratchFolders.copies()}/`) && cmdline.includes('-D')) pids.push(Number(entry));
  }
  return pids;
}
