import { cp, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { newClient } from '../../lib/util/pgClient.ts';
import { scratchFolders } from '../../lib/providers/local/scratch.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { repoRoot } from './cli.ts';
import { testSource } from './source.ts';

/**
 * A new user's project as the CLI tests need it: a source with archiving and the demo's Drizzle
 * migrations applied by drizzle-orm's migrator, two users, a base backup, a third user after it, the
 * WAL archived; and a project folder holding a copy of the migrations (`<project>/drizzle`).
 */
export async function drizzleProject(folderPrefix: string): Promise<{ source: SourceCluster; project: string }> {
  const source = await testSource();
  const project = await mkdtemp(join(scratchFolders.sources(), `${folderPrefix}-`));
  await cp(join(repoRoot, 'demo', 'drizzle'), join(project, 'drizzle'), { recursive: true });
  const client = newClient(source.clientConfig());
  await client.connect();
  try {
    await migrate(drizzle(client), { migrationsFolder: join(project, 'drizzle') });
    await client.query(`insert into users (email) values ('a@example.com'), ('b@example.com')`);
    await source.takeBaseBackup('base-1');
    await client.query(`insert into users (email) values ('c@example.com')`);
  } finally {
    await client.end();
  }
  await source.switchWal();
  return { source, project };
}
