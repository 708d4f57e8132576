import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { LedgerConfig } from './config.ts';
import { closeSession, openSession, quoteIdent, safeError, type SafeError } from './sql.ts';
import type { CheckContext, CheckResult } from './types.ts';

/** One migration in the repo, identified the way Drizzle identifies it. */
export interface RepoMigration {
  /** 0.x: the journal's tag (`0001_step2`); 1.x: the folder name (`20261125201126_step2`). */
  tag: string;
  /** 0.x: the journal's `when`; 1.x: the folder name's timestamp, in UTC, to the second. */
  when: number;
  file: string;
  /** sha256 hex of the file text, as Drizzle computes it. */
  hash: string;
  /** The same for the text with LF and with CRLF line endings, to recognise a checkout that converted them. */
  hashLf: string;
  hashCrlf: string;
}

export type MigrationsLayout = '0.x' | '1.x';

export type RepoMigrations =
  | { ok: true; layout: MigrationsLayout; migrations: RepoMigration[] }
  | { ok: false; problem: string };

export interface LedgerRow {
  id: number;
  hash: string;
  createdAt: number | null;
  name: string | null;
}

export interface LedgerDetails {
  layout: MigrationsLayout | null;
  migrationsFolder: string;
  ledger: string;
  /** `1.x` when the ledger has Drizzle 1.x's `name` column (its migrator then matches by name, not by watermark). */
  ledgerColumns: '0.x' | '1.x' | null;
  expect: LedgerConfig['expect'];
  applied: { tag: string; lineEndings?: 'lf' | 'crlf' }[];
  pending: { tag: string; olderThanNewestApplied: boolean }[];
  unknown: { id: number; createdAt: number | null; name: string | null }[];
  hashMismatch: { tag: string; ledgerId: number }[];
  skippedByWatermark: { tag: string; when: number; newestApplied: number }[];
  ledgerTableMissing: boolean;
  journalProblem: string | null;
  error?: SafeError;
}

const LEDGER_CHECK = 'ledger';

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

async function repoMigration(tag: string, when: number, file: string): Promise<RepoMigration> {
  // Drizzle hashes readFileSync(...).toString(): the UTF-8 decoded text, re-encoded.
  const text = (await readFile(file)).toString();
  const lf = text.replaceAll('\r\n', '\n');
  return { tag, when, file, hash: sha256(text), hashLf: sha256(lf), hashCrlf: sha256(lf.replaceAll('\n', '\r\n')) };
}

const isFile = (path: string) => stat(path).then((s) => s.isFile(), () => false);

/** The 1.x folder name's leading yyyymmddhhmmss, read as UTC the way drizzle-orm 1.x reads it. */
function folderMillis(name: string): number | null {
  const match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})/.exec(name);
  if (!match) return null;
  const [, y, mo, d, h, mi, s] = match.map(Number) as [number, number, number, number, number, number, number];
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

/** Reads a Drizzle migrations folder: `meta/_journal.json` (0.x) or `<timestamp>_<name>/migration.sql` (1.x). */
export async function readRepoMigrations(folder: string): Promise<RepoMigrations> {
  const entries = await readdir(folder, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => error);
  if (entries instanceof Error) return { ok: false, problem: `cannot read the migrations folder ${folder}: ${entries.code ?? entries.message}` };
  const journalPath = join(folder, 'meta', '_journal.json');
  if (await isFile(journalPath)) return readJournal(folder, journalPath);

  const dirs = entries.filter((entry) => entry.isDirectory() && entry.name !== 'meta').map((entry) => entry.name);
  const withSql = [];
  for (const dir of dirs) if (await isFile(join(folder, dir, 'migration.sql'))) withSql.push(dir);
  if (withSql.length === 0) {
    return {
      ok: false,
      problem: `${folder} holds neither meta/_journal.json (drizzle-kit 0.x) nor <timestamp>_<name>/migration.sql folders (drizzle-kit 1.x): journal missing`,
    };
  }
  const badNames = withSql.filter((dir) => folderMillis(dir) === null);
  if (badNames.length > 0) {
    return { ok: false, problem: `migration folders without a leading yyyymmddhhmmss timestamp: ${badNames.join(', ')}` };
  }
  // drizzle-orm 1.x applies folders in localeCompare order of their names.
  withSql.sort((a, b) => a.localeCompare(b));
  const migrations = await Promise.all(withSql.map((dir) => repoMigration(dir, folderMillis(dir)!, join(folder, dir, 'migration.sql'))));
  return { ok: true, layout: '1.x', migrations };
}

async function readJournal(folder: string, journalPath: string): Promise<RepoMigrations> {
  let journal: unknown;
  try {
    journal = JSON.parse(await readFile(journalPath, 'utf8'));
  } catch (error) {
    return { ok: false, problem: `${journalPath} is not valid JSON: ${(error as Error).message}` };
  }
  const entries = (journal as { entries?: unknown } | null)?.entries;
  if (!Array.isArray(entries)) return { ok: false, problem: `${journalPath} has no "entries" array` };
  const problems: string[] = [];
  const valid: { tag: string; when: number }[] = [];
  for (const [index, entry] of entries.entries()) {
    const { tag, when } = (entry ?? {}) as { tag?: unknown; when?: unknown };
    if (typeof tag !== 'string' || tag === '' || /[/\\]/.test(tag) || typeof when !== 'number' || !Number.isFinite(when)) {
      problems.push(`entry ${index} needs a "tag" (a file name without .sql) and a numeric "when"`);
    } else {
      valid.push({ tag, when });
    }
  }
  const missing = [];
  for (const { tag } of valid) if (!(await isFile(join(folder, `${tag}.sql`)))) missing.push(`${tag}.sql`);
  if (missing.length > 0) problems.push(`journal entries without their file: ${missing.join(', ')}`);
  if (problems.length > 0) return { ok: false, problem: `${journalPath} is malformed: ${problems.join('; ')}` };
  const migrations = await Promise.all(valid.map(({ tag, when }) => repoMigration(tag, when, join(folder, `${tag}.sql`))));
  return { ok: true, layout: '0.x', migrations };
}

/** The migration ledger in the copy against the repo's migration files. */
export async function checkLedger(context: CheckContext, config: LedgerConfig): Promise<CheckResult> {
  const ledgerName = `${quoteIdent(config.schema)}.${quoteIdent(config.table)}`;
  const details: LedgerDetails = {
    layout: null,
    migrationsFolder: config.migrationsFolder,
    ledger: ledgerName,
    ledgerColumns: null,
    expect: config.expect,
    applied: [],
    pending: [],
    unknown: [],
    hashMismatch: [],
    skippedByWatermark: [],
    ledgerTableMissing: false,
    journalProblem: null,
  };
  const repo = await readRepoMigrations(config.migrationsFolder);
  if (!repo.ok) {
    details.journalProblem = repo.problem;
    return { check: LEDGER_CHECK, status: 'error', summary: `cannot read the repo's migrations: ${repo.problem}`, details };
  }
  details.layout = repo.layout;

  const client = await openSession(context.copy, { statementTimeoutMs: context.statementTimeoutMs });
  let rows: LedgerRow[];
  try {
    const { rows: columns } = await client.query<{ attname: string }>(
      `select a.attname from pg_attribute a
        join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = $1 and c.relname = $2 and c.relkind in ('r', 'p', 'v', 'm', 'f') and a.attnum > 0 and not a.attisdropped`,
      [config.schema, config.table],
    );
    if (columns.length === 0) {
      details.ledgerTableMissing = true;
      return {
        check: LEDGER_CHECK,
        status: 'fail',
        summary: `the ledger table ${ledgerName} does not exist in the copy: no migration was ever applied to it, or the schema or table setting is wrong`,
        details,
      };
    }
    const names = new Set(columns.map((column) => column.attname));
    const hasName = names.has('name');
    details.ledgerColumns = hasName ? '1.x' : '0.x';
    const { rows: raw } = await client.query<{ id: number; hash: string; created_at: string | null; name: string | null }>(
      `select id, hash, created_at::text as created_at, ${hasName ? 'name' : 'null::text as name'} from ${ledgerName} order by id`,
    );
    rows = raw.map((row) => ({ id: Number(row.id), hash: row.hash, createdAt: row.created_at === null ? null : Number(row.created_at), name: row.name }));
  } catch (error) {
    details.error = safeError(error);
    return { check: LEDGER_CHECK, status: 'error', summary: `reading the ledger ${ledgerName} failed: ${details.error.message}`, details };
  } finally {
    await closeSession(client);
  }

  compareLedger(repo.layout, repo.migrations, rows, details);
  return summarise(details);
}

/** Matches ledger rows to files as Drizzle does (1.x by name, else by `created_at` = `when`), then compares hashes. */
export function compareLedger(layout: MigrationsLayout, migrations: readonly RepoMigration[], rows: readonly LedgerRow[], details: LedgerDetails): void {
  const matched = new Map<RepoMigration, LedgerRow>();
  const unmatchedRows: LedgerRow[] = [];
  const byTag = new Map(migrations.map((migration) => [migration.tag, migration]));
  // 1.x folder times are whole seconds; a row a 0.x migrator wrote carries milliseconds (drizzle-orm's upgrade truncates them too).
  const rowMillis = (row: LedgerRow) => (row.createdAt === null ? null : layout === '1.x' ? Math.floor(row.createdAt / 1000) * 1000 : row.createdAt);
  for (const row of rows) {
    let migration: RepoMigration | undefined;
    // Only a 1.x folder has names to match; a 0.x journal is matched by `when`, as its migrator does.
    if (row.name !== null && layout === '1.x') {
      migration = byTag.get(row.name);
    } else {
      const candidates = migrations.filter((m) => m.when === rowMillis(row) && !matched.has(m));
      migration = candidates.length > 1 ? (candidates.find((m) => hashesOf(m).includes(row.hash)) ?? candidates[0]) : candidates[0];
    }
    if (migration && !matched.has(migration)) matched.set(migration, row);
    else unmatchedRows.push(row);
  }

  const newestApplied = rows.reduce<number | null>((newest, row) => (row.createdAt !== null && (newest === null || row.createdAt > newest) ? row.createdAt : newest), null);
  for (const migration of migrations) {
    const row = matched.get(migration);
    if (row) {
      if (row.hash === migration.hash) details.applied.push({ tag: migration.tag });
      else if (row.hash === migration.hashLf) details.applied.push({ tag: migration.tag, lineEndings: 'lf' });
      else if (row.hash === migration.hashCrlf) details.applied.push({ tag: migration.tag, lineEndings: 'crlf' });
      else details.hashMismatch.push({ tag: migration.tag, ledgerId: row.id });
      continue;
    }
    const older = newestApplied !== null && migration.when <= newestApplied;
    // drizzle-orm 0.x applies only migrations newer than the newest ledger row: an older one is never applied.
    if (older && details.ledgerColumns === '0.x') details.skippedByWatermark.push({ tag: migration.tag, when: migration.when, newestApplied });
    else details.pending.push({ tag: migration.tag, olderThanNewestApplied: older });
  }
  details.unknown = unmatchedRows.map((row) => ({ id: row.id, createdAt: row.createdAt, name: row.name }));
}

function hashesOf(migration: RepoMigration): string[] {
  return [migration.hash, migration.hashLf, migration.hashCrlf];
}

function summarise(details: LedgerDetails): CheckResult {
  const tags = (list: { tag: string }[]) => list.map((item) => item.tag).join(', ');
  const parts = [`${details.applied.length} applied`];
  const problems: string[] = [];
  const acceptedPending = details.expect === 'prefix' ? details.pending.filter((p) => !p.olderThanNewestApplied) : [];
  const failingPending = details.pending.filter((p) => !acceptedPending.includes(p));
  if (acceptedPending.length > 0) parts.push(`${acceptedPending.length} pending, newer than every applied one (${tags(acceptedPending)})`);
  if (failingPending.length > 0) {
    problems.push(
      `${failingPending.length} pending (${tags(failingPending)})${details.expect === 'prefix' ? ': older than an applied migration' : ''}`,
    );
  }
  if (details.unknown.length > 0) {
    problems.push(`${details.unknown.length} unknown in the copy, not in the repo (ledger ids ${details.unknown.map((u) => u.id).join(', ')})`);
  }
  if (details.hashMismatch.length > 0) problems.push(`${details.hashMismatch.length} hash mismatch, edited after being applied (${tags(details.hashMismatch)})`);
  if (details.skippedByWatermark.length > 0) {
    problems.push(
      `${details.skippedByWatermark.length} skipped by watermark: older than the newest applied migration, so Drizzle never applies them (${tags(details.skippedByWatermark)})`,
    );
  }
  const lineEndings = details.applied.filter((a) => a.lineEndings);
  if (lineEndings.length > 0) parts.push(`${lineEndings.length} matching only with converted line endings (${tags(lineEndings)})`);
  return {
    check: LEDGER_CHECK,
    status: problems.length > 0 ? 'fail' : 'pass',
    summary: [...problems, ...parts].join('; '),
    details,
  };
}
