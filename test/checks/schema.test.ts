import { readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checksConfigProblems, checksConfigSchema, ledgerConfigSchema, schemaConfigSchema } from '../../lib/checks/config.ts';
import { runChecks } from '../../lib/checks/runChecks.ts';
import { checkSchema, type SchemaDetails } from '../../lib/checks/schema.ts';
import { findDrizzleKit, pullSnapshot } from '../../lib/checks/schemaKit.ts';
import { withScratchDatabase } from '../../lib/checks/schemaScratch.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { testSource } from '../support/source.ts';
import { checkContext, createDatabase, fixtureCopy, fixturesDir, migrateWithV0, migrateWithV1, scratchDir, withClient } from './helpers.ts';

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

type Layout = 'v0' | 'v1';

/** A database migrated by that layout's own drizzle-orm migrator, as an app deploys. */
async function migrated(layout: Layout, options: { onlyFirst?: number } = {}) {
  databases += 1;
  const name = `schema_${layout}_${databases}`;
  const db = await createDatabase(source, name);
  const folder = await fixtureCopy(layout, scratch.dir, name);
  if (options.onlyFirst !== undefined) {
    // Deploy the first migrations only, then bring the repo's later ones back (the copy predates them).
    const partial = await fixtureCopy(layout, scratch.dir, `${name}_partial`);
    await keepFirst(layout, partial, options.onlyFirst);
    await (layout === 'v0' ? migrateWithV0 : migrateWithV1)(db, partial);
  } else {
    await (layout === 'v0' ? migrateWithV0 : migrateWithV1)(db, folder);
  }
  const sql = (text: string) => source.query(text, [], name);
  return { db, folder, sql };
}

async function keepFirst(layout: Layout, folder: string, count: number): Promise<void> {
  if (layout === 'v0') {
    const file = join(folder, 'meta', '_journal.json');
    const journal = JSON.parse(await readFile(file, 'utf8')) as { entries: unknown[] };
    journal.entries = journal.entries.slice(0, count);
    await writeFile(file, JSON.stringify(journal));
  } else {
    const folders = (await readdir(folder)).sort();
    for (const later of folders.slice(count)) await rm(join(folder, later), { recursive: true });
  }
}

async function runSchema(db: Parameters<typeof checkContext>[0], folder: string, config: Record<string, unknown> = {}) {
  const result = await checkSchema(checkContext(db), schemaConfigSchema.parse(config), ledgerConfigSchema.parse({ migrationsFolder: folder }));
  return { result, details: result.details as SchemaDetails };
}

describe.each([
  { layout: 'v0' as const, kit: /^0\.31\./, newest: '0002_step3', second: '0001_step2' },
  { layout: 'v1' as const, kit: /^1\.0\.0-rc\.5$/, newest: '20261125201129_step3', second: '20261125201126_step2' },
])('schema check, drizzle-kit $layout output', ({ layout, kit, newest, second }) => {
  it('passes a copy whose schema is what its migrations made', async () => {
    // Prepare
    const { db, folder } = await migrated(layout);
    // Act
    const { result, details } = await runSchema(db, folder);
    // Assess
    expect(result.summary).toContain(`matches the snapshot of ${newest}`);
    expect(result.status).toBe('pass');
    expect(details.migration).toBe(newest);
    expect(details.drizzleKit).toMatch(kit);
    expect(details.schemas).toEqual(['public']);
    expect(details.sql).toEqual([]);
    expect(details.extra).toEqual([]);
    expect(details.missing).toEqual([]);
  });

  it('fails a db:push-style ALTER TABLE after the migrations, with the SQL drizzle-kit would write', async () => {
    const { db, folder, sql } = await migrated(layout);
    await sql('alter table users add column nickname varchar(40)');

    const { result, details } = await runSchema(db, folder);

    expect(result.status).toBe('fail');
    expect(details.sql).toEqual(['ALTER TABLE "users" ADD COLUMN "nickname" varchar(40);']);
    expect(details.extra).toEqual(['column public.users.nickname']);
    expect(details.missing).toEqual([]);
    expect(result.summary).toContain('ALTER TABLE "users" ADD COLUMN "nickname" varchar(40);');
    expect(result.summary).toContain(`drifted from the snapshot of ${newest}`);
    // Confirmed against the snapshot built beside the copy, and that database dropped.
    expect(details.comparedWith).toBe('built');
    expect(await source.query(`select datname from pg_database where datname like 'rd\\_schema\\_%'`)).toEqual([]);
  });

  it('fails a copy missing a column the migrations made (dropped by hand)', async () => {
    const { db, folder, sql } = await migrated(layout);
    await sql('alter table users drop column display_name');

    const { result, details } = await runSchema(db, folder);

    expect(result.status).toBe('fail');
    expect(details.sql).toEqual(['ALTER TABLE "users" DROP COLUMN "display_name";']);
    expect(details.missing).toEqual(['column public.users.display_name']);
    expect(details.extra).toEqual([]);
  });

  it('reports a hand rename as the drop and the add drizzle-kit would write, without asking', async () => {
    const { db, folder, sql } = await migrated(layout);
    await sql('alter table users rename column display_name to full_name');
    await sql('create table scratch_notes (id integer primary key, body text)');

    const { result, details } = await runSchema(db, folder);

    expect(result.status).toBe('fail');
    expect(details.extra).toEqual(expect.arrayContaining(['column public.users.full_name', 'table public.scratch_notes']));
    expect(details.missing).toEqual(['column public.users.display_name']);
    expect(details.sql).toEqual(expect.arrayContaining(['ALTER TABLE "users" DROP COLUMN "display_name";', 'ALTER TABLE "users" ADD COLUMN "full_name" text;']));
    expect(details.sql.some((statement) => statement.startsWith('CREATE TABLE "scratch_notes"'))).toBe(true);
  });

  it('leaves out objects named in ignore, and says so', async () => {
    const { db, folder, sql } = await migrated(layout);
    await sql('alter table users add column search_vector tsvector');
    await sql('create table legacy_exports (id integer primary key)');
    await sql('create index users_email_lower_idx on users (lower(email))');

    const { result, details } = await runSchema(db, folder, { ignore: ['public.users.search_vector', 'public.legacy_*', 'public.users.users_email_lower_idx'] });

    expect(result.summary).toContain('3 ignored');
    expect(result.status).toBe('pass');
    expect(details.ignored).toEqual(expect.arrayContaining(['column public.users.search_vector', 'table public.legacy_exports', 'index public.users.users_email_lower_idx']));
  });

  it('compares with the snapshot of the newest applied migration, not the newest in the repo', async () => {
    const { db, folder } = await migrated(layout, { onlyFirst: 2 });

    const { result, details } = await runSchema(db, folder);

    expect(details.migration).toBe(second);
    expect(result.status).toBe('pass');
  });

  it('stops drizzle-kit at timeoutSeconds and says so', async () => {
    const { db, folder } = await migrated(layout);

    const { result } = await runSchema(db, folder, { timeoutSeconds: 0.05 });

    expect(result.status).toBe('error');
    expect(result.summary).toMatch(/did not (finish within|start)|time \(timeoutSeconds\) ran out/);
  });
});

describe('schema check: the scratch database', () => {
  it('is made from template0: drift that the copy\'s template1 also holds is still found', async () => {
    // Prepare: template1 holds the same hand-made table as the checks' database (so does every database made from it).
    await source.query('create table public.audit_trail (id integer, note text)', [], 'template1');
    try {
      const { db, folder } = await migrated('v1');
      // Act
      const { result, details } = await runSchema(db, folder);
      // Assess
      expect(details.comparedWith).toBe('built');
      expect(result.status).toBe('fail');
      expect(details.extra).toEqual(['table public.audit_trail']);
    } finally {
      await source.query('drop table public.audit_trail', [], 'template1');
    }
  });

  it('has the checks\' database\'s encoding and locale, not the server\'s defaults', async () => {
    await source.query(`create database schema_latin1 template template0 encoding 'LATIN1' lc_collate 'C' lc_ctype 'C'`);
    const db = source.clientConfig('schema_latin1');
    const read = `select pg_encoding_to_char(encoding) as encoding, datcollate, datctype from pg_database where datname = current_database()`;

    const outcome = await withScratchDatabase(db, 30_000, (scratch) => withClient(scratch, async (client) => (await client.query(read)).rows[0]));

    expect(outcome).toMatchObject({ built: true, value: { encoding: 'LATIN1', datcollate: 'C', datctype: 'C' }, leftOver: null });
  });
});

describe('schema check: what it compares', () => {
  it.each([['v1' as const, '*'], ['v1' as const, 'public'], ['v1' as const, 'public.*'], ['v0' as const, '*']])(
    'is an error, never "matches", when ignore (%s: %s) leaves no object of the snapshot to compare',
    async (layout, pattern) => {
      const { db, folder, sql } = await migrated(layout);
      await sql('alter table users add column nickname text');

      const { result } = await runSchema(db, folder, { ignore: [pattern] });

      expect(result.status).toBe('error');
      expect(result.summary).toContain(`ignore (${pattern}) leaves out every object of the snapshot`);
      expect(result.summary).not.toContain('matches');
    },
  );

  it('is an error naming a schemas entry that neither the copy nor the snapshot has (a typo)', async () => {
    const { db, folder, sql } = await migrated('v1');
    await sql('alter table users add column nickname text');

    const { result } = await runSchema(db, folder, { schemas: ['nothere', 'public'] });

    expect(result.status).toBe('error');
    expect(result.summary).toContain('checks.schema.schemas names nothere, which neither the copy nor the snapshot');
  });

  it('is an error when the schemas it names hold none of the snapshot\'s objects', async () => {
    const { db, folder, sql } = await migrated('v1');
    await sql('alter table users add column nickname text');

    const { result } = await runSchema(db, folder, { schemas: ['drizzle'] });

    expect(result.status).toBe('error');
    expect(result.summary).toContain('schemas drizzle hold none of the snapshot\'s');
    expect(result.summary).toContain('it uses public');
  });

  it('says how many of the snapshot\'s objects it compared, and writes no ";;"', async () => {
    const { db, folder, sql } = await migrated('v1');
    const passed = await runSchema(db, folder, { ignore: ['public.audit_log'] });
    await sql('alter table users add column nickname text');

    const failed = await runSchema(db, folder, { ignore: ['public.audit_log'] });

    expect(passed.result.status).toBe('pass');
    expect(passed.result.summary).toMatch(/: (\d+) of the snapshot's (\d+) objects compared/);
    const [, compared, all] = /: (\d+) of the snapshot's (\d+) objects compared/.exec(passed.result.summary)!;
    expect(Number(compared)).toBe(Number(all) - 1);
    expect(passed.details.compared).toEqual({ objects: Number(compared), of: Number(all) });
    expect(failed.result.status).toBe('fail');
    expect(failed.result.summary).toContain(`${compared} of the snapshot's ${all} objects compared`);
    expect(failed.result.summary).not.toContain(';;');
  });
});

describe('schema check: the connection to the copy', () => {
  const password = 'pw-Very-Secret-42';

  it('hands drizzle-kit the password in a 0600 file only, never on a command line, and removes the file', async () => {
    const { db } = await migrated('v0');
    const kit = await findDrizzleKit('0.x');
    const seen = { pull: 0, withPassword: [] as string[], modes: new Set<number>(), folders: new Set<string>() };
    let pulling = true;
    const watch = (async () => {
      while (pulling) {
        for (const pid of await readdir('/proc').catch(() => [] as string[])) {
          if (!/^\d+$/.test(pid)) continue;
          const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
          if (cmdline.includes(password)) seen.withPassword.push(cmdline);
          const config = /\0--config\0([^\0]*\/rd-schema-[^/\0]+\/drizzle\.config\.cjs)/.exec(cmdline)?.[1];
          if (config) {
            seen.pull += 1;
            seen.folders.add(dirname(config));
            const mode = await stat(config).then((s) => s.mode & 0o777, () => null);
            if (mode !== null) seen.modes.add(mode);
          }
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();

    // Trust authentication ignores the password; drizzle-kit is still handed it.
    const snapshot = await pullSnapshot(kit, { ...db, password }, { schemas: ['public'], ledger: { schema: 'drizzle', table: '__drizzle_migrations' }, deadline: Date.now() + 60_000 });
    pulling = false;
    await watch;

    expect(Object.keys(snapshot.tables as object).sort()).toEqual(['public.audit_log', 'public.orders', 'public.users']);
    expect(seen.pull).toBeGreaterThan(0);
    expect(seen.withPassword).toEqual([]);
    expect([...seen.modes]).toEqual([0o600]);
    expect(seen.folders.size).toBe(1);
    for (const folder of seen.folders) expect(await stat(folder).then(() => 'still there', () => 'removed')).toBe('removed');
  });

  it('passes on what drizzle-kit said when its pull fails, without the password', async () => {
    const { db } = await migrated('v1');
    const kit = await findDrizzleKit('1.x');

    const failed = await pullSnapshot(kit, { ...db, database: 'no_such_db', password }, { schemas: ['public'], ledger: { schema: 'drizzle', table: '__drizzle_migrations' }, deadline: Date.now() + 60_000 }).then(
      () => null,
      (error: Error) => error,
    );

    expect(failed?.message).toContain('pull of the copy failed');
    expect(failed?.message).toContain('no_such_db');
    expect(failed?.message).not.toContain(password);
  });

  it('is an error, never the password, when the copy cannot be reached', async () => {
    const { db, folder } = await migrated('v0');

    const { result } = await runSchema({ ...db, database: 'no_such_db', password }, folder);

    expect(result.status).toBe('error');
    expect(JSON.stringify(result)).not.toContain(password);
  });
});

describe.each(['v0' as const, 'v1' as const])('schema check, a checks user that may not create databases (%s)', (layout) => {
  it('compares with the snapshot as written, and says why', async () => {
    const { db, folder, sql } = await migrated(layout);
    await sql('alter table users add column nickname text');
    await sql(`do $$ begin if not exists (select from pg_roles where rolname = 'schema_reader') then create role schema_reader login nocreatedb; end if; end $$`);
    await sql(`grant usage on schema drizzle to schema_reader; grant select on all tables in schema drizzle, public to schema_reader`);
    // drizzle-kit 0.x reads keys through information_schema, which shows them only to the tables' owner
    // and its members; membership gives no CREATEDB (role attributes are not inherited).
    if (layout === 'v0') await sql('grant postgres to schema_reader');

    const { result, details } = await runSchema({ ...db, user: 'schema_reader' }, folder);

    expect(result.status).toBe('fail');
    expect(details.comparedWith).toBe('as written');
    expect(details.scratchRefused?.code).toBe('42501');
    expect(details.sql).toEqual(['ALTER TABLE "users" ADD COLUMN "nickname" text;']);
    expect(result.summary).toContain("compared with the snapshot as written, since the checks' user cannot create a scratch database on the copy");
  });
});

describe('schema check, drizzle-kit 0.x and a checks user that does not own the tables', () => {
  it('is an error naming the tables whose keys information_schema hides, and what to grant', async () => {
    const { db, folder, sql } = await migrated('v0');
    await sql(`do $$ begin if not exists (select from pg_roles where rolname = 'select_only') then create role select_only login nocreatedb; end if; end $$`);
    await sql(`grant usage on schema drizzle to select_only; grant select on all tables in schema drizzle, public to select_only`);

    const { result } = await runSchema({ ...db, user: 'select_only' }, folder);

    expect(result.status).toBe('error');
    expect(result.summary).toContain('owns none of 3 table(s) (public.audit_log, public.orders, public.users) and would see them without their keys: run the schema check as their owner');
  });
});

describe('schema check config', () => {
  it('is refused without a ledger, naming both keys', () => {
    const checks = checksConfigSchema.parse({ schema: {} });
    expect(checksConfigProblems(checks, { hasSource: false })).toEqual([expect.stringContaining('checks.schema compares the copy with the snapshot of the newest migration its ledger names: add checks.ledger')]);
  });

  it('refuses an ignore pattern with four parts or an unclosed quote', () => {
    const four = schemaConfigSchema.safeParse({ ignore: ['a.b.c.d'] });
    const quote = schemaConfigSchema.safeParse({ ignore: ['"public.users'] });
    expect(four.success).toBe(false);
    expect(JSON.stringify(four.error?.issues)).toContain('has 4 parts');
    expect(quote.success).toBe(false);
    expect(JSON.stringify(quote.error?.issues)).toContain('unclosed double quote');
  });

  it('runs through runChecks as the schema key, after the others', async () => {
    const { db, folder, sql } = await migrated('v1');
    await sql('alter table orders add column coupon text');
    const config = checksConfigSchema.parse({ ledger: { migrationsFolder: folder }, schema: {} });

    const results = await runChecks({ copy: db, target: new Date(), rpoTargetSeconds: 300 }, config);

    const schema = results.find((r) => r.check === 'schema');
    expect(results.map((r) => r.check).slice(-2)).toEqual(['ledger', 'schema']);
    expect(schema?.status).toBe('fail');
    expect(schema?.summary).toContain('ALTER TABLE "orders" ADD COLUMN "coupon" text;');
  });
});

describe.each(['v0' as const, 'v1' as const])('schema check, a real project\'s schema (drizzle-kit %s output)', (layout) => {
  /** The rich fixture (another schema, enums, most column types, keys, checks, partial and expression indexes, a view), migrated. */
  async function richMigrated() {
    databases += 1;
    const name = `schema_rich_${layout}_${databases}`;
    const db = await createDatabase(source, name);
    const folder = join(fixturesDir, 'rich', layout, 'migrations');
    await (layout === 'v0' ? migrateWithV0 : migrateWithV1)(db, folder);
    return { db, folder, sql: (text: string) => source.query(text, [], name) };
  }

  it('passes it as its migrations made it: nothing drizzle-kit reads back differently counts as drift', async () => {
    const { db, folder } = await richMigrated();

    const { result, details } = await runSchema(db, folder);

    expect(details.sql).toEqual([]);
    expect(result.status).toBe('pass');
    expect(details.schemas).toEqual(['billing', 'public']);
  });

  it('fails a column type changed by hand, in another schema too', async () => {
    const { db, folder, sql } = await richMigrated();
    await sql('alter table accounts alter column country type varchar(3)');
    await sql(`alter type billing.invoice_status add value 'void'`);

    const { result, details } = await runSchema(db, folder);

    expect(result.status).toBe('fail');
    expect(details.sql.join('\n')).toMatch(/ALTER TABLE "accounts" ALTER COLUMN "country" SET DATA TYPE varchar\(3\)/);
    expect(details.sql.join('\n')).toMatch(/"billing"\."invoice_status".*'void'/);
  });
});
