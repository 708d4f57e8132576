import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { validateConfig } from '../../lib/config/load.ts';
import type { RestoreDrillConfig } from '../../lib/config/schema.ts';
import { repoRoot } from './cli.ts';

export const cloudExampleDir = join(repoRoot, 'examples', 'cloud');

/** examples/cloud as a user copies it: the validated config and the cloud settings (cloud.json). */
export async function loadCloudExample(): Promise<{ config: RestoreDrillConfig; settings: Record<string, unknown> }> {
  const read = async (file: string) => JSON.parse(await readFile(join(cloudExampleDir, file), 'utf8')) as Record<string, unknown>;
  return { config: await validateConfig(await read('restore-drill.config.json'), cloudExampleDir), settings: await read('cloud.json') };
}
