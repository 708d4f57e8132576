import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import { ConfigError } from '../../lib/errors.ts';

// Issue 14, item 1 (its config-time part): copySettings keys were compared exactly but written
// verbatim, so `"hba_file "` or a key holding a newline passed the check. Keys are judged as
// Postgres reads them, at config time, naming the key.
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'copysettings-'));
  for (const folder of ['base', 'wal']) await mkdir(join(dir, folder));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function problemsOf(copySettings: Record<string, string>): Promise<string[]> {
  const error = await validateConfig({ databases: [{ name: 'app', provider: { kind: 'local', baseBackups: './base', walArchive: './wal', copySettings } }] }, dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return (error as Error).message.split('\n').slice(1).map((line) => line.replace(/^\s+- /, ''));
}

describe('copySettings keys', () => {
  test.each([
    ['hba_file ', 'databases[0].provider.copySettings["hba_file "]: "hba_file " is not a setting name as Postgres reads it (lowercase letters, digits and _, one . for an extension\'s setting): write "hba_file"'],
    ['work_mem\nhba_file', 'databases[0].provider.copySettings["work_mem\\nhba_file"]: "work_mem\\nhba_file" is not a setting name as Postgres reads it (lowercase letters, digits and _, one . for an extension\'s setting)'],
    ['Work_Mem', 'databases[0].provider.copySettings.Work_Mem: "Work_Mem" is not a setting name as Postgres reads it (lowercase letters, digits and _, one . for an extension\'s setting): write "work_mem"'],
    ['include', 'databases[0].provider.copySettings.include: include reads another file into the copy\'s configuration; copies take no settings from other files'],
    ['include_if_exists', 'databases[0].provider.copySettings.include_if_exists: include_if_exists reads another file into the copy\'s configuration; copies take no settings from other files'],
    ['include_dir', 'databases[0].provider.copySettings.include_dir: include_dir reads another file into the copy\'s configuration; copies take no settings from other files'],
  ])('%j is refused', async (key, problem) => {
    expect(await problemsOf({ [key]: 'x' })).toEqual([problem]);
  });

  test('a value holding a line break or a NUL is refused', async () => {
    expect(await problemsOf({ work_mem: "64MB'\nhba_file = '/tmp/evil_hba.conf" })).toEqual([
      'databases[0].provider.copySettings.work_mem: the value holds a line break or a NUL character, which would end the setting and start another',
    ]);
  });

  test('ordinary and extension settings pass', async () => {
    const config = await validateConfig({ databases: [{ name: 'app', provider: { kind: 'local', baseBackups: './base', walArchive: './wal', copySettings: { work_mem: '64MB', 'pg_stat_statements.max': '1000' } } }] }, dir);
    expect(config.databases[0]!.provider).toMatchObject({ copySettings: { work_mem: '64MB', 'pg_stat_statements.max': '1000' } });
  });
});
