import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RestoreDrillConfig } from '../../lib/config/schema.ts';
import { runJanitor, type JanitorResult } from '../../lib/janitor.ts';
import { MARKER_FILE } from '../../lib/providers/local/engine.ts';
import { scratchFolders } from '../../lib/providers/local/scratch.ts';
import type { RestoreProvider } from '../../lib/providers/types.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { runCli, type CliResult } from '../support/cli.ts';
import { drizzleProject } from '../support/project.ts';

// Issue 14, item 11: a huge --keep-for failed after a folder was made; one marker with an expiry
// that is not a time crashed the janitor (RangeError) and nothing was removed.
const DATABASE = 'bnd';
let source: SourceCluster;
let project: string;
let configFile: string;

function cli(args: string[]): Promise<CliResult> {
  return runCli(args, { via: 'source' });
}

const ourCopies = async () => (await readdir(scratchFolders.copies()).catch(() => [] as string[])).filter((name) => name.startsWith(`rd-${DATABASE}-`));

beforeAll(async () => {
  ({ source, project } = await drizzleProject('bounds'));
  configFile = join(project, 'restore-drill.config.json');
  await writeFile(
    configFile,
    JSON.stringify({
      databases: [{ name: DATABASE, provider: { kind: 'local', baseBackups: source.backupsDir, walArchive: source.archiveDir }, checks: {} }],
      report: { dir: './reports' },
    }),
  );
});

afterAll(async () => {
  await source?.remove();
  if (project) await rm(project, { recursive: true, force: true });
});

describe('restore --keep-for', () => {
  test('a lifetime past 365 days is refused before anything is made (exit 2)', async () => {
    const result = await cli(['restore', '--config', configFile, '--database', DATABASE, '--target', 'latest', '--keep', '--keep-for', '100000000d']);

    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain('--keep-for "100000000d" is not valid: must be from 1s to 365d (365 days); got 8640000000000 s');
    expect(await ourCopies()).toEqual([]);
    expect(await stat(join(project, 'reports')).then(() => true, () => false)).toBe(false);
  });
});

describe('a marker whose expiresAt is not a time', () => {
  /** A copy folder with our marker and no server (pid 0), as a crash or a hand edit leaves it. */
  async function plantCopy(name: string, expiresAt: string): Promise<string> {
    const dir = join(scratchFolders.copies(), name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, MARKER_FILE), JSON.stringify({ managed: true, handle: { name, dir, dataDir: join(dir, 'data'), pid: 0, expiresAt } }));
    return dir;
  }

  test('the janitor reports it and goes on with the others; drop still removes it', async () => {
    // Prepare: one marker edited by hand, one copy expired an hour ago.
    const bad = `rd-${DATABASE}-20261201000000-bad1`;
    const expired = `rd-${DATABASE}-20261201000000-old1`;
    const badDir = await plantCopy(bad, 'not-a-date');
    const expiredDir = await plantCopy(expired, new Date(Date.now() - 3_600_000).toISOString());
    try {
      // Act: a dry run (the scratch root is shared with other tests' copies: nothing of theirs is removed)
      const janitor = await cli(['janitor', '--config', configFile, '--dry-run', '--json']);

      // Assess
      expect(janitor.code, janitor.stderr).toBe(0);
      const result = JSON.parse(janitor.stdout) as JanitorResult;
      expect(result.removed.map((copy) => copy.name)).toContain(expired);
      expect(result.skipped).toEqual([
        { provider: 'local', name: bad, expiresAt: null, error: `its marker's expiresAt "not-a-date" is not a time: left alone; remove it with restore-drill drop --copy ${bad}` },
      ]);
      const text = await cli(['janitor', '--config', configFile, '--dry-run']);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toContain(`skipped ${bad} (local): its marker's expiresAt "not-a-date" is not a time`);

      const dropped = await cli(['drop', '--copy', bad, '--config', configFile]);
      expect(dropped.code, dropped.stderr).toBe(0);
      expect(await stat(badDir).then(() => true, () => false)).toBe(false);
    } finally {
      await rm(badDir, { recursive: true, force: true });
      await rm(expiredDir, { recursive: true, force: true });
    }
  });

  test('one unreadable expiry among a provider\'s copies: the expired one is removed, one listing that fails stops nothing', async () => {
    const destroyed: unknown[] = [];
    const listing = (copies: { name: string; expiresAt: Date }[]): RestoreProvider =>
      ({
        kind: 'local',
        listCopies: async () => copies.map((copy) => ({ ...copy, handle: { name: copy.name, expiresAt: Number.isNaN(copy.expiresAt.getTime()) ? 'not-a-date' : copy.expiresAt.toISOString() } })),
        destroy: async (handle: unknown) => void destroyed.push(handle),
      }) as unknown as RestoreProvider;
    const broken = { kind: 'rds', listCopies: async () => Promise.reject(new Error('DescribeDBInstances: Throttling')) } as unknown as RestoreProvider;
    const config = { databases: [{ name: 'one', provider: { kind: 'local' } }, { name: 'two', provider: { kind: 'rds', region: 'eu-west-1' } }] } as unknown as RestoreDrillConfig;

    const result = await runJanitor(config, {
      now: () => new Date('2026-12-01T12:00:00Z'),
      providerFor: (database) =>
        database.name === 'two' ? broken : listing([{ name: 'rd-one-20261201000000-bad1', expiresAt: new Date('not-a-date') }, { name: 'rd-one-20261201000000-old1', expiresAt: new Date('2026-12-01T11:00:00Z') }]),
    });

    expect(result.removed.map((copy) => copy.name)).toEqual(['rd-one-20261201000000-old1']);
    expect(destroyed).toEqual([{ name: 'rd-one-20261201000000-old1', expiresAt: '2026-12-01T11:00:00.000Z' }]);
    expect(result.skipped.map((copy) => copy.name)).toEqual(['rd-one-20261201000000-bad1']);
    expect(result.unlisted).toEqual([{ database: 'two', provider: 'rds', error: 'DescribeDBInstances: Throttling' }]);
  });
});
