import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerConfigSchema } from '../../lib/checks/config.ts';
import { checkLedger, compareLedger, type LedgerDetails, type RepoMigration } from '../../lib/checks/ledger.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { testSource } from '../support/source.ts';
import { checkContext, createDatabase, fixtureCopy, migrateWithV0, migrateWithV1, scratchDir, withClient } from './helpers.ts';

let source: SourceCluster;
let scratch: { dir: string; remove: () => Promise<void> };
let databases = 0;

beforeAll(async () => {
  scratch = await scratchDir();
  source = await testSource();
});

afterAll(async () => {
  await source?.remove();
  await scratch?.remove();
});

/** A new database and an editable copy of a fixture folder for one scenario. */
async function scenario(layout: 'v0' | 'v1') {
  databases += 1;
  const name = `ledger_${layout}_${databases}`;
  const db = await createDatabase(source, name);
  const folder = await fixtureCopy(layout, scratch.dir, name);
  return { db, folder };
}

async function runLedger(db: Parameters<typeof checkContext>[0], config: Record<string, unknown>) {
  const result = await checkLedger(checkContext(db), ledgerConfigSchema.parse(config));
  return { result, details: result.details as LedgerDetails };
}

const tags = (list: { tag: string }[]) => list.map((item) => item.tag);

async function journalTags(folder: string): Promise<string[]> {
  const journal = JSON.parse(await readFile(join(folder, 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string }[] };
  return journal.entries.map((entry) => entry.tag);
}

describe('ledger, drizzle-kit 0.x layout, drizzle-orm 0.x migrator', () => {
  it('passes when every migration is applied unchanged', async () => {
    // Prepare
    const { db, folder } = await scenario('v0');
    await migrateWithV0(db, folder);
    // Act
    const { result, details } = await runLedger(db, { migrationsFolder: folder });
    // Assess
    expect(result.status).toBe('pass');
    expect(details.layout).toBe('0.x');
    expect(details.ledgerColumns).toBe('0.x');
    expect(tags(details.applied)).toEqual(await journalTags(folder));
    expect(details.pending).toEqual([]);
    expect(result.summary).toContain('3 applied');
  });

  it('reports a file edited after it was applied as a hash mismatch, not as pending plus unknown', async () => {
    const { db, folder } = await scenario('v0');
    await migrateWithV0(db, folder);
    const [, second] = await journalTags(folder);
    await writeFile(join(folder, `${second}.sql`), `${await readFile(join(folder, `${second}.sql`), 'utf8')}\n-- edited after deploy\n`);

    const { result, details } = await runLedger(db, { migrationsFolder: folder });

    expect(result.status).toBe('fail');
    expect(tags(details.hashMismatch)).toEqual([second]);
    expect(details.pending).toEqual([]);
    expect(details.unknown).toEqual([]);
    expect(result.summary).toContain(`hash mismatch, edited after being applied (${second})`);
  });

  it('accepts files whose line endings were converted (CRLF checkout) and says so', async () => {
    const { db, folder } = await scenario('v0');
    await migrateWithV0(db, folder);
    for (const tag of await journalTags(folder)) {
      const file = join(folder, `${tag}.sql`);
      await writeFile(file, (await readFile(file, 'utf8')).replaceAll('\n', '\r\n'));
    }

    const { result, details } = await runLedger(db, { migrationsFolder: folder });

    expect(result.status).toBe('pass');
    expect(details.applied.map((a) => a.lineEndings)).toEqual(['lf', 'lf', 'lf']);
    expect(result.summary).toContain('3 matching only with converted line endings');
  });

  it('reports a deleted newest ledger row as pending; expect prefix accepts it, all-applied does not', async () => {
    const { db, folder } = await scenario('v0');
    await migrateWithV0(db, folder);
    await withClient(db, (c) => c.query('delete from drizzle.__drizzle_migrations where id = (select max(id) from drizzle.__drizzle_migrations)'));
    const third = (await journalTags(folder))[2]!;

    const allApplied = await runLedger(db, { migrationsFolder: folder });
    const prefix = await runLedger(db, { migrationsFolder: folder, expect: 'prefix' });

    expect(allApplied.result.status).toBe('fail');
    expect(allApplied.details.pending).toEqual([{ tag: third, olderThanNewestApplied: false }]);
    expect(allApplied.result.summary).toContain(`1 pending (${third})`);
    expect(prefix.result.status).toBe('pass');
    expect(prefix.result.summary).toContain('pending, newer than every applied one');
  });

  it('treats a copy restored before a deploy as pending under prefix', async () => {
    const { db, folder } = await scenario('v0');
    const journalPath = join(folder, 'meta', '_journal.json');
    const full = await readFile(journalPath, 'utf8');
    const journal = JSON.parse(full) as { entries: unknown[] };
    await writeFile(journalPath, JSON.stringify({ ...journal, entries: journal.entries.slice(0, 2) }));
    await migrateWithV0(db, folder);
    await writeFile(journalPath, full);

    const { result, details } = await runLedger(db, { migrationsFolder: folder, expect: 'prefix' });

    expect(result.status).toBe('pass');
    expect(tags(details.applied)).toHaveLength(2);
    expect(tags(details.pending)).toEqual([(await journalTags(folder))[2]]);
  });

  it('reports a ledger row that no file in the repo matches as unknown', async () => {
    const { db, folder } = await scenario('v0');
    await migrateWithV0(db, folder);
    await withClient(db, (c) =>
      c.query(`insert into drizzle.__drizzle_migrations (hash, created_at) values ('${'f'.repeat(64)}', 1700000000000)`),
    );

    const { result, details } = await runLedger(db, { migrationsFolder: folder });

    expect(result.status).toBe('fail');
    expect(details.unknown).toEqual([{ id: 4, createdAt: 1700000000000, name: null }]);
    expect(details.applied).toHaveLength(3);
    expect(result.summary).toContain('1 unknown in the copy, not in the repo (ledger ids 4)');
  });

  it('reports a migration older than the newest applied one, which the 0.x migrator never applies, as skipped by watermark', async () => {
    // Prepare: migrate, then merge a migration generated earlier on another branch.
    const { db, folder } = await scenario('v0');
    await migrateWithV0(db, folder);
    const journalPath = join(folder, 'meta', '_journal.json');
    const journal = JSON.parse(await readFile(journalPath, 'utf8')) as { entries: { idx: number; when: number; tag: string; version: string; breakpoints: boolean }[] };
    const newest = journal.entries[2]!;
    journal.entries.push({ idx: 3, version: newest.version, when: newest.when - 1, tag: '0003_hotfix', breakpoints: true });
    await writeFile(journalPath, JSON.stringify(journal, null, 2));
    await writeFile(join(folder, '0003_hotfix.sql'), 'CREATE TABLE "hotfix" ("id" integer PRIMARY KEY);\n');
    await migrateWithV0(db, folder);
    const hotfixTable = await withClient(db, (c) => c.query(`select to_regclass('public.hotfix') as oid`));

    // Act
    const { result, details } = await runLedger(db, { migrationsFolder: folder, expect: 'prefix' });

    // Assess: drizzle's own migrator really skipped it, and we say so.
    expect(hotfixTable.rows[0].oid).toBeNull();
    expect(result.status).toBe('fail');
    expect(details.skippedByWatermark).toEqual([{ tag: '0003_hotfix', when: newest.when - 1, newestApplied: newest.when }]);
    expect(details.pending).toEqual([]);
    expect(result.summary).toContain('1 skipped by watermark');
  });

  it('fails when the ledger table is missing from the copy', async () => {
    const { db, folder } = await scenario('v0');
    await migrateWithV0(db, folder);
    await withClient(db, (c) => c.query('drop table drizzle.__drizzle_migrations'));

    const { result, details } = await runLedger(db, { migrationsFolder: folder });

    expect(result.status).toBe('fail');
    expect(details.ledgerTableMissing).toBe(true);
    expect(result.summary).toContain('"drizzle"."__drizzle_migrations" does not exist in the copy');
  });

  it('errors with the reason when the journal is malformed, has an entry without its file, or is missing', async () => {
    const { db, folder } = await scenario('v0');
    await migrateWithV0(db, folder);
    const journalPath = join(folder, 'meta', '_journal.json');
    const journal = await readFile(journalPath, 'utf8');
    const [first] = await journalTags(folder);

    await writeFile(journalPath, journal.slice(0, journal.length / 2));
    const truncated = await runLedger(db, { migrationsFolder: folder });
    await writeFile(journalPath, journal);
    await rm(join(folder, `${first}.sql`));
    const withoutFile = await runLedger(db, { migrationsFolder: folder });
    await rm(join(folder, 'meta'), { recursive: true });
    const missing = await runLedger(db, { migrationsFolder: folder });

    expect(truncated.result.status).toBe('error');
    expect(truncated.details.journalProblem).toContain('is not valid JSON');
    expect(withoutFile.result.status).toBe('error');
    expect(withoutFile.result.summary).toContain(`journal entries without their file: ${first}.sql`);
    expect(missing.result.status).toBe('error');
    expect(missing.result.summary).toContain('journal missing');
  });

  it('reads a ledger in a schema and table with hostile names', async () => {
    const { db, folder } = await scenario('v0');
    const ledger = { migrationsSchema: 'users; drop table x', migrationsTable: 'mig "rations".ü' };
    await migrateWithV0(db, folder, ledger);

    const { result, details } = await runLedger(db, { migrationsFolder: folder, schema: ledger.migrationsSchema, table: ledger.migrationsTable });
    const wrong = await runLedger(db, { migrationsFolder: folder, schema: 'users', table: 'mig "rations".ü' });

    expect(result.status).toBe('pass');
    expect(details.applied).toHaveLength(3);
    expect(details.ledger).toBe('"users; drop table x"."mig ""rations"".ü"');
    expect(wrong.details.ledgerTableMissing).toBe(true);
    const schemas = await withClient(db, (c) => c.query<{ nspname: string }>(`select nspname from pg_namespace where nspname like 'users%'`));
    expect(schemas.rows.map((r) => r.nspname)).toEqual(['users; drop table x']);
  });
});

describe('ledger, drizzle-kit 1.x layout, drizzle-orm 1.x migrator', () => {
  const folders = async (folder: string) => (await readdir(folder)).filter((name) => /^\d{14}_/.test(name)).sort();

  it('passes when every migration is applied, matching rows by name', async () => {
    const { db, folder } = await scenario('v1');
    await migrateWithV1(db, folder);

    const { result, details } = await runLedger(db, { migrationsFolder: folder });

    expect(result.status).toBe('pass');
    expect(details.layout).toBe('1.x');
    expect(details.ledgerColumns).toBe('1.x');
    expect(tags(details.applied)).toEqual(await folders(folder));
  });

  it('reports an edited migration.sql as a hash mismatch', async () => {
    const { db, folder } = await scenario('v1');
    await migrateWithV1(db, folder);
    const first = (await folders(folder))[0]!;
    const file = join(folder, first, 'migration.sql');
    await writeFile(file, (await readFile(file, 'utf8')).replace('"email" text NOT NULL', '"email" varchar(320) NOT NULL'));

    const { result, details } = await runLedger(db, { migrationsFolder: folder });

    expect(result.status).toBe('fail');
    expect(tags(details.hashMismatch)).toEqual([first]);
    expect(details.unknown).toEqual([]);
    expect(details.pending).toEqual([]);
  });

  it('reports a deleted middle row as pending and older than an applied one, which prefix does not accept', async () => {
    const { db, folder } = await scenario('v1');
    await migrateWithV1(db, folder);
    const second = (await folders(folder))[1]!;
    await withClient(db, (c) => c.query('delete from drizzle.__drizzle_migrations where name = $1', [second]));

    const { result, details } = await runLedger(db, { migrationsFolder: folder, expect: 'prefix' });

    expect(result.status).toBe('fail');
    expect(details.pending).toEqual([{ tag: second, olderThanNewestApplied: true }]);
    // 1.x applies by name, so this is not Drizzle 0.x's silent skip.
    expect(details.skippedByWatermark).toEqual([]);
    expect(result.summary).toContain(`1 pending (${second}): older than an applied migration`);
  });

  it('reports a foreign ledger row as unknown', async () => {
    const { db, folder } = await scenario('v1');
    await migrateWithV1(db, folder);
    await withClient(db, (c) =>
      c.query(`insert into drizzle.__drizzle_migrations (hash, created_at, name) values ('${'0'.repeat(64)}', 1800000000000, '20270115000000_other_branch')`),
    );

    const { result, details } = await runLedger(db, { migrationsFolder: folder });

    expect(result.status).toBe('fail');
    expect(details.unknown).toEqual([{ id: 4, createdAt: 1800000000000, name: '20270115000000_other_branch' }]);
  });

  it('matches a ledger written by the 0.x migrator (no name column) against the same migrations upgraded to 1.x folders', async () => {
    // Prepare: the 0.x app deployed; the repo then moved to 1.x (drizzle-kit up) before the next deploy.
    const { db, folder } = await scenario('v1');
    const v0Folder = await fixtureCopy('v0', scratch.dir, `v0-of-${databases}`);
    await migrateWithV0(db, v0Folder);
    const v0Tags = await journalTags(v0Folder);
    // The same SQL under 1.x folder names carrying each journal `when`, as `drizzle-kit up` lays them out.
    const journal = JSON.parse(await readFile(join(v0Folder, 'meta', '_journal.json'), 'utf8')) as { entries: { when: number; tag: string }[] };
    const upgraded = join(scratch.dir, `upgraded-${databases}`);
    for (const entry of journal.entries) {
      const stamp = new Date(entry.when).toISOString().replace(/[-:T]/g, '').slice(0, 14);
      const dir = join(upgraded, `${stamp}_${entry.tag.replace(/^\d+_/, '')}`);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'migration.sql'), await readFile(join(v0Folder, `${entry.tag}.sql`), 'utf8'));
    }

    const { result, details } = await runLedger(db, { migrationsFolder: upgraded });

    expect(v0Tags).toHaveLength(3);
    expect(details.layout).toBe('1.x');
    expect(details.ledgerColumns).toBe('0.x');
    expect(result.status).toBe('pass');
    expect(details.applied).toHaveLength(3);
  });
});

describe('matching ledger rows to files', () => {
  const migration = (tag: string, when: number, hash: string): RepoMigration => ({ tag, when, file: `${tag}.sql`, hash, hashLf: hash, hashCrlf: hash });
  const emptyDetails = (ledgerColumns: '0.x' | '1.x'): LedgerDetails => ({
    layout: null, migrationsFolder: '', ledger: '', ledgerColumns, expect: 'all-applied', applied: [], pending: [], unknown: [],
    hashMismatch: [], skippedByWatermark: [], ledgerTableMissing: false, journalProblem: null,
  });

  it('matches a 0.x journal by when even where the ledger carries 1.x names', () => {
    const details = emptyDetails('1.x');

    compareLedger('0.x', [migration('0000_a', 1000, 'h1'), migration('0001_b', 2000, 'h2')], [
      { id: 1, hash: 'h1', createdAt: 1000, name: '19700101000001_a' },
      { id: 2, hash: 'edited', createdAt: 2000, name: '19700101000002_b' },
    ], details);

    expect(tags(details.applied)).toEqual(['0000_a']);
    expect(tags(details.hashMismatch)).toEqual(['0001_b']);
    expect(details.unknown).toEqual([]);
  });

  it('tells two migrations of the same when apart by their hash', () => {
    const details = emptyDetails('0.x');

    compareLedger('0.x', [migration('0000_a', 1000, 'h1'), migration('0001_b', 1000, 'h2')], [{ id: 1, hash: 'h2', createdAt: 1000, name: null }], details);

    expect(tags(details.applied)).toEqual(['0001_b']);
    expect(details.skippedByWatermark).toEqual([{ tag: '0000_a', when: 1000, newestApplied: 1000 }]);
  });
});
