import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checksConfigSchema } from '../../lib/checks/config.ts';
import { runChecks } from '../../lib/checks/runChecks.ts';
import { embeddedBinDir, findPgBinaries } from '../../lib/providers/local/binaries.ts';
import { ensureScratchRoot, scratchFolders } from '../../lib/providers/local/scratch.ts';
import { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';

/**
 * A server that does not offer amcheck, as a Neon compute does: embedded PostgreSQL 17 with the
 * amcheck extension's files removed from a copy of it. Everything else about it is real.
 */
let folder: string;
let copy: SourceCluster;

beforeAll(async () => {
  await ensureScratchRoot();
  folder = await mkdtemp(join(scratchFolders.sources(), 'no-amcheck-'));
  await cp(join(embeddedBinDir()!, '..'), folder, { recursive: true, verbatimSymlinks: true });
  const extensions = join(folder, 'share', 'postgresql', 'extension');
  for (const file of await readdir(extensions)) if (file.startsWith('amcheck')) await rm(join(extensions, file));
  const binaries = await findPgBinaries({ major: 17, explicit: join(folder, 'bin') });
  copy = await SourceCluster.create({ binaries, walSegmentSizeMb: 1 });
  const [offered] = await copy.query<{ n: number }>(`select count(*)::int as n from pg_available_extensions where name = 'amcheck'`);
  expect(offered!.n).toBe(0);
}, 120_000);

afterAll(async () => {
  await copy?.remove();
  if (folder) await rm(folder, { recursive: true, force: true });
});

async function integrity(provider: string) {
  const results = await runChecks({ copy: copy.clientConfig(), target: new Date(), rpoTargetSeconds: 300, provider }, checksConfigSchema.parse({ integrity: {} }));
  return results.find((result) => result.check === 'integrity')!;
}

describe('checks.integrity where the server offers no amcheck (issue 15 item 4: refuse clearly)', () => {
  test('a Neon copy: the check is an error that says Neon does not offer amcheck and what to do, before trying to create it', async () => {
    const result = await integrity('neon');

    expect(result.status).toBe('error');
    expect(result.summary).toMatch(/^amcheck is not offered by this server \(PostgreSQL 17\.\d+, provider neon\): Neon's list of supported extensions does not include amcheck; remove checks\.integrity from this database/);
    expect(result.details).toMatchObject({ amcheckVersion: null, amcheckOffered: false });
  });

  test('a local copy: it names the missing contrib modules', async () => {
    const result = await integrity('local');

    expect(result.status).toBe('error');
    expect(result.summary).toMatch(/^amcheck is not offered by this server \(PostgreSQL 17\.\d+, provider local\): the Postgres binaries lack the contrib modules/);
  });
});
