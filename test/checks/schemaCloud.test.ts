import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerConfigSchema, schemaConfigSchema } from '../../lib/checks/config.ts';
import type { checkSchema as CheckSchema } from '../../lib/checks/schema.ts';
import { lambdaBundling } from '../../lib/infra/bundling.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { testSource } from '../support/source.ts';
import { checkContext, createDatabase, fixturesDir, migrateWithV1 } from './helpers.ts';

const root = resolve(import.meta.dirname, '..', '..');
let source: SourceCluster;
let out: string;

beforeAll(async () => {
  source = await testSource();
  // Outside the checkout, nothing above it: as Lambda lays out the Verify bundle.
  out = await mkdtemp(join(tmpdir(), 'rd-schemacloud-bundle-'));
});

afterAll(async () => {
  await source?.remove();
  if (out) await rm(out, { recursive: true, force: true });
});

describe('schema check in a bundle laid out as Lambda lays it out', () => {
  it('refuses clearly: drizzle-kit is not in the bundle, so the check names the CLI', async () => {
    // Prepare: the check bundled with the stack's own esbuild options, and a copy with a 1.x ledger.
    const options = lambdaBundling();
    await build({
      entryPoints: [join(root, 'lib/checks/schema.ts')],
      outfile: join(out, 'schema.mjs'),
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: options.target,
      external: options.externalModules,
      banner: { js: options.banner! },
      logLevel: 'silent',
    });
    const db = await createDatabase(source, 'schema_cloud');
    await migrateWithV1(db, join(fixturesDir, 'v1', 'migrations'));
    // The deployment carries the journal and SQL files only, as packDeployment packs them.
    const migrations = join(out, 'migrations');
    await cp(join(fixturesDir, 'v1', 'migrations'), migrations, { recursive: true, filter: (path) => !path.endsWith('snapshot.json') });
    const { checkSchema } = (await import(pathToFileURL(join(out, 'schema.mjs')).href)) as { checkSchema: typeof CheckSchema };

    // Act
    const result = await checkSchema(checkContext(db), schemaConfigSchema.parse({}), ledgerConfigSchema.parse({ migrationsFolder: migrations }));

    // Assess
    expect(result.status).toBe('error');
    expect(result.summary).toContain("the cloud's Verify bundle does not carry drizzle-kit, so run the schema check from the CLI");
  });
});
