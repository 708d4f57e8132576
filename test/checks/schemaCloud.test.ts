import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerConfigSchema, schemaConfigSchema } from '../../lib/checks/config.ts';
import type { checkSchema as CheckSchema } from '../../lib/checks/schema.ts';
import { packDeployment, unpackDeployment } from '../../lib/config/deployment.ts';
import { configSchema } from '../../lib/config/schema.ts';
import { lambdaBundling } from '../../lib/infra/bundling.ts';
import { addVerifyKit } from '../../lib/infra/verifyKit.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { testSource } from '../support/source.ts';
import { checkContext, createDatabase, fixturesDir, migrateWithV0, migrateWithV1 } from './helpers.ts';

// The schema check as the Verify asset carries it, outside the checkout with nothing above it (as
// Lambda lays it out): the check bundled with the stack's esbuild options, drizzle-kit beside it as
// verifyKit.ts puts it there, the migrations (snapshots too) as the deployment bundle unpacks them.
const root = resolve(import.meta.dirname, '..', '..');
let source: SourceCluster;
let out: string;
let databases = 0;

beforeAll(async () => {
  source = await testSource();
  out = await mkdtemp(join(tmpdir(), 'rd-schemacloud-bundle-'));
});

afterAll(async () => {
  await source?.remove();
  if (out) await rm(out, { recursive: true, force: true });
});

/** The check bundled into `dir` as index.mjs is for Verify, with the kit for `layouts` beside it (none: a bundle without it). */
async function bundledCheck(dir: string, layouts: ('0.x' | '1.x')[]): Promise<typeof CheckSchema> {
  const options = lambdaBundling();
  await mkdir(dir, { recursive: true });
  await build({
    entryPoints: [join(root, 'lib/checks/schema.ts')],
    outfile: join(dir, 'index.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: options.target,
    external: options.externalModules,
    banner: { js: options.banner! },
    logLevel: 'silent',
  });
  if (layouts.length > 0) addVerifyKit(dir, layouts);
  return ((await import(pathToFileURL(join(dir, 'index.mjs')).href)) as { checkSchema: typeof CheckSchema }).checkSchema;
}

/** The migrations folder as the Verify function has it: packed at synth, unpacked in its /tmp. */
function deployedMigrations(layout: 'v0' | 'v1', into: string): string {
  const config = configSchema.parse({
    databases: [{ name: 'app', provider: { kind: 'neon', projectId: 'shiny-wind-028834' }, checks: { ledger: { migrationsFolder: join(fixturesDir, layout, 'migrations') }, schema: {} } }],
  });
  const unpacked = unpackDeployment(packDeployment(config, { withMigrations: true }), into);
  return unpacked.databases[0]!.checks.ledger!.migrationsFolder;
}

describe.each([
  { layout: 'v0' as const, kit: '0.x' as const, migrate: migrateWithV0 },
  { layout: 'v1' as const, kit: '1.x' as const, migrate: migrateWithV1 },
])('schema check in the Verify asset laid out as Lambda lays it out, drizzle-kit $kit', ({ layout, kit, migrate }) => {
  const dir = () => join(out, `asset-${layout}`);
  let checkSchema: typeof CheckSchema;
  let migrations: string;

  beforeAll(async () => {
    checkSchema = await bundledCheck(dir(), [kit]);
    migrations = deployedMigrations(layout, join(out, `deployment-${layout}`));
  });

  async function copy(drift?: string) {
    databases += 1;
    const name = `schema_cloud_${layout}_${databases}`;
    const db = await createDatabase(source, name);
    await migrate(db, join(fixturesDir, layout, 'migrations'));
    if (drift) await source.query(drift, [], name);
    return checkSchema(checkContext(db), schemaConfigSchema.parse({}), ledgerConfigSchema.parse({ migrationsFolder: migrations }));
  }

  it('carries the snapshots in the deployment and the kit beside the bundle', async () => {
    const files = await readdir(migrations, { recursive: true });
    expect(files.some((file) => /snapshot\.json$/.test(String(file)))).toBe(true);
    expect(await readdir(join(dir(), 'node_modules'))).toEqual(expect.arrayContaining([layout === 'v0' ? 'drizzle-kit' : 'drizzle-kit-v1', 'pg']));
  });

  it('fails a copy whose schema drifted, with the SQL drizzle-kit writes', async () => {
    const result = await copy('alter table users add column nickname varchar(40)');
    expect(result.status, result.summary).toBe('fail');
    expect((result.details as { sql: string[] }).sql).toEqual(['ALTER TABLE "users" ADD COLUMN "nickname" varchar(40);']);
  });

  it('passes a copy as its migrations made it', async () => {
    const result = await copy();
    expect(result.status, result.summary).toBe('pass');
  });
});

describe('schema check in a bundle without the kit', () => {
  it('is an error naming what to install, not a pass', async () => {
    const checkSchema = await bundledCheck(join(out, 'asset-bare'), []);
    const db = await createDatabase(source, 'schema_cloud_bare');
    await migrateWithV1(db, join(fixturesDir, 'v1', 'migrations'));
    const result = await checkSchema(checkContext(db), schemaConfigSchema.parse({}), ledgerConfigSchema.parse({ migrationsFolder: deployedMigrations('v1', join(out, 'deployment-bare')) }));
    expect(result.status).toBe('error');
    expect(result.summary).toContain('drizzle-kit for the 1.x layout');
    expect(result.summary).toContain('synthesise the stack again');
  });
});
