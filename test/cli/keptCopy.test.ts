import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, onTestFinished, test } from 'vitest';
import { runJanitor } from '../../lib/janitor.ts';
import { loadConfig } from '../../lib/config/load.ts';
import { destroyCopy } from '../../lib/providers/local/engine.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { runCli } from '../support/cli.ts';
import { copyFolders, copyServers } from '../support/leftovers.ts';
import { drizzleProject } from '../support/project.ts';

// issue 14 item 9: the janitor removes a copy whose owner died at once; a copy kept on purpose
// (restore --keep) outlives the CLI that made it, to its expiry.
let source: SourceCluster;
let project: string;
let configFile: string;

beforeAll(async () => {
  ({ source, project } = await drizzleProject('kept'));
  configFile = join(project, 'restore-drill.config.json');
  await writeFile(
    configFile,
    JSON.stringify({
      databases: [{ name: 'cli-kept', provider: { kind: 'local', baseBackups: source.backupsDir, walArchive: source.archiveDir }, connection: { database: 'postgres', user: 'postgres' } }],
    }),
  );
});

afterAll(async () => {
  await source?.remove();
  if (project) await rm(project, { recursive: true, force: true });
});

test('a copy kept with restore --keep is left alone by the janitor after its CLI has exited', async () => {
  const result = await runCli(['restore', '--config', configFile, '--database', 'cli-kept', '--target', 'latest', '--keep', '--keep-for', '2h'], { via: 'source' });
  expect(result.code, result.stderr).toBe(0);
  const name = /The copy (rd-cli-kept-\S+) stays until/.exec(result.stdout)?.[1];
  expect(name).toBeDefined();
  onTestFinished(async () => {
    if ((await copyFolders('cli-kept')).includes(name!)) await destroyCopy(name!);
  });

  const janitor = await runJanitor((await loadConfig(project, configFile)).config);

  expect(janitor.kept.map((copy) => copy.name)).toContain(name);
  expect(janitor.removed.map((copy) => copy.name)).not.toContain(name);
  expect(await copyServers('cli-kept')).toHaveLength(1);
});
