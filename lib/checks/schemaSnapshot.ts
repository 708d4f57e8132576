import type { MigrationsLayout } from './ledger.ts';

/**
 * Drizzle snapshots as the schema check reads them: 0.x (`version: "7"`, tables holding their
 * columns, indexes and constraints) and 1.x (`version: "9"`, a flat `ddl` list of entities). Every
 * object is named by a path: `[schema]`, `[schema, name]` (table, view, enum, sequence),
 * `[schema, table, name]` (column, index, constraint, policy).
 */
export type Snapshot = Record<string, unknown>;

export interface SchemaObject {
  kind: string;
  path: string[];
}

export const objectName = (object: SchemaObject) => `${object.kind} ${object.path.join('.')}`;

type Keep = (object: SchemaObject) => boolean;
type Entries = Record<string, Record<string, unknown>>;

const TABLE_PARTS_0: [field: string, kind: string][] = [
  ['columns', 'column'],
  ['indexes', 'index'],
  ['foreignKeys', 'foreign key'],
  ['compositePrimaryKeys', 'primary key'],
  ['uniqueConstraints', 'unique'],
  ['checkConstraints', 'check'],
  ['policies', 'policy'],
];

const TOP_LEVEL_0: [field: string, kind: string][] = [
  ['enums', 'enum'],
  ['sequences', 'sequence'],
  ['views', 'view'],
];

const schemaOf0 = (entry: Record<string, unknown>) => (typeof entry.schema === 'string' && entry.schema !== '' ? entry.schema : 'public');
const entriesOf = (value: unknown): Entries => (value && typeof value === 'object' ? (value as Entries) : {});

/** Every object of a snapshot, those inside a table after the table. */
export function snapshotObjects(layout: MigrationsLayout, snapshot: Snapshot): SchemaObject[] {
  const objects: SchemaObject[] = [];
  walk(layout, snapshot, (object) => {
    objects.push(object);
    return true;
  });
  return objects;
}

/** A copy of the snapshot holding only what `keep` keeps; leaving out a table leaves out all that is in it. */
export function filterSnapshot(layout: MigrationsLayout, snapshot: Snapshot, keep: Keep): Snapshot {
  const copy = structuredClone(snapshot);
  walk(layout, copy, keep, true);
  return copy;
}

function walk(layout: MigrationsLayout, snapshot: Snapshot, visit: Keep, remove = false): void {
  if (layout === '1.x') {
    const ddl = Array.isArray(snapshot.ddl) ? (snapshot.ddl as Record<string, unknown>[]) : [];
    const kept = ddl.filter((entity) => visit(entity1(entity)));
    if (remove) snapshot.ddl = kept;
    return;
  }
  for (const [key, name] of Object.entries(entriesOf(snapshot.schemas) as Record<string, unknown>)) {
    if (!visit({ kind: 'schema', path: [String(name)] }) && remove) delete (snapshot.schemas as Record<string, unknown>)[key];
  }
  for (const [field, kind] of TOP_LEVEL_0) {
    const entries = entriesOf(snapshot[field]);
    for (const [key, entry] of Object.entries(entries)) {
      if (!visit({ kind, path: [schemaOf0(entry), String(entry.name)] }) && remove) delete entries[key];
    }
  }
  const policies = entriesOf(snapshot.policies);
  for (const [key, entry] of Object.entries(policies)) {
    if (!visit({ kind: 'policy', path: [schemaOf0(entry), String(entry.on ?? ''), String(entry.name)] }) && remove) delete policies[key];
  }
  const roles = entriesOf(snapshot.roles);
  for (const [key, entry] of Object.entries(roles)) {
    if (!visit({ kind: 'role', path: [String(entry.name)] }) && remove) delete roles[key];
  }
  const tables = entriesOf(snapshot.tables);
  for (const [key, table] of Object.entries(tables)) {
    const path = [schemaOf0(table), String(table.name)];
    if (!visit({ kind: 'table', path })) {
      if (remove) delete tables[key];
      continue;
    }
    for (const [field, kind] of TABLE_PARTS_0) {
      const parts = entriesOf(table[field]);
      for (const [partKey, part] of Object.entries(parts)) {
        if (!visit({ kind, path: [...path, String(part.name ?? partKey)] }) && remove) delete parts[partKey];
      }
    }
  }
}

const KINDS_1: Record<string, string> = {
  schemas: 'schema', tables: 'table', columns: 'column', indexes: 'index', fks: 'foreign key', pks: 'primary key', uniques: 'unique',
  checks: 'check', enums: 'enum', sequences: 'sequence', views: 'view', policies: 'policy', roles: 'role', privileges: 'privilege',
};

function entity1(entity: Record<string, unknown>): SchemaObject {
  const type = String(entity.entityType ?? 'entity');
  const kind = KINDS_1[type] ?? type;
  const path = [entity.schema, entity.table, entity.name].filter((part): part is string => typeof part === 'string' && part !== '');
  return { kind, path };
}

/** The schemas a snapshot puts anything in, and public. */
export function snapshotSchemas(layout: MigrationsLayout, snapshot: Snapshot): string[] {
  const schemas = new Set(['public']);
  for (const object of snapshotObjects(layout, snapshot)) if (object.kind !== 'role' && object.path[0]) schemas.add(object.path[0]);
  return [...schemas].sort();
}

/**
 * drizzle-kit 0.x's pull writes every index column's operator class, while a snapshot made from a
 * schema without `.op()` has none: the same index would read as dropped and made again. An operator
 * class that is its access method's default for the column means nothing, on either side.
 */
export function withoutDefaultOpclasses(snapshot: Snapshot, defaults: ReadonlySet<string>): Snapshot {
  const copy = structuredClone(snapshot);
  for (const table of Object.values(entriesOf(copy.tables))) {
    for (const index of Object.values(entriesOf(table.indexes))) {
      const method = typeof index.method === 'string' ? index.method : 'btree';
      for (const column of Array.isArray(index.columns) ? (index.columns as Record<string, unknown>[]) : []) {
        if (typeof column.opclass === 'string' && (column.opclass === '' || defaults.has(`${method}:${column.opclass}`))) delete column.opclass;
      }
    }
  }
  return copy;
}

/**
 * drizzle-kit 0.x's differ asks on a terminal when objects are both dropped and added at one level
 * (a rename?), and fails without one. Diffing in two steps never asks: first to the migrations'
 * schema without what the copy lacks (only drops), then to the copy (only additions and changes).
 * This is the middle snapshot.
 */
export function withoutMissing(layout: MigrationsLayout, from: Snapshot, to: Snapshot): Snapshot {
  const present = new Set(snapshotObjects(layout, to).map(objectName));
  return filterSnapshot(layout, from, (object) => present.has(objectName(object)));
}

/** A snapshot of nothing, to have drizzle-kit write the SQL that makes a whole snapshot. */
export function emptySnapshot(layout: MigrationsLayout): Snapshot {
  const id = '00000000-0000-0000-0000-000000000000';
  if (layout === '1.x') return { version: '9', dialect: 'postgres', id, prevIds: [], ddl: [] };
  return {
    id,
    prevId: '',
    version: '7',
    dialect: 'postgresql',
    tables: {},
    enums: {},
    schemas: {},
    sequences: {},
    roles: {},
    policies: {},
    views: {},
    _meta: { schemas: {}, tables: {}, columns: {} },
  };
}
