import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checksConfigSchema } from '../../lib/checks/config.ts';
import type { IntegrityDetails } from '../../lib/checks/integrity.ts';
import { runChecks } from '../../lib/checks/runChecks.ts';
import { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { machineBinaries } from '../support/source.ts';
import { createDatabase, withClient } from './helpers.ts';

const PAGE = 8192;

/** Writes `bytes` into page `block` of a relation's file at `offset`, on a stopped server's files. */
async function patchPage(file: string, block: number, patch: (page: Buffer) => void): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    const page = Buffer.alloc(PAGE);
    await handle.read(page, 0, PAGE, block * PAGE);
    patch(page);
    await handle.write(page, 0, PAGE, block * PAGE);
  } finally {
    await handle.close();
  }
}

describe.each([
  ['off', false],
  ['on', true],
])('integrity (amcheck), data checksums %s', (_, dataChecksums) => {
  let cluster: SourceCluster;
  let db: pg.ClientConfig;
  let files: { events: string; cleanIndex: string };

  const integrity = async (config: Record<string, unknown> = {}) => {
    const results = await runChecks({ copy: db, target: new Date(), rpoTargetSeconds: 60 }, checksConfigSchema.parse({ concurrency: 2, integrity: config }));
    expect(results.map((r) => r.check)).toEqual(['connection', 'integrity']);
    return { result: results[1]!, details: results[1]!.details as IntegrityDetails };
  };

  beforeAll(async () => {
    cluster = await SourceCluster.create({ binaries: await machineBinaries(), walSegmentSizeMb: 1, dataChecksums });
    db = await createDatabase(cluster, 'integrity');
    await withClient(db, (c) =>
      c.query(`
        create table events (id int, note text);
        insert into events select g, 'secret-note-' || g from generate_series(1, 2000) g;
        create table clean (id int primary key);
        insert into clean select generate_series(1, 2000);
      `),
    );
    const [paths] = await withClient(db, async (c) => (await c.query<{ events: string; index: string; checksums: string }>(`select pg_relation_filepath('events') as events, pg_relation_filepath('clean_pkey') as index, current_setting('data_checksums') as checksums`)).rows);
    expect(paths!.checksums).toBe(dataChecksums ? 'on' : 'off');
    files = { events: join(cluster.dataDir, paths!.events), cleanIndex: join(cluster.dataDir, paths!.index) };
  });

  afterAll(async () => {
    await cluster?.remove();
  });

  it('an intact copy passes: every table and B-tree index read, amcheck created where it was missing', async () => {
    const [before] = await withClient(db, async (c) => (await c.query<{ n: number }>(`select count(*)::int as n from pg_extension where extname = 'amcheck'`)).rows);
    expect(before!.n).toBe(0);

    const { result, details } = await integrity();

    expect(result.status).toBe('pass');
    expect(details.corrupt).toEqual([]);
    expect(details.heapChecked).toBe(true);
    // The catalogs too: pg_class and its indexes are relations like any.
    expect(details.checked.tables).toBeGreaterThan(50);
    expect(details.checked.indexes).toBeGreaterThan(100);
    expect(result.summary).toMatch(/^no corruption in \d+ tables and \d+ B-tree indexes \(\d+ pages\), read in /);
  });

  it('relations not reached within budgetSeconds make the check an error, never a pass: the copy is not proven intact', async () => {
    const { result, details } = await integrity({ budgetSeconds: 0.001 });

    expect(result.status).toBe('error');
    expect(details.unchecked.length).toBeGreaterThan(100);
    expect(details.checked.tables + details.checked.indexes).toBe(0);
    expect(result.summary).toMatch(/not started within budgetSeconds \(0\.001 s\): raise it/);
  });

  it('a damaged heap page and a damaged index page: both relations named with their block, never a row value', async () => {
    await cluster.stop();
    // Heap: the first four line pointers of block 2 point past the end of the page (normal items, 100 bytes at offset 8200).
    await patchPage(files.events, 2, (page) => {
      for (let item = 0; item < 4; item++) page.writeUInt32LE(((100 << 17) | (1 << 15) | 8200) >>> 0, 24 + item * 4);
    });
    // Index: the key of the third item of the first leaf (block 1) made larger than the ones after it.
    await patchPage(files.cleanIndex, 1, (page) => {
      const itemId = page.readUInt32LE(24 + 2 * 4);
      const lpOff = itemId & 0x7fff;
      page.writeInt32LE(0x7fffffff, lpOff + 8);
    });
    await cluster.restart();
    db = { ...db, host: cluster.server.socketDir, port: cluster.server.port };

    const { result, details } = await integrity();

    expect(result.status).toBe('fail');
    const corrupt = Object.fromEntries(details.corrupt.map((relation) => [relation.relation, relation]));
    expect(Object.keys(corrupt).sort()).toEqual(['public.clean_pkey', 'public.events']);
    expect(corrupt['public.events']!.problems.map((p) => p.block)).toContain(2);
    expect(corrupt['public.clean_pkey']!.problems.map((p) => p.block)).toContain(1);
    if (dataChecksums) {
      // With checksums on, reading the page fails before amcheck looks at its content.
      expect(corrupt['public.events']!.problems[0]!.message).toMatch(/^XX001: invalid page in block 2 of relation base\/\d+\/\d+/);
      expect(corrupt['public.clean_pkey']!.problems[0]!.message).toMatch(/^XX001: invalid page in block 1 of relation base\/\d+\/\d+/);
    } else {
      expect(corrupt['public.events']!.problems[0]).toMatchObject({ block: 2, offset: 1, message: expect.stringMatching(/line pointer .*8200/) });
      expect(corrupt['public.clean_pkey']!.problems[0]!.message).toMatch(/^XX002: (item order|high key) invariant violated for index "clean_pkey" \(Index tid=\(1,\d+\)/);
    }
    expect(result.summary).toMatch(/^2 corrupt relations: /);
    expect(result.summary).toContain('public.events (block 2');
    expect(JSON.stringify(result)).not.toMatch(/secret-note/);
  });

  it('a list checks only those relations (a table with its indexes); one the copy lacks is named', async () => {
    const { result, details } = await integrity({ relations: ['clean', 'no_such_table'] });

    expect(details.checked).toMatchObject({ tables: 1, indexes: 1 });
    expect(details.corrupt.map((relation) => relation.relation)).toEqual(['public.clean_pkey']);
    expect(details.errors).toEqual([{ relation: 'no_such_table', message: 'no such table or index in the copy' }]);
    expect(result.status).toBe('fail');
  });
});
