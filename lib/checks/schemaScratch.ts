import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { closeSession, openSession, quoteIdent, safeError, type SafeError } from './sql.ts';

/**
 * A database of our own on the copy's server, to build the migrations' snapshot in: read back by
 * the same drizzle-kit pull as the copy, an expression, a view or a default reads the same on both
 * sides (Postgres, not drizzle-kit, writes their text), so only real differences remain.
 * The copy is ours and throwaway; the database is named `rd_schema_<random>` and dropped afterwards.
 */
export type ScratchOutcome<T> = { built: true; value: T; leftOver: string | null } | { built: false; refused: SafeError };

const PREFIX = 'rd_schema_';

export async function withScratchDatabase<T>(copy: pg.ClientConfig, statementTimeoutMs: number, use: (scratch: pg.ClientConfig) => Promise<T>): Promise<ScratchOutcome<T>> {
  const name = `${PREFIX}${randomBytes(4).toString('hex')}`;
  const admin = await openSession(copy, { statementTimeoutMs });
  let extensions: { extname: string; nspname: string }[];
  try {
    try {
      // template0, never the copy's template1: what template1 holds (a table, an event trigger) would hide drift
      // and run in a database isolation never saw. The checks' database's encoding and locale, so a pull reads the same.
      await admin.query(`create database ${quoteIdent(name)} template template0${await sameEncodingAndLocale(admin)}`);
    } catch (error) {
      // 42501: the checks' user may not create databases (a read-only user on RDS): say so, compare as written.
      if ((error as { code?: string }).code === '42501') return { built: false, refused: safeError(error) };
      throw error;
    }
    ({ rows: extensions } = await admin.query<{ extname: string; nspname: string }>(
      `select e.extname, n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname <> 'plpgsql' order by e.extname`,
    ));
  } finally {
    await closeSession(admin);
  }
  const scratch: pg.ClientConfig = { ...copy, database: name };
  try {
    // The migrations may use types of extensions the copy has (a vector, a citext column).
    const session = await openSession(scratch, { statementTimeoutMs });
    try {
      for (const { extname, nspname } of extensions) {
        await session.query(`create schema if not exists ${quoteIdent(nspname)}`);
        await session.query(`create extension if not exists ${quoteIdent(extname)} with schema ${quoteIdent(nspname)}`).catch(() => {});
      }
    } finally {
      await closeSession(session);
    }
    const value = await use(scratch);
    return { built: true, value, leftOver: await dropScratch(copy, name, statementTimeoutMs) };
  } catch (error) {
    await dropScratch(copy, name, statementTimeoutMs);
    throw error;
  }
}

/** ENCODING and locale clauses that repeat the current database's (the provider and its locale from PostgreSQL 15). */
async function sameEncodingAndLocale(admin: pg.Client): Promise<string> {
  // to_jsonb: the columns differ by version (daticulocale in 15 and 16, datlocale from 17).
  const { rows } = await admin.query<{ d: Record<string, string | null> }>(
    `select to_jsonb(d) || jsonb_build_object('encoding_name', pg_encoding_to_char(d.encoding)) as d from pg_database d where d.datname = current_database()`,
  );
  const d = rows[0]?.d;
  if (!d) return '';
  const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;
  let clauses = ` encoding ${literal(d.encoding_name!)} lc_collate ${literal(d.datcollate!)} lc_ctype ${literal(d.datctype!)}`;
  const providerLocale = d.datlocale ?? d.daticulocale ?? null;
  if (d.datlocprovider === 'i' && providerLocale) clauses += ` locale_provider icu icu_locale ${literal(providerLocale)}`;
  else if (d.datlocprovider === 'b' && providerLocale) clauses += ` locale_provider builtin builtin_locale ${literal(providerLocale)}`;
  else if (d.datlocprovider === 'c') clauses += ' locale_provider libc';
  return clauses;
}

/** Drops the scratch database; returns its name when that failed, for the report. */
async function dropScratch(copy: pg.ClientConfig, name: string, statementTimeoutMs: number): Promise<string | null> {
  if (!name.startsWith(PREFIX)) return name;
  try {
    const admin = await openSession(copy, { statementTimeoutMs });
    try {
      // WITH (FORCE) from PostgreSQL 13: a pull that was stopped can leave its connection behind.
      const version = Number((await admin.query<{ v: string }>('show server_version_num')).rows[0]!.v);
      await admin.query(`drop database if exists ${quoteIdent(name)}${version >= 130000 ? ' with (force)' : ''}`);
    } finally {
      await closeSession(admin);
    }
    return null;
  } catch {
    return name;
  }
}

/** Runs drizzle-kit's statements for the snapshot, one by one, in the scratch database. */
export async function buildInScratch(scratch: pg.ClientConfig, statements: readonly string[], statementTimeoutMs: number): Promise<void> {
  const session = await openSession(scratch, { statementTimeoutMs });
  try {
    // drizzle-kit's unqualified names are public's, not pg_catalog's (openSession puts pg_catalog first).
    await session.query(`select pg_catalog.set_config('search_path', 'public', false)`);
    for (const statement of statements) {
      try {
        await session.query(statement);
      } catch (error) {
        throw new Error(`the snapshot's SQL does not run on the copy's server (${safeError(error).message}): ${statement.slice(0, 300)}`);
      }
    }
  } finally {
    await closeSession(session);
  }
}
