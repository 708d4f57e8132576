import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import type { DatabaseConfig, RestoreDrillConfig } from './schema.ts';

/**
 * The config as a deployed function holds it: compiled into its bundle, together with the files the
 * config names on the deployer's machine (the Drizzle migrations the ledger check compares, a CA
 * bundle), under relative names that the function turns back into paths of its own.
 */
export interface DeploymentBundle {
  config: RestoreDrillConfig;
  /** Relative name (`<database>/migrations/meta/_journal.json`) to file text. */
  files: Record<string, string>;
}

interface PathField {
  /** The name its files travel under. */
  name: string;
  kind: 'folder' | 'file';
  value: string;
  set(value: string): void;
}

/** Every file or folder a database's config points at that a cloud function reads. */
function pathFields(database: DatabaseConfig): PathField[] {
  const fields: PathField[] = [];
  const ledger = database.checks.ledger;
  if (ledger) fields.push({ name: `${database.name}/migrations`, kind: 'folder', value: ledger.migrationsFolder, set: (value) => (ledger.migrationsFolder = value) });
  const provider = database.provider;
  if (provider.kind !== 'local' && provider.kind !== 'pgbackrest' && provider.caFile) {
    fields.push({ name: `${database.name}/ca.pem`, kind: 'file', value: provider.caFile, set: (value) => (provider.caFile = value) });
  }
  return fields;
}

/**
 * What the ledger check reads: the 0.x journal and every migration's SQL. With the schema check, also
 * the snapshots it compares the copy with (0.x `meta/<idx>_snapshot.json`, 1.x `<folder>/snapshot.json`).
 */
function migrationFiles(folder: string, withSnapshots: boolean): string[] {
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(folder, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .filter((name) => name === 'meta/_journal.json' || name.endsWith('.sql') || (withSnapshots && isSnapshot(name)))
    .sort();
}

function isSnapshot(name: string): boolean {
  return /^meta\/\d+_snapshot\.json$/.test(name) || /^[^/]+\/snapshot\.json$/.test(name);
}

/** At synth: the config with its files read in. `withMigrations` false leaves the ledger's files out (only Verify reads them). */
export function packDeployment(config: RestoreDrillConfig, options: { withMigrations: boolean }): DeploymentBundle {
  const packed = structuredClone(config);
  // The cloud keeps reports in S3. Without the deployer's absolute path, bundles made on two machines are identical.
  packed.report.dir = 'drill-reports';
  const files: Record<string, string> = {};
  for (const database of packed.databases) {
    for (const field of pathFields(database)) {
      if (field.kind === 'file') {
        files[field.name] = readFileSync(field.value, 'utf8');
      } else if (options.withMigrations) {
        for (const name of migrationFiles(field.value, database.checks.schema !== undefined)) files[`${field.name}/${name}`] = readFileSync(join(field.value, name), 'utf8');
      }
      field.set(field.name);
    }
  }
  return { config: packed, files };
}

/** In the function: writes the files under `root` and returns the config pointing at them. */
export function unpackDeployment(bundle: DeploymentBundle, root: string): RestoreDrillConfig {
  for (const [name, text] of Object.entries(bundle.files)) {
    const path = join(root, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  const config = structuredClone(bundle.config);
  for (const database of config.databases) for (const field of pathFields(database)) field.set(join(root, field.value));
  return config;
}
