import { describe, expect, it } from 'vitest';
import { checksConfigProblems, checksConfigSchema, sourceConnectionSchema } from '../../lib/checks/config.ts';
import { parseTableName, qualifiedTable, quoteIdent } from '../../lib/checks/sql.ts';

describe('checks config', () => {
  it('fills the defaults', () => {
    const checks = checksConfigSchema.parse({
      ledger: { migrationsFolder: 'drizzle' },
      rowCounts: [{ table: 'orders', min: 1 }],
      freshness: { table: 'orders', column: 'placed_at' },
    });

    expect(checks).toEqual({
      statementTimeoutMs: 300_000,
      concurrency: 4,
      ledger: { migrationsFolder: 'drizzle', schema: 'drizzle', table: '__drizzle_migrations', expect: 'all-applied' },
      rowCounts: [{ table: 'orders', min: 1 }],
      freshness: { table: 'orders', column: 'placed_at' },
    });
  });

  it('rejects unknown keys at every level, with their path', () => {
    const result = checksConfigSchema.safeParse({
      ledger: { migrationsFolder: 'drizzle', expected: 'prefix' },
      rowCounts: [{ table: 'orders', asOf: { column: 'placed_at', marginSeconds: 5, margin: 5 } }],
      freshness: { table: 'orders', column: 'placed_at', maxLag: 10 },
      schemaDrift: {},
    });

    expect(result.success).toBe(false);
    const paths = result.error!.issues.map((issue) => [issue.path.join('.'), 'keys' in issue ? issue.keys : undefined]);
    expect(paths).toEqual(
      expect.arrayContaining([
        ['ledger', ['expected']],
        ['rowCounts.0.asOf', ['margin']],
        ['freshness', ['maxLag']],
        ['', ['schemaDrift']],
      ]),
    );
  });

  it('rejects min over max, a bad expect, an empty rule list and an unreadable table name', () => {
    expect(checksConfigSchema.safeParse({ rowCounts: [{ table: 't', min: 5, max: 4 }] }).error?.issues[0]?.message).toBe('min is greater than max');
    expect(checksConfigSchema.safeParse({ ledger: { migrationsFolder: 'd', expect: 'some' } }).success).toBe(false);
    expect(checksConfigSchema.safeParse({ rowCounts: [] }).success).toBe(false);
    expect(checksConfigSchema.safeParse({ freshness: { table: 'a.b.c', column: 'at' } }).error?.issues[0]).toMatchObject({
      path: ['freshness', 'table'],
      message: expect.stringContaining('has 3 parts'),
    });
  });

  it('reports asOf without a source connection, naming the rule', () => {
    const checks = checksConfigSchema.parse({
      rowCounts: [{ table: 'orders' }, { table: 'events', asOf: { column: 'at', marginSeconds: 5 } }],
    });

    expect(checksConfigProblems(checks, { hasSource: false })).toEqual([
      'checks.rowCounts[1] ("events"): asOf counts rows on the source too, but the database has no source connection; add one (host, port, database, user) or drop asOf',
    ]);
    expect(checksConfigProblems(checks, { hasSource: true })).toEqual([]);
  });

  it('keeps passwords out of the source connection', () => {
    expect(sourceConnectionSchema.safeParse({ host: 'db', database: 'app', user: 'drill', password: 'hunter2' }).success).toBe(false);
    expect(sourceConnectionSchema.parse({ host: 'db', database: 'app', user: 'drill', passwordEnv: 'SOURCE_PASSWORD' })).toEqual({
      host: 'db',
      port: 5432,
      database: 'app',
      user: 'drill',
      passwordEnv: 'SOURCE_PASSWORD',
      ssl: true,
    });
  });
});

describe('identifiers from config', () => {
  it('quotes every identifier, doubling quotes', () => {
    expect(quoteIdent('users; drop table x')).toBe('"users; drop table x"');
    expect(quoteIdent('say "hi"')).toBe('"say ""hi"""');
    expect(quoteIdent('Ördérs')).toBe('"Ördérs"');
    expect(() => quoteIdent('a\0b')).toThrow(/NUL/);
    expect(() => quoteIdent('')).toThrow(/empty/);
  });

  it('splits schema and table on a dot outside quotes, verbatim otherwise', () => {
    expect(parseTableName('orders')).toEqual({ schema: null, name: 'orders' });
    expect(parseTableName('Sales.Orders')).toEqual({ schema: 'Sales', name: 'Orders' });
    expect(parseTableName('"v1.orders"')).toEqual({ schema: null, name: 'v1.orders' });
    expect(parseTableName('sales."odd ""name""."')).toEqual({ schema: 'sales', name: 'odd "name".' });
    expect(parseTableName('users; drop table x')).toEqual({ schema: null, name: 'users; drop table x' });
    expect(parseTableName('ünï."Tab""le ß"')).toEqual({ schema: 'ünï', name: 'Tab"le ß' });
    expect(qualifiedTable('sales; drop table x."a""b"')).toBe('"sales; drop table x"."a""b"');
  });

  it('rejects names it cannot read unambiguously', () => {
    expect(() => parseTableName('a.b.c')).toThrow(/3 parts.*quote a name that holds a dot/);
    expect(() => parseTableName('"unclosed')).toThrow(/unclosed double quote/);
    expect(() => parseTableName('"a"b')).toThrow(/expected a dot or the end/);
    expect(() => parseTableName('a.')).toThrow(/ends with a dot/);
    expect(() => parseTableName('.a')).toThrow(/empty name part/);
    expect(() => parseTableName('a\0b')).toThrow(/NUL/);
  });
});
