import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadConfig, validateConfig } from '../../lib/config/load.ts';
import { ConfigError } from '../../lib/errors.ts';
import { localProvider, useConfigFolder } from '../support/configFolder.ts';

// Issue 14, item 15: a table name over 63 bytes was not refused, and Postgres counted a different,
// truncated name; a config module that threw something other than an Error printed `undefined`.
const folder = useConfigFolder('limits');
const local = localProvider;
const problemsOf = folder.problemsOf;

describe('names Postgres would truncate', () => {
  test('are refused by their length in bytes (63 at most), naming the field and the bytes', async () => {
    // 32 characters of two bytes each: 64 bytes, which a limit in characters lets through.
    const accented = 'é'.repeat(32);
    const problems = await problemsOf({
      databases: [
        {
          name: 'app',
          provider: local,
          source: { host: 'db', database: 'app', user: 'ro' },
          checks: {
            rowCounts: [{ table: `sales.${accented}` }, { table: 'users', asOf: { column: accented, marginSeconds: 0 } }],
            freshness: { table: `"${'x'.repeat(64)}"`, column: 'created_at' },
            ledger: { migrationsFolder: './base', table: accented },
            integrity: { relations: [`${accented}.orders`] },
          },
        },
      ],
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        `databases[0].checks.rowCounts[0].table: "${accented}" is 64 bytes long; Postgres truncates names to 63 bytes and would count another table`,
        `databases[0].checks.rowCounts[1].asOf.column: "${accented}" is 64 bytes long; Postgres truncates names to 63 bytes`,
        `databases[0].checks.freshness.table: "${'x'.repeat(64)}" is 64 bytes long; Postgres truncates names to 63 bytes and would count another table`,
        `databases[0].checks.ledger.table: "${accented}" is 64 bytes long; Postgres truncates names to 63 bytes`,
        `databases[0].checks.integrity.relations[0]: "${accented}" is 64 bytes long; Postgres truncates names to 63 bytes and would count another table`,
      ]),
    );
  });

  test('63 bytes is a name', async () => {
    const config = await validateConfig({ databases: [{ name: 'app', provider: local, checks: { rowCounts: [{ table: `${'é'.repeat(31)}x` }] } }] }, folder.dir());
    expect(config.databases[0]!.checks.rowCounts![0]!.table).toBe(`${'é'.repeat(31)}x`);
  });
});

describe('a config module that throws', () => {
  test.each([
    ['a string', `throw 'DATABASE_URL is not set';`, 'DATABASE_URL is not set'],
    ['an object', `throw { code: 'E_NO_ENV', detail: 'missing' };`, '{"code":"E_NO_ENV","detail":"missing"}'],
    ['undefined', `throw undefined;`, 'it threw undefined (not an Error)'],
    ['an Error', `throw new Error('bad import');`, 'bad import'],
  ])('%s: the message says what it threw', async (_what, body, said) => {
    const file = join(folder.dir(), `throws-${Math.random().toString(36).slice(2)}.config.mjs`);
    await writeFile(file, `${body}\nexport default {};\n`);
    const error = await loadConfig(folder.dir(), file).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(`cannot read config file ${file}: ${said}`);
  });
});
