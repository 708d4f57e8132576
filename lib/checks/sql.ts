import pg from 'pg';
import { ConfigError } from '../errors.ts';
import { newClient } from '../util/pgClient.ts';

/** A name from config as a Postgres identifier: always quoted, so it can never be more than a name. */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new ConfigError('an identifier cannot be empty');
  if (name.includes('\0')) throw new ConfigError(`identifier ${JSON.stringify(name)} contains a NUL character`);
  return `"${name.replaceAll('"', '""')}"`;
}

export interface TableName {
  schema: string | null;
  name: string;
}

/**
 * Splits a table name from config into schema and table. Parts are taken verbatim (case included,
 * as Drizzle creates them); a part holding a dot is written in double quotes with `""` for a quote:
 * `orders`, `sales.orders`, `"v1.orders"`, `sales."odd ""name"""`.
 */
export function parseTableName(input: string): TableName {
  if (input.includes('\0')) throw new ConfigError(`table ${JSON.stringify(input)} contains a NUL character`);
  const parts: string[] = [];
  let rest = input;
  for (;;) {
    let part: string;
    if (rest.startsWith('"')) {
      let end = 1;
      part = '';
      for (;;) {
        const quote = rest.indexOf('"', end);
        if (quote === -1) throw new ConfigError(`table ${JSON.stringify(input)} has an unclosed double quote`);
        part += rest.slice(end, quote);
        if (rest[quote + 1] === '"') {
          part += '"';
          end = quote + 2;
          continue;
        }
        rest = rest.slice(quote + 1);
        break;
      }
      if (rest !== '' && !rest.startsWith('.')) {
        throw new ConfigError(`table ${JSON.stringify(input)}: expected a dot or the end after a quoted name`);
      }
    } else {
      const dot = rest.indexOf('.');
      part = dot === -1 ? rest : rest.slice(0, dot);
      rest = dot === -1 ? '' : rest.slice(dot);
    }
    if (part === '') throw new ConfigError(`table ${JSON.stringify(input)} has an empty name part`);
    parts.push(part);
    if (rest === '') break;
    rest = rest.slice(1);
    if (rest === '') throw new ConfigError(`table ${JSON.stringify(input)} ends with a dot`);
  }
  if (parts.length > 2) {
    throw new ConfigError(`table ${JSON.stringify(input)} has ${parts.length} parts; write schema.table, and quote a name that holds a dot: "my.table"`);
  }
  return parts.length === 2 ? { schema: parts[0]!, name: parts[1]! } : { schema: null, name: parts[0]! };
}

/** The SQL for a table from config: `"schema"."table"`, or `"table"` resolved through search_path. */
export function qualifiedTable(input: string | TableName): string {
  const table = typeof input === 'string' ? parseTableName(input) : input;
  return table.schema === null ? quoteIdent(table.name) : `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
}

// SQLSTATE classes whose messages name only objects, settings or states, never data: 08 connection,
// 0A unsupported, 25 transaction state, 28 authorization, 3D/3F catalog/schema, 40 rollback,
// 42 syntax or access, 53 resources, 55 object state, 57 operator intervention. Others (22 data,
// 23 integrity, XX internal...) can quote a value and are withheld.
const SAFE_MESSAGE_CLASSES = new Set(['08', '0A', '25', '28', '3D', '3F', '40', '42', '53', '55', '57']);

export interface SafeError {
  /** SQLSTATE, when Postgres gave one. */
  code?: string;
  message: string;
}

/**
 * An error as it may appear in a result or a log. Postgres puts row values in `detail`
 * ("Failing row contains (...)", "Key (email)=(...)"), in `where` and `hint`, and for data errors
 * in the message itself: only the SQLSTATE and a message of a class that cannot carry data are kept.
 */
export function safeError(error: unknown): SafeError {
  if (error instanceof pg.DatabaseError) {
    const code = error.code;
    if (code && SAFE_MESSAGE_CLASSES.has(code.slice(0, 2))) return { code, message: error.message };
    return { code: code ?? 'unknown', message: `Postgres error ${code ?? 'without SQLSTATE'} (message withheld: it can carry row values)` };
  }
  if (error instanceof Error) {
    // Not from the server: connection failures, timeouts of our own, config errors.
    return { message: `${error.name}: ${error.message}` };
  }
  return { message: String(error) };
}

export function isStatementTimeout(error: unknown): boolean {
  return error instanceof pg.DatabaseError && error.code === '57014' && /statement timeout/.test(error.message);
}

export function isUndefinedObject(error: unknown): boolean {
  // 42P01 undefined table, 42703 undefined column, 3F000 undefined schema
  return error instanceof pg.DatabaseError && (error.code === '42P01' || error.code === '42703' || error.code === '3F000');
}

export interface SessionOptions {
  statementTimeoutMs: number;
  /** Every transaction of the session read-only: for the production source. */
  readOnly?: boolean;
}

/**
 * The session's search_path: the database's own (the source's, for a copy) without an explicit
 * pg_catalog, so that Postgres searches pg_catalog first, implicitly. `count`, `max`, `=` and every
 * other function, operator or catalog the checks name are then pg_catalog's, never a same-named one of
 * the copy's schemas (`public.count(*)` returning a million under `search_path = public, pg_catalog`);
 * an unqualified table from config (`orders`) resolves, and what a check creates unqualified (amcheck)
 * lands, where the application's would. (Naming pg_catalog first instead would make it the schema
 * things are created in.) Every name here is qualified: the statement runs under the path it replaces.
 */
const PG_CATALOG_FIRST =
  `select pg_catalog.set_config('search_path', coalesce((select pg_catalog.string_agg(pg_catalog.quote_ident(s.name), ', ' order by s.n) ` +
  `from pg_catalog.unnest(pg_catalog.current_schemas(false)) with ordinality as s(name, n) where s.name operator(pg_catalog.<>) 'pg_catalog'), ''), false)`;

/**
 * A connected client with its statement_timeout set (SET, not a startup option: poolers such as RDS
 * Proxy and PgBouncer reject or ignore startup options), timestamps read in UTC so that a
 * `timestamp without time zone` column compares as UTC, pg_catalog searched first, and, for the
 * source, read-only transactions.
 */
export async function openSession(config: pg.ClientConfig, options: SessionOptions): Promise<pg.Client> {
  const client = newClient({
    connectionTimeoutMillis: 30_000,
    // The server cancels at statement_timeout; this only catches a server that stopped answering.
    query_timeout: options.statementTimeoutMs + 30_000,
    application_name: 'restore-drill',
    ...config,
  });
  await client.connect();
  try {
    await client.query(
      [
        `set statement_timeout = ${Math.max(1, Math.floor(options.statementTimeoutMs))}`,
        `set timezone = 'UTC'`,
        PG_CATALOG_FIRST,
        ...(options.readOnly ? ['set session characteristics as transaction read only'] : []),
      ].join('; '),
    );
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
  return client;
}

export async function closeSession(client: pg.Client): Promise<void> {
  await client.end().catch(() => {});
}
