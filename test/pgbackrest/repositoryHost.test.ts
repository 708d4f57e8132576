import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { stanzaWorkDir } from '../../lib/providers/pgbackrest/command.ts';
import { copyFolders, copyServers } from '../support/leftovers.ts';
import { insertRow } from '../support/source.ts';
import { repoSource, type RepoSource } from './repoSource.ts';
import { pastBackupStop, repoProvider, restoreAndRead } from './support.ts';

// A dedicated repository host's pgbackrest.conf: the stanza names the database host (pg1-host) and
// its data folder there. The host need not exist: info, archive-get and restore read the repository.
const DATABASE = 'repohost-pgbr';
let repo: RepoSource;
let hostConfig: string;
let lastCommit: bigint;

beforeAll(async () => {
  repo = await repoSource();
  await repo.source.query('create table events (id int primary key)');
  await insertRow(repo.source, 'events', 1);
  await repo.backup('full');
  await pastBackupStop();
  lastCommit = await insertRow(repo.source, 'events', 2);
  await repo.source.switchWal();
  hostConfig = join(repo.dir, 'repository-host.conf');
  const drill = await readFile(repo.drillConfig, 'utf8');
  await writeFile(
    hostConfig,
    drill.replace(/^pg1-path=.*$/m, 'pg1-path=/var/lib/postgresql/15/main\npg1-host=db.invalid\npg1-host-user=postgres\npg1-host-config=/etc/pgbackrest/pgbackrest.conf'),
    { mode: 0o644 },
  );
});

afterAll(async () => {
  if (hostConfig) await rm(await stanzaWorkDir({ stanza: 'main', config: hostConfig, repo: 1 }), { recursive: true, force: true });
  await repo?.remove();
});

afterEach(async () => {
  expect(await copyFolders(DATABASE)).toEqual([]);
  expect(await copyServers(DATABASE)).toEqual([]);
});

test('a repository host\'s config (pg1-host set) restores locally into our copy folder: archive-get and restore act here, never on the database host', async () => {
  const provider = repoProvider({ config: hostConfig }, DATABASE);
  const window = await provider.window();
  expect(window.latest.getTime()).toBe(Number(lastCommit / 1000n));

  const restored = await restoreAndRead(provider, DATABASE, { kind: 'latest' });

  expect(restored.ids).toEqual([1, 2]);
  expect(restored.backup.used).toMatch(/F \(full, stopped .*, repo1\)$/);
});
