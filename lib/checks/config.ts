import { z } from 'zod';
import { parseIgnorePattern } from './schemaIgnore.ts';
import { parseTableName } from './sql.ts';

const identifier = z
  .string()
  .min(1)
  .max(63, 'Postgres truncates identifiers longer than 63 bytes')
  .refine((name) => !name.includes('\0'), 'an identifier cannot contain a NUL character');

/** A table, optionally schema-qualified: `orders`, `sales.orders`, `"odd.name"`, `sales."odd.name"`. */
const tableName = z
  .string()
  .min(1)
  .superRefine((name, context) => {
    try {
      parseTableName(name);
    } catch (error) {
      context.addIssue({ code: 'custom', message: (error as Error).message });
    }
  });

export const ledgerConfigSchema = z
  .object({
    /** The Drizzle migrations folder (drizzle-kit's `out`), 0.x or 1.x layout, relative to the config file. */
    migrationsFolder: z.string().min(1),
    /** @default 'drizzle' */
    schema: identifier.default('drizzle'),
    /** @default '__drizzle_migrations' */
    table: identifier.default('__drizzle_migrations'),
    /**
     * `all-applied`: every migration in the repo is in the copy's ledger. `prefix`: migrations newer
     * than every applied one may be missing (the target predates a deploy).
     * @default 'all-applied'
     */
    expect: z.enum(['all-applied', 'prefix']).default('all-applied'),
  })
  .strict();

export const rowCountRuleSchema = z
  .object({
    table: tableName,
    min: z.number().int().nonnegative().optional(),
    max: z.number().int().nonnegative().optional(),
    /**
     * Rows with `column <= target - marginSeconds`, counted on the source (read-only) and on the copy,
     * must be equal. Needs the database's `source` connection.
     */
    asOf: z.object({ column: identifier, marginSeconds: z.number().nonnegative() }).strict().optional(),
    /** Fails when the count fell by more than this against the previous drill's count. */
    maxDropPercent: z.number().min(0).max(100).optional(),
  })
  .strict()
  .refine((rule) => rule.min === undefined || rule.max === undefined || rule.min <= rule.max, {
    message: 'min is greater than max',
    path: ['max'],
  });

export const rowCountsConfigSchema = z.array(rowCountRuleSchema).min(1);

export const freshnessConfigSchema = z
  .object({
    table: tableName,
    /** A timestamp column written on every change, e.g. `updated_at` or `created_at` of an append-only table. */
    column: identifier,
    /** @default the database's rpoTargetSeconds */
    maxLagSeconds: z.number().nonnegative().optional(),
  })
  .strict();

export const sqlAssertionSchema = z
  .object({
    /** How the report names it. */
    name: z.string().min(1).max(200),
    /** One read-only query, run in a READ ONLY transaction with the statement timeout. */
    query: z.string().min(1),
    /**
     * `rows`: how many rows the query returns. `min`, `max`, `equals`: bounds on the number in the first
     * column of the first row (a `count(*)`, a `sum`). Only the verdict and that number are reported.
     */
    expect: z
      .object({
        rows: z.number().int().nonnegative().optional(),
        min: z.number().optional(),
        max: z.number().optional(),
        equals: z.number().optional(),
      })
      .strict()
      .refine((e) => e.rows !== undefined || e.min !== undefined || e.max !== undefined || e.equals !== undefined, {
        message: 'give at least one of rows, min, max, equals',
      })
      .refine((e) => e.min === undefined || e.max === undefined || e.min <= e.max, { message: 'min is greater than max', path: ['max'] }),
  })
  .strict();

export const sqlAssertionsConfigSchema = z
  .array(sqlAssertionSchema)
  .min(1)
  .superRefine((assertions, context) => {
    const seen = new Set<string>();
    for (const [index, assertion] of assertions.entries()) {
      if (seen.has(assertion.name)) context.addIssue({ code: 'custom', message: `two assertions are named ${JSON.stringify(assertion.name)}: names tell them apart in the report`, path: [index, 'name'] });
      seen.add(assertion.name);
    }
  });

export const integrityConfigSchema = z
  .object({
    /**
     * Tables (their heap, TOAST and B-tree indexes) or indexes to check; every table, materialized view
     * and B-tree index of the copy, the catalogs included, when left out.
     */
    relations: z.array(tableName).min(1).optional(),
    /** bt_index_check's heapallindexed: every heap tuple must be found in each index (slower: a pass over the heap per index). @default false */
    heapallindexed: z.boolean().default(false),
    /** Stop starting relations after this long; relations left unchecked make the check an error (the copy is not proven intact). */
    budgetSeconds: z.number().positive().optional(),
  })
  .strict();

export const schemaConfigSchema = z
  .object({
    /** Schemas to introspect in the copy. @default the schemas the migrations' snapshot names, and public */
    schemas: z.array(identifier).min(1).optional(),
    /**
     * Objects managed outside Drizzle, left out on both sides: `schema`, `schema.object` (a table, view,
     * enum or sequence, with everything in it) or `schema.table.part` (a column, index or constraint);
     * `*` matches within a part. @default []
     */
    ignore: z
      .array(
        z.string().min(1).superRefine((pattern, context) => {
          try {
            parseIgnorePattern(pattern);
          } catch (error) {
            context.addIssue({ code: 'custom', message: (error as Error).message });
          }
        }),
      )
      .default([]),
    /** drizzle-kit's introspection of the copy and its differ give up together after this long. @default 120 */
    timeoutSeconds: z.number().positive().max(3600).default(120),
  })
  .strict();

/** The `checks` of one database. */
export const checksConfigSchema = z
  .object({
    /** Every check query's statement_timeout. A freshly restored RDS copy loads its storage lazily: first scans are slow. */
    statementTimeoutMs: z.number().int().positive().default(300_000),
    /** Row-count queries in flight at once. */
    concurrency: z.number().int().min(1).max(64).default(4),
    ledger: ledgerConfigSchema.optional(),
    rowCounts: rowCountsConfigSchema.optional(),
    freshness: freshnessConfigSchema.optional(),
    /** amcheck on the copy: verify_heapam for tables, bt_index_check for B-tree indexes, up to `concurrency` at once. */
    integrity: integrityConfigSchema.optional(),
    /** SQL assertions on the copy: each a read-only query and what its answer must be. */
    sql: sqlAssertionsConfigSchema.optional(),
    /** The copy's schema against the Drizzle snapshot of the newest migration the ledger says is applied (needs `ledger`). */
    schema: schemaConfigSchema.optional(),
  })
  .strict();

/**
 * The read-only connection to the production database that `asOf` needs. No password field: it
 * comes from an environment variable or a secret, never from the config file.
 */
export const sourceConnectionSchema = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(5432),
    database: z.string().min(1),
    user: z.string().min(1),
    passwordEnv: z.string().min(1).optional(),
    passwordSecretArn: z.string().min(1).optional(),
    ssl: z.boolean().default(true),
  })
  .strict()
  .refine((source) => !(source.passwordEnv && source.passwordSecretArn), {
    message: 'give passwordEnv or passwordSecretArn, not both',
  });

export type LedgerConfig = z.output<typeof ledgerConfigSchema>;
export type RowCountRule = z.output<typeof rowCountRuleSchema>;
export type RowCountsConfig = z.output<typeof rowCountsConfigSchema>;
export type FreshnessConfig = z.output<typeof freshnessConfigSchema>;
export type SqlAssertion = z.output<typeof sqlAssertionSchema>;
export type IntegrityConfig = z.output<typeof integrityConfigSchema>;
export type SchemaConfig = z.output<typeof schemaConfigSchema>;
export type ChecksConfig = z.output<typeof checksConfigSchema>;
export type SourceConnectionConfig = z.output<typeof sourceConnectionSchema>;

/**
 * Problems that only show with the database around the checks, for lib/config to report with all
 * others: `asOf` without a source connection.
 */
export function checksConfigProblems(checks: ChecksConfig, database: { hasSource: boolean }): string[] {
  const problems: string[] = [];
  if (checks.schema && !checks.ledger) {
    problems.push('checks.schema compares the copy with the snapshot of the newest migration its ledger names: add checks.ledger (migrationsFolder, and the ledger schema and table if not the default)');
  }
  if (!database.hasSource) {
    for (const [index, rule] of (checks.rowCounts ?? []).entries()) {
      if (rule.asOf) {
        problems.push(
          `checks.rowCounts[${index}] (${JSON.stringify(rule.table)}): asOf counts rows on the source too, but the database has no source connection; add one (host, port, database, user) or drop asOf`,
        );
      }
    }
  }
  return problems;
}
