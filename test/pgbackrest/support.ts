import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { withClient } from '../../lib/util/pgClient.ts';
import { connectionOf, type LocalCopyHandle } from '../../lib/providers/local/engine.ts';
import type { PgbackrestProviderConfig } from '../../lib/config/schema.ts';
import type { RestoreProvider } from '../../lib/providers/types.ts';
import { pgbackrestProvider } from '../../lib/providers/pgbackrest/index.ts';
import type { CopyTarget } from '../../lib/providers/types.ts';
import { copyName } from '../../lib/providers/copyName.ts';

/** Every file below a folder with its sha256: the same map before and after means nothing was written. */
export async function checksums(root: string): Promise<Record<string, string>> {
  const sums: Record<string, string> = {};
  const walk = async (dir: string, relative: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(join(dir, entry.name), path);
      else if (entry.isFile()) sums[path] = createHash('sha256').update(await readFile(join(dir, entry.name))).digest('hex');
      else sums[path] = entry.isSymbolicLink() ? 'link' : 'other';
    }
  };
  await walk(root, '');
  return sums;
}

/** Resolves once the clock has passed a backup's stop second and the one after it (pgBackRest stop times are whole seconds). */
export async function pastBackupStop(): Promise<void> {
  const until = Math.ceil(Date.now() / 1000) * 1000 + 1000;
  while (Date.now() <= until) await delay(Math.min(50, until - Date.now() + 1));
}

export function repoProvider(config: Partial<PgbackrestProviderConfig> & { config: string }, database: string): RestoreProvider<LocalCopyHandle> {
  return pgbackrestProvider({ kind: 'pgbackrest', stanza: 'main', repo: 1, ...config }, { connection: { database: 'postgres', user: 'postgres' }, database, durable: false });
}

/** Restores a copy, waits for promotion, reads the ids of a table, and removes the copy. */
export async function restoreAndRead(provider: RestoreProvider<LocalCopyHandle>, database: string, target: CopyTarget, table = 'events') {
  const handle = await provider.start({ target, copyName: copyName(database, new Date()), expiresAt: new Date(Date.now() + 3_600_000) });
  try {
    for (;;) {
      const poll = await provider.poll(handle);
      if (poll.state === 'failed') throw new Error(poll.reason);
      if (poll.state === 'ready') break;
      await delay(25);
    }
    const connection = connectionOf(handle);
    const ids = await withClient({ host: connection.host, port: connection.port, user: 'postgres', database: 'postgres' }, async (client) =>
      (await client.query<{ id: number }>(`select id from ${table} order by id`)).rows.map((row) => row.id),
    );
    const settings = await readFile(join(handle.dataDir, 'postgresql.conf'), 'utf8');
    // What pgbackrest restore wrote (its restore_command repeats the options it was given on its command line).
    const writtenByPgbackrest = await readFile(join(handle.dataDir, 'postgresql.auto.conf.from-source'), 'utf8');
    const marker = await readFile(join(handle.dir, 'restore-drill.json'), 'utf8');
    return { ids, backup: handle.baseBackup, settings, writtenByPgbackrest, marker, handle };
  } finally {
    await provider.destroy(handle);
  }
}
