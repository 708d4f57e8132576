import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LedgerConfig, SchemaConfig } from './config.ts';
import { checkLedger, readRepoMigrations, type LedgerDetails, type MigrationsLayout } from './ledger.ts';
import { ignoredBy, parseIgnorePattern, type IgnorePattern } from './schemaIgnore.ts';
import { DrizzleKitMissingError, findDrizzleKit, pullSnapshot, runDiffer, type DrizzleKit } from './schemaKit.ts';
import { buildInScratch, withScratchDatabase } from './schemaScratch.ts';
import { emptySnapshot, filterSnapshot, objectName, snapshotObjects, snapshotSchemas, withoutDefaultOpclasses, withoutMissing, type SchemaObject, type Snapshot } from './schemaSnapshot.ts';
import { closeSession, openSession, quoteIdent, safeError, type SafeError } from './sql.ts';
import type { CheckContext, CheckResult } from './types.ts';

export interface SchemaDetails {
  layout: MigrationsLayout | null;
  /** The newest migration the copy's ledger says is applied: its snapshot is the schema the copy should have. */
  migration: string | null;
  snapshot: string | null;
  drizzleKit: string | null;
  /** The schemas introspected in the copy. */
  schemas: string[];
  ignore: string[];
  /** Objects left out because an `ignore` pattern names them, in the copy or in the snapshot. */
  ignored: string[];
  /** How many of the snapshot's objects (tables, views, enums, sequences, …, not counting what is inside them) were compared, of how many. */
  compared: { objects: number; of: number } | null;
  /** In the copy, never made by the migrations (a db:push, a hand change). */
  extra: string[];
  /** Made by the migrations, not in the copy. */
  missing: string[];
  /** What drizzle-kit would write to take the migrations' schema to the copy's: the drift as SQL. */
  sql: string[];
  /**
   * `built`: the snapshot was built in a scratch database beside the copy and read back by the same
   * pull as the copy. `as written`: the checks' user may not create databases (see scratchRefused), so
   * the snapshot's own text is compared: expressions, views and some defaults may differ in spelling only.
   */
  comparedWith: 'built' | 'as written' | null;
  scratchRefused?: SafeError;
  /** A scratch database that could not be dropped. */
  scratchLeftOver?: string | null;
  error?: SafeError;
}

const SCHEMA_CHECK = 'schema';
const SQL_IN_SUMMARY = 5;

/**
 * The copy's schema, read by drizzle-kit's own introspection (`pull`), against the Drizzle snapshot
 * of the newest migration its ledger says is applied, compared by drizzle-kit's own differ.
 */
export async function checkSchema(context: CheckContext, config: SchemaConfig, ledger: LedgerConfig | undefined): Promise<CheckResult> {
  const deadline = Date.now() + config.timeoutSeconds * 1000;
  const details: SchemaDetails = {
    layout: null,
    migration: null,
    snapshot: null,
    drizzleKit: null,
    schemas: [],
    ignore: config.ignore,
    ignored: [],
    compared: null,
    extra: [],
    missing: [],
    sql: [],
    comparedWith: null,
  };
  const result = (status: CheckResult['status'], summary: string): CheckResult => ({ check: SCHEMA_CHECK, status, summary, details });

  if (!ledger) return result('error', 'the schema check reads the copy\'s ledger to pick the snapshot to compare with: configure checks.ledger too');
  let ledgerResult: CheckResult;
  try {
    ledgerResult = await checkLedger(context, ledger);
  } catch (error) {
    details.error = safeError(error);
    return result('error', `cannot read the copy's ledger: ${details.error.message}`);
  }
  const ledgerDetails = ledgerResult.details as LedgerDetails;
  details.layout = ledgerDetails.layout;
  if (ledgerDetails.layout === null) return result('error', `cannot read the repo's migrations: ${ledgerDetails.journalProblem}`);
  if (ledgerDetails.error) {
    details.error = ledgerDetails.error;
    return result('error', `reading the ledger ${ledgerDetails.ledger} failed: ${ledgerDetails.error.message}`);
  }
  const layout = ledgerDetails.layout;
  if (ledgerDetails.ledgerTableMissing) return result('fail', `the copy has no ledger ${ledgerDetails.ledger}, so no migration's snapshot says what its schema should be`);
  // First: where drizzle-kit is missing (the cloud's Verify bundle) nothing else can be read either.
  let kit: DrizzleKit;
  try {
    kit = await findDrizzleKit(layout);
  } catch (error) {
    if (error instanceof DrizzleKitMissingError) return result('error', error.message);
    throw error;
  }
  details.drizzleKit = kit.version;
  // A migration edited after it was applied (a hash mismatch, which the ledger check reports) was still applied.
  const appliedTags = new Set([...ledgerDetails.applied, ...ledgerDetails.hashMismatch].map((m) => m.tag));
  let newest: NewestMigration | undefined;
  try {
    newest = await newestApplied(layout, ledger.migrationsFolder, appliedTags);
  } catch (error) {
    details.error = safeError(error);
    return result('error', `cannot read the snapshot of the newest applied migration: ${(error as Error).message}`);
  }
  if (!newest) return result('fail', `the ledger ${ledgerDetails.ledger} names no migration of the repo as applied: there is no snapshot to compare the copy with`);
  details.migration = newest.tag;
  details.snapshot = newest.file;

  const patterns: IgnorePattern[] = [...config.ignore.map(parseIgnorePattern), ...ledgerPatterns(ledger)];

  try {
    const { expected, create: created } = await readExpected(kit, newest, deadline);
    details.schemas = config.schemas ? [...config.schemas] : snapshotSchemas(layout, expected).filter((name) => name !== ledger.schema || usesSchema(layout, expected, name));
    const unknownSchemas = config.schemas ? await schemasNowhere(context, config.schemas, layout, expected) : [];
    if (unknownSchemas.length > 0) {
      return result(
        'error',
        `checks.schema.schemas names ${unknownSchemas.join(', ')}, which neither the copy nor the snapshot of ${newest.tag} has (a typo?): the snapshot uses ${usedSchemas(layout, expected).join(', ') || 'no schema'}`,
      );
    }
    details.compared = comparedCount(layout, expected, details.schemas, patterns);
    if (details.compared.of > 0 && details.compared.objects === 0) {
      const inSchemas = comparedCount(layout, expected, details.schemas, []).objects;
      return result(
        'error',
        inSchemas === 0
          ? `schemas ${details.schemas.join(', ')} hold none of the snapshot's ${details.compared.of} objects (it uses ${usedSchemas(layout, expected).join(', ')}): nothing would be compared; name the schemas the migrations make, or leave schemas out`
          : `ignore (${config.ignore.join(', ')}) leaves out every object of the snapshot of ${newest.tag} (${details.compared.of}): nothing would be compared; ignore only what a team manages outside Drizzle`,
      );
    }
    const pullOptions = { schemas: details.schemas, ledger: { schema: ledger.schema, table: ledger.table }, deadline };
    if (layout === '0.x') {
      const hidden = (await hiddenFromInformationSchema(context, details.schemas)).filter((table) => !ignoredBy(table, patterns));
      if (hidden.length > 0) {
        const names = hidden.map((table) => table.join('.'));
        return result(
          'error',
          `drizzle-kit 0.x reads keys and unique constraints through information_schema.constraint_column_usage, which shows only tables owned by the user's own roles; the checks' user ${context.copy.user ?? ''} owns none of ${hidden.length} table(s) (${names.slice(0, 10).join(', ')}${names.length > 10 ? ', …' : ''}) and would see them without their keys: run the schema check as their owner or a role that is a member of it (on RDS the master user usually is), or ignore them`,
        );
      }
    }
    // The snapshot built beside the copy, read back by the same pull: Postgres, not drizzle-kit, then
    // spells every expression, view and default on both sides, and only real differences remain.
    // allSettled: a failed pull must not return while the scratch database is still being built and dropped.
    const [pulledOutcome, builtOutcome] = await Promise.allSettled([
      pullSnapshot(kit, context.copy, pullOptions),
      (async () => {
        const create = created ?? (await runDiffer<string[][]>(kit, { op: 'diff', layout, kitDir: kit.dir, jobs: [[[emptySnapshot(layout), expected]]] }, deadline))[0];
        return withScratchDatabase(context.copy, context.statementTimeoutMs, async (scratch) => {
          await buildInScratch(scratch, create!, context.statementTimeoutMs);
          return pullSnapshot(kit, scratch, pullOptions);
        });
      })(),
    ]);
    if (pulledOutcome.status === 'rejected') throw pulledOutcome.reason;
    if (builtOutcome.status === 'rejected') throw builtOutcome.reason;
    const pulled = pulledOutcome.value;
    const built = builtOutcome.value;
    if (built.built) {
      details.comparedWith = 'built';
      details.scratchLeftOver = built.leftOver;
    } else {
      details.comparedWith = 'as written';
      details.scratchRefused = built.refused;
    }
    const defaults = layout === '0.x' ? await defaultOpclasses(context) : null;
    const comparison = comparable(layout, built.built ? built.value : expected, pulled, { defaults, patterns, ledgerSchema: ledger.schema });
    [details.sql] = (await runDiffer<string[][]>(kit, { op: 'diff', layout, kitDir: kit.dir, jobs: [comparison.steps] }, deadline)) as [string[]];
    details.ignored = comparison.ignored;
    details.extra = comparison.extra;
    details.missing = comparison.missing;
  } catch (error) {
    details.error = safeError(error);
    return result('error', `the schema check could not compare the copy with migration ${newest.tag}: ${details.error.message}`);
  }

  const comparedNote = details.compared ? `: ${details.compared.objects} of the snapshot's ${details.compared.of} objects compared` : '';
  const ignoredNote = `${details.ignored.length > 0 ? `; ${details.ignored.length} ignored` : ''}${
    details.scratchRefused
      ? `; compared with the snapshot as written, since the checks' user cannot create a scratch database on the copy (${details.scratchRefused?.message}): expressions, views and some defaults may differ in spelling only`
      : ''
  }${details.scratchLeftOver ? `; the scratch database ${details.scratchLeftOver} could not be dropped` : ''}`;
  const unknownNote = ledgerDetails.unknown.length > 0 ? `; the ledger also holds ${ledgerDetails.unknown.length} migration(s) the repo does not have (see the ledger check)` : '';
  if (details.sql.length === 0) {
    return result('pass', `matches the snapshot of ${newest.tag}, the newest applied migration${comparedNote} (drizzle-kit ${kit.version}; schemas ${details.schemas.join(', ')}${ignoredNote})`);
  }
  const parts: string[] = [];
  if (details.extra.length > 0) parts.push(`${details.extra.length} not made by the migrations (${details.extra.join(', ')})`);
  if (details.missing.length > 0) parts.push(`${details.missing.length} made by the migrations and missing (${details.missing.join(', ')})`);
  const shown = details.sql.slice(0, SQL_IN_SUMMARY).join(' ');
  const more = details.sql.length > SQL_IN_SUMMARY ? ` … and ${details.sql.length - SQL_IN_SUMMARY} more (details.sql)` : '';
  return result(
    'fail',
    // The SQL goes last: its statements end in ";", and a note after them read ";;".
    `the copy's schema drifted from the snapshot of ${newest.tag}, the newest applied migration${comparedNote}${parts.length > 0 ? `; ${parts.join('; ')}` : ''}${ignoredNote}${unknownNote}; drizzle-kit ${kit.version} would write: ${shown}${more}`,
  );
}

interface Comparison {
  steps: [Snapshot, Snapshot][];
  extra: string[];
  missing: string[];
  ignored: string[];
}

/** Both sides as drizzle-kit's differ should see them: ignored objects and the ledger left out, 0.x's default operator classes dropped. */
function comparable(
  layout: MigrationsLayout,
  expected: Snapshot,
  pulled: Snapshot,
  options: { defaults: ReadonlySet<string> | null; patterns: readonly IgnorePattern[]; ledgerSchema: string },
): Comparison {
  let wanted = options.defaults ? withoutDefaultOpclasses(expected, options.defaults) : expected;
  let actual = options.defaults ? withoutDefaultOpclasses(pulled, options.defaults) : pulled;
  // The ledger's own schema, made by the migrator, not by a migration.
  const ledgerSchemaExpected = snapshotObjects(layout, wanted).some((o) => o.kind === 'schema' && o.path[0] === options.ledgerSchema);
  const ignored: SchemaObject[] = [];
  const keep = (object: SchemaObject) => {
    const by = ignoredBy(object.path, options.patterns);
    if (by && !by.text.startsWith(LEDGER_PATTERN)) ignored.push(object);
    if (!by && object.kind === 'schema' && object.path[0] === options.ledgerSchema && !ledgerSchemaExpected) return false;
    return !by;
  };
  wanted = filterSnapshot(layout, wanted, keep);
  actual = filterSnapshot(layout, actual, keep);
  const wantedObjects = snapshotObjects(layout, wanted);
  const actualObjects = snapshotObjects(layout, actual);
  const wantedNames = new Set(wantedObjects.map(objectName));
  const actualNames = new Set(actualObjects.map(objectName));
  return {
    steps: layout === '0.x' ? twoSteps(wanted, actual) : [[wanted, actual]],
    extra: outermost(actualObjects.filter((object) => !wantedNames.has(objectName(object)))),
    missing: outermost(wantedObjects.filter((object) => !actualNames.has(objectName(object)))),
    ignored: outermost(ignored),
  };
}

const LEDGER_PATTERN = '\0ledger ';

/** Each ignored object once, without what is inside another ignored one (1.x lists a table's columns apart). */
function outermost(objects: readonly SchemaObject[]): string[] {
  const paths = new Set(objects.map((object) => object.path.join('\0')));
  const inside = (object: SchemaObject) => object.path.some((_, end) => end > 0 && end < object.path.length && paths.has(object.path.slice(0, end).join('\0')));
  return [...new Set(objects.filter((object) => !inside(object)).map(objectName))].sort();
}

/** The ledger table is the migrator's, never in a snapshot. */
function ledgerPatterns(ledger: LedgerConfig): IgnorePattern[] {
  const literal = (text: string) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 's');
  return [{ text: `${LEDGER_PATTERN}${quoteIdent(ledger.schema)}.${quoteIdent(ledger.table)}`, parts: [literal(ledger.schema), literal(ledger.table)] }];
}

/** The snapshot's own objects, not what is inside them (a table's columns), and how many of them lie in `schemas` and no pattern ignores. */
function comparedCount(layout: MigrationsLayout, snapshot: Snapshot, schemas: readonly string[], patterns: readonly IgnorePattern[]): { objects: number; of: number } {
  const objects = snapshotObjects(layout, snapshot).filter((object) => object.kind !== 'schema' && object.kind !== 'role');
  const all = outermost(objects);
  const kept = outermost(objects.filter((object) => schemas.includes(object.path[0]!) && !ignoredBy(object.path, patterns)));
  return { objects: kept.length, of: all.length };
}

function usedSchemas(layout: MigrationsLayout, snapshot: Snapshot): string[] {
  return [...new Set(snapshotObjects(layout, snapshot).filter((object) => object.kind !== 'role').map((object) => object.path[0]!))].sort();
}

/** Entries of `schemas` that the copy does not have and the snapshot does not use: a typo compares nothing. */
async function schemasNowhere(context: CheckContext, schemas: readonly string[], layout: MigrationsLayout, snapshot: Snapshot): Promise<string[]> {
  const used = new Set(usedSchemas(layout, snapshot));
  const client = await openSession(context.copy, { statementTimeoutMs: context.statementTimeoutMs });
  try {
    const { rows } = await client.query<{ nspname: string }>('select nspname from pg_namespace where nspname = any($1)', [schemas]);
    const inCopy = new Set(rows.map((row) => row.nspname));
    return schemas.filter((name) => !inCopy.has(name) && !used.has(name));
  } finally {
    await closeSession(client);
  }
}

function usesSchema(layout: MigrationsLayout, snapshot: Snapshot, schema: string): boolean {
  return snapshotObjects(layout, snapshot).some((object) => object.kind !== 'schema' && object.path[0] === schema);
}

/** 0.x in two steps (see withoutMissing): drizzle-kit never has a rename to ask about. */
function twoSteps(wanted: Snapshot, actual: Snapshot): [Snapshot, Snapshot][] {
  const middle = withoutMissing('0.x', wanted, actual);
  return [
    [wanted, middle],
    [middle, actual],
  ];
}

interface NewestMigration {
  tag: string;
  file: string;
  /** 1.x: the snapshot id, and every folder's snapshot up to it (1.x keeps diffs: the state is rebuilt from them). */
  id?: string;
  folders?: Record<string, unknown>;
}

/**
 * The newest of the applied migrations in the repo's order, and its snapshot file: 0.x
 * `meta/<idx>_snapshot.json` (by the journal's idx, whatever the tag's prefix), 1.x the folder's `snapshot.json`.
 */
async function newestApplied(layout: MigrationsLayout, folder: string, applied: ReadonlySet<string>): Promise<NewestMigration | undefined> {
  const repo = await readRepoMigrations(folder);
  if (!repo.ok) throw new Error(repo.problem);
  const inOrder = repo.migrations.map((migration) => migration.tag);
  const position = inOrder.findLastIndex((tag) => applied.has(tag));
  if (position === -1) return undefined;
  const tag = inOrder[position]!;
  if (layout === '0.x') {
    const journal = (await readJson(join(folder, 'meta', '_journal.json'), 'the journal')) as { entries: { idx?: unknown; tag: string }[] };
    const entry = journal.entries.find((candidate) => candidate.tag === tag);
    const idx = typeof entry?.idx === 'number' ? entry.idx : position;
    return { tag, file: join(folder, 'meta', `${String(idx).padStart(4, '0')}_snapshot.json`) };
  }
  const folders: Record<string, unknown> = {};
  for (const earlier of inOrder.slice(0, position + 1)) folders[earlier] = await readJson(join(folder, earlier, 'snapshot.json'), `the snapshot of ${earlier}`);
  const id = (folders[tag] as { id?: unknown }).id;
  if (typeof id !== 'string') throw new Error(`${join(folder, tag, 'snapshot.json')} has no id`);
  return { tag, file: join(folder, tag, 'snapshot.json'), id, folders };
}

async function readJson(file: string, what: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`${what} (${file}) cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; drizzle-kit writes one per migration, keep it with the migrations`);
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`${what} (${file}) is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * The schema the migrations made: 0.x's snapshot as is; 1.x's state rebuilt by drizzle-kit's
 * reconstruct, with the SQL that makes it (0.x's is asked for beside the copy's pull).
 */
async function readExpected(kit: DrizzleKit, newest: NewestMigration, deadline: number): Promise<{ expected: Snapshot; create?: string[] }> {
  if (kit.layout === '0.x') return { expected: await readJson(newest.file, `the snapshot of ${newest.tag}`) };
  const { state, create } = await runDiffer<{ state: Snapshot; create: string[] }>(kit, { op: 'reconstruct', layout: '1.x', kitDir: kit.dir, files: newest.folders!, id: newest.id! }, deadline);
  return { expected: state, create };
}

/** Tables and views whose constraints information_schema hides from the checks' user: owned by a role it is not a member of. */
async function hiddenFromInformationSchema(context: CheckContext, schemas: readonly string[]): Promise<string[][]> {
  const client = await openSession(context.copy, { statementTimeoutMs: context.statementTimeoutMs });
  try {
    const { rows } = await client.query<{ nspname: string; relname: string }>(
      `select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any($1) and c.relkind in ('r', 'p', 'v', 'm')
          and not pg_has_role(c.relowner, 'USAGE')
        order by 1, 2`,
      [schemas],
    );
    return rows.map((row) => [row.nspname, row.relname]);
  } finally {
    await closeSession(client);
  }
}

/** `<access method>:<operator class>` for every default operator class of the copy. */
async function defaultOpclasses(context: CheckContext): Promise<Set<string>> {
  const client = await openSession(context.copy, { statementTimeoutMs: context.statementTimeoutMs });
  try {
    const { rows } = await client.query<{ key: string }>(
      `select am.amname || ':' || c.opcname as key from pg_opclass c join pg_am am on am.oid = c.opcmethod where c.opcdefault`,
    );
    return new Set(rows.map((row) => row.key));
  } finally {
    await closeSession(client);
  }
}
