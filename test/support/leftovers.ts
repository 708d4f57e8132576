import { readdir, readFile } from 'node:fs/promises';
import { scratchFolders } from '../../lib/providers/local/scratch.ts';

// Test files run side by side and share the scratch root: each looks only at copies of its own
// database name (rd-<database>-...), so one file's copies never fail another's checks.

/** Copy folders of `database` left in the scratch root. */
export async function copyFolders(database: string): Promise<string[]> {
  return (await readdir(scratchFolders.copies()).catch(() => [])).filter((name) => name.startsWith(`rd-${database}-`));
}

/** Postgres servers whose data folder is a copy of `database` (by their command line). */
export async function copyServers(database: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(`${scratchFolders.copies()}/rd-${database}-`) && cmdline.includes('-D')) pids.push(Number(entry));
  }
  return pids;
}
