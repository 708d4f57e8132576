import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { copyFolders, copyServers } from '../support/leftovers.ts';
import { insertRow } from '../support/source.ts';
import { repoSource, type RepoSource } from './repoSource.ts';
import { pastBackupStop, repoProvider, restoreAndRead } from './support.ts';

// One source archiving into two repositories at once: repo1 plain, repo2 encrypted (aes-256-cbc).
const PASSPHRASE = 'Passphrase-For-Repo2-8d1f0c';
const PASS_ENV = 'RD_TEST_PGBR_REPO2_PASS';
let repo: RepoSource;
let lastCommit: bigint;

beforeAll(async () => {
  repo = await repoSource({ repos: [{}, { cipherPass: PASSPHRASE }] });
  await repo.source.query('create table events (id int primary key)');
  await insertRow(repo.source, 'events', 1);
  await repo.backup('full', 1);
  await repo.backup('full', 2);
  await pastBackupStop();
  await insertRow(repo.source, 'events', 2);
  lastCommit = await insertRow(repo.source, 'events', 3);
  await repo.source.switchWal();
});

afterAll(async () => {
  await repo?.remove();
});

afterEach(async () => {
  expect(await copyFolders('pgbr-repos')).toEqual([]);
  expect(await copyServers('pgbr-repos')).toEqual([]);
});

test('restores from the encrypted repository with the passphrase from an environment variable, which never reaches pgbackrest\'s command line, the marker or the handle', async () => {
  process.env[PASS_ENV] = PASSPHRASE;
  try {
    const provider = repoProvider({ config: repo.drillConfig, repo: 2, repoCipherPass: { env: PASS_ENV } }, 'pgbr-repos');
    const window = await provider.window();
    expect(window.latest.getTime()).toBe(Number(lastCommit / 1000n));

    const restored = await restoreAndRead(provider, 'pgbr-repos', { kind: 'latest' });

    expect(restored.ids).toEqual([1, 2, 3]);
    expect(restored.backup.used).toMatch(/F \(full, stopped .*, repo2\)$/);
    expect(restored.writtenByPgbackrest).toMatch(/restore_command = 'pgbackrest .*--repo=2/);
    expect(JSON.stringify(restored)).not.toContain(PASSPHRASE);
    expect(restored.marker).toContain(restored.handle.name);
    expect(restored.marker).not.toContain(PASSPHRASE);
  } finally {
    delete process.env[PASS_ENV];
  }
});

test('without the passphrase the encrypted repository is refused with what to set, naming the variable and not a value', async () => {
  const provider = repoProvider({ config: repo.drillConfig, repo: 2, repoCipherPass: { env: PASS_ENV } }, 'pgbr-repos');
  await expect(provider.window()).rejects.toMatchObject({ kind: 'input', message: expect.stringContaining(`environment variable ${PASS_ENV}, which is not set`) });
  process.env[PASS_ENV] = 'not-the-passphrase';
  try {
    const error = await provider.window().then(() => undefined, (caught: Error) => caught);
    expect(error?.message).toMatch(/repo2.*the cipher passphrase is most likely wrong/);
    expect(error?.message).not.toContain('not-the-passphrase');
  } finally {
    delete process.env[PASS_ENV];
  }
});

test('restores from repo1 of the same stanza, and says so in the report; pgBackRest wanting repo2\'s passphrase even then is said as such', async () => {
  const provider = repoProvider({ config: repo.drillConfig, repo: 1 }, 'pgbr-repos');
  await expect(provider.window()).rejects.toThrow(/declares repo2 encrypted.*set PGBACKREST_REPO2_CIPHER_PASS/);
  process.env.PGBACKREST_REPO2_CIPHER_PASS = PASSPHRASE;
  try {
    const restored = await restoreAndRead(provider, 'pgbr-repos', { kind: 'latest' });
    expect(restored.ids).toEqual([1, 2, 3]);
    expect(restored.backup.used).toMatch(/, repo1\)$/);
  } finally {
    delete process.env.PGBACKREST_REPO2_CIPHER_PASS;
  }
});
