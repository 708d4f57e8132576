import { mkdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, onTestFinished, test } from 'vitest';
import type { RestoreDrillConfig } from '../../lib/config/schema.ts';
import { runJanitor } from '../../lib/janitor.ts';
import { localProvider } from '../../lib/providers/local/index.ts';
import { ensureScratchRoot, scratchFolders } from '../../lib/providers/local/scratch.ts';
import { rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { destroyCopy, openCopy, type CopyOpening } from '../../lib/providers/local/engine.ts';

const config = { databases: [{ name: 'stray', provider: { kind: 'local', baseBackups: '/nonexistent' } }] } as unknown as RestoreDrillConfig;
const provider = localProvider({ kind: 'local', baseBackups: '/nonexistent' }, { connection: { database: 'postgres', user: 'postgres' } });
const janitor = () => runJanitor(config, { providerFor: () => provider });

async function folder(name: string, options: { ageSeconds: number; file?: string }): Promise<string> {
  await ensureScratchRoot();
  const dir = join(scratchFolders.copies(), name);
  await mkdir(dir, { mode: 0o711 });
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  if (options.file) await writeFile(join(dir, options.file), 'not ours to judge\n');
  const then = new Date(Date.now() - options.ageSeconds * 1000);
  await utimes(dir, then, then);
  return dir;
}

const exists = (path: string) => stat(path).then(() => true, () => false);

test('a copy folder left between its mkdir and its first marker write (a crash) is listed by the janitor and removed (issue 14 item 9)', async () => {
  const dir = await folder('rd-stray-20261125000000-ab01', { ageSeconds: 600 });

  const result = await janitor();

  expect(result.removed.map((copy) => copy.name)).toContain('rd-stray-20261125000000-ab01');
  expect(await exists(dir)).toBe(false);
});

test('an unmarked folder of our name that is new (a copy being made right now) or that holds anything is left alone', async () => {
  const fresh = await folder('rd-stray-20261125000000-ab02', { ageSeconds: 0 });
  const holding = await folder('rd-stray-20261125000000-ab03', { ageSeconds: 600, file: 'data.bin' });

  const result = await janitor();

  expect(result.removed.map((copy) => copy.name)).not.toContain('rd-stray-20261125000000-ab02');
  expect(result.removed.map((copy) => copy.name)).not.toContain('rd-stray-20261125000000-ab03');
  expect(await exists(fresh)).toBe(true);
  expect(await exists(join(holding, 'data.bin'))).toBe(true);
});

test('a copy removed while its first marker is being written (a signal right after its mkdir) leaves no folder behind', async () => {
  await ensureScratchRoot();
  for (let round = 0; round < 20; round++) {
    const name = `rd-stray-20261202000000-c${String(round).padStart(3, '0')}`;
    const dir = join(scratchFolders.copies(), name);
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const opening = {
      name,
      target: { kind: 'latest' },
      expiresAt: new Date(Date.now() + 600_000),
      connection: { database: 'postgres', user: 'postgres' },
      pgVersion: '15',
      backup: '/nonexistent',
      replayToEnd: true,
      baseBackup: { used: 'none', files: 'none', filesVerifiedBy: 'none', skipped: [] },
      replayEnd: {},
    } as unknown as CopyOpening;
    const opened = openCopy(opening).then(() => 'opened', (error: Error) => error.name);
    // The signal's cleanup comes as soon as the folder is there: before, during or after the marker's write.
    while (!existsSync(dir)) await new Promise((resolve) => setImmediate(resolve));
    const removal = await destroyCopy(name).then(() => 'removed', (error: Error) => `${error.name}: ${error.message}`);
    await opened;
    expect(removal).toBe('removed');
    expect(await exists(dir)).toBe(false);
  }
});
