import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgbr-config-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const withProvider = (provider: Record<string, unknown>) => ({ databases: [{ name: 'app', provider: { kind: 'pgbackrest', ...provider } }] });

test('a pgbackrest provider takes pgBackRest\'s own names, with defaults, and its config path relative to the file', async () => {
  const config = await validateConfig(withProvider({ stanza: 'main' }), dir);
  expect(config.databases[0]!.provider).toEqual({ kind: 'pgbackrest', stanza: 'main', repo: 1 });
  expect(config.databases[0]!.rpoTargetSeconds).toBeUndefined();
  await expect(validateConfig(withProvider({ stanza: 'main', config: 'pgbackrest.conf' }), dir)).rejects.toThrow(
    `databases[0].provider.config: file ${join(dir, 'pgbackrest.conf')} does not exist (pgBackRest's configuration file)`,
  );
});

test('every mistake of a pgbackrest provider is named at once, and a passphrase written into the file is refused', async () => {
  const error = await validateConfig(withProvider({ stanza: 'no spaces', repo: 0, repoCipherPass: 'hunter2-hunter2' }), dir).then(
    () => undefined,
    (caught: Error) => caught,
  );
  expect(error?.name).toBe('ConfigError');
  expect(error?.message).toContain('databases[0].provider.stanza');
  expect(error?.message).toContain('databases[0].provider.repo');
  expect(error?.message).toMatch(/databases\[0\]\.provider\.repoCipherPass: .*the passphrase is a secret, never in the config file/);
  expect(error?.message).not.toContain('hunter2-hunter2');
});
