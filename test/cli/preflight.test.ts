import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import { runDrills } from '../../lib/drill/runner.ts';
import { scratchFolders } from '../../lib/providers/local/scratch.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import type { DrillReport } from '../../lib/report/types.ts';
import { runCli, type CliResult } from '../support/cli.ts';
import { drizzleProject } from '../support/project.ts';

// Issue 14, item 15: an unwritable report.dir was found only after the drill (a copy made, restored
// and removed for nothing); concurrency above the cores made every drill slower without a word.
let source: SourceCluster;
let project: string;

function cli(args: string[]): Promise<CliResult> {
  return runCli(args, { via: 'source' });
}

const copiesOf = async (database: string) => (await readdir(scratchFolders.copies()).catch(() => [] as string[])).filter((name) => name.startsWith(`rd-${database}-`));

beforeAll(async () => {
  ({ source, project } = await drizzleProject('preflight'));
});

afterAll(async () => {
  await source?.remove();
  if (project) await rm(project, { recursive: true, force: true });
});

describe('report.dir', () => {
  test.each([
    ['a folder under a file', 'not-a-folder/reports', 'ENOTDIR'],
    ['a file', 'not-a-folder', 'not a folder'],
  ])('%s is refused at plan, before any copy is made (exit 2)', async (_case, dir, why) => {
    // Prepare
    await writeFile(join(project, 'not-a-folder'), 'a file where a folder should be\n');
    const configFile = join(project, `unwritable-${why.replace(/\W/g, '')}.config.json`);
    await writeFile(configFile, JSON.stringify({ databases: [{ name: 'pfl', provider: { kind: 'local', baseBackups: source.backupsDir, walArchive: source.archiveDir }, checks: {} }], report: { dir: `./${dir}` } }));

    // Act
    const run = await cli(['run', '--config', configFile]);
    const restore = await cli(['restore', '--config', configFile, '--database', 'pfl', '--target', 'latest']);

    // Assess: refused as bad input, naming the folder and why; no drill began
    for (const result of [run, restore]) {
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain(`report.dir ${join(project, dir)} cannot hold reports (${why})`);
      expect(result.stderr).not.toContain('pfl: restore');
    }
    expect(await copiesOf('pfl')).toEqual([]);
  });
});

describe('--target', () => {
  test('an impossible date is refused before the drill, saying why (exit 2)', async () => {
    const configFile = join(project, 'target.config.json');
    await writeFile(configFile, JSON.stringify({ databases: [{ name: 'pft', provider: { kind: 'local', baseBackups: source.backupsDir, walArchive: source.archiveDir }, checks: {} }], report: { dir: './target-reports' } }));

    const result = await cli(['run', '--config', configFile, '--target', '2026-11-31T10:00:00Z']);

    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain('--target: "2026-11-31T10:00:00Z" is not a time: November 2026 has 30 days');
    expect(result.stderr).not.toContain('pft: plan');
    expect(await copiesOf('pft')).toEqual([]);
  });
});

describe('concurrency above the cores', () => {
  test('is warned of and recorded in each report', async () => {
    // Prepare: two local databases drilled at once on a machine said to have one core
    const reportDir = join(project, 'concurrency-reports');
    const provider = { kind: 'local', baseBackups: source.backupsDir, walArchive: source.archiveDir };
    const config = await validateConfig({ concurrency: 2, databases: [{ name: 'cc-a', provider, checks: {} }, { name: 'cc-b', provider, checks: {} }], report: { dir: reportDir } }, project);
    const warnings: string[] = [];

    // Act
    const result = await runDrills(config, { trigger: 'cli', cores: 1, warn: (line) => warnings.push(line) });

    // Assess
    expect(result.drills.map((report) => report.status)).toEqual(['passed', 'passed']);
    expect(warnings).toEqual([
      'concurrency 2 runs 2 local drills at once on 1 core: they compete for CPU and disk, so each restore and RTO is measured longer than a drill alone would take (the reports record it)',
    ]);
    for (const report of result.drills) expect(report.concurrency).toEqual({ configured: 2, drillsAtOnce: 2, cores: 1 });
    const written = await Promise.all((await readdir(reportDir)).map(async (name) => JSON.parse(await readFile(join(reportDir, name), 'utf8')) as DrillReport));
    expect(written.map((report) => report.concurrency)).toEqual([
      { configured: 2, drillsAtOnce: 2, cores: 1 },
      { configured: 2, drillsAtOnce: 2, cores: 1 },
    ]);
  });

  test('at or below the cores: no warning, the concurrency still recorded', async () => {
    const provider = { kind: 'local', baseBackups: source.backupsDir, walArchive: source.archiveDir };
    const config = await validateConfig({ concurrency: 2, databases: [{ name: 'cc-c', provider, checks: {} }], report: { dir: join(project, 'concurrency-reports') } }, project);
    const warnings: string[] = [];

    const result = await runDrills(config, { trigger: 'cli', cores: 4, warn: (line) => warnings.push(line) });

    expect(warnings).toEqual([]);
    expect(result.drills[0]!.concurrency).toEqual({ configured: 2, drillsAtOnce: 1, cores: 4 });
  });
});
