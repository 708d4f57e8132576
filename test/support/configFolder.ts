import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import { ConfigError } from '../../lib/errors.ts';

/** A local provider whose folders `useConfigFolder` makes. */
export const localProvider = { kind: 'local', baseBackups: './base', walArchive: './wal' };

/**
 * A throwaway folder for config files (with base/, wal/ and drizzle/ in it) for one test file, and
 * the problems validateConfig reports for a config read there, one per line.
 */
export function useConfigFolder(prefix: string) {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
    for (const folder of ['base', 'wal', 'drizzle']) await mkdir(join(dir, folder));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  return {
    dir: () => dir,
    async problemsOf(value: unknown): Promise<string[]> {
      const error = await validateConfig(value, dir).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message.split('\n').slice(1).map((line) => line.replace(/^\s+- /, ''));
    },
  };
}
