import { readdir, rm } from 'node:fs/promises';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { fetchArchive, walCacheDir } from '../../lib/providers/local/wal/fetch.ts';
import { testSource } from '../support/source.ts';

let source: SourceCluster;

beforeAll(async () => {
  source = await testSource();
  await source.query('create table events (id int primary key)');
  await source.takeBaseBackup('base-1');
  for (let i = 0; i < 3; i++) {
    await source.query(`insert into events select generate_series(${i * 1000 + 1}, ${(i + 1) * 1000})`);
    await source.switchWal();
  }
});

afterAll(async () => {
  await source?.remove();
});

test('runs sharing a restoreCommand fetch into one cache side by side, each getting the whole archive (issue 14 item 13)', async () => {
  // A fetch that takes a moment after writing %p, as a download does while it finishes.
  const command = `cp '${source.archiveDir}/%f' '%p' && sleep 0.05 # ${Math.random()}`;
  try {
    const archived = (await readdir(source.archiveDir)).filter((name) => /^[0-9A-F]{24}$/.test(name)).sort();

    const results = await Promise.allSettled([1, 2, 3].map(() => fetchArchive(source.backupsDir, command)));

    expect(results.map((result) => (result.status === 'rejected' ? String(result.reason) : 'ok'))).toEqual(['ok', 'ok', 'ok']);
    const cached = (await readdir(walCacheDir(command))).filter((name) => /^[0-9A-F]{24}$/.test(name)).sort();
    expect(cached).toEqual(archived.filter((name) => name >= cached[0]!));
    expect(cached.length).toBeGreaterThanOrEqual(3);
    expect((await readdir(walCacheDir(command))).filter((name) => name.includes('partial'))).toEqual([]);
  } finally {
    await rm(walCacheDir(command), { recursive: true, force: true });
  }
});

test('a restoreCommand is expanded as Postgres expands one: %% is a %, and %f inside it is no segment name', async () => {
  const command = `test '%%' = '%' && test '%%f' = '%%''f' || exit 1; cp '${source.archiveDir}/%f' '%p' # ${Math.random()}`;
  try {
    await expect(fetchArchive(source.backupsDir, command)).resolves.toBe(walCacheDir(command));
  } finally {
    await rm(walCacheDir(command), { recursive: true, force: true });
  }
});
