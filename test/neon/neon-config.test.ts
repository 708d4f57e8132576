import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import { ConfigError } from '../../lib/errors.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rd-neon-config-'));
  await writeFile(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function problemsOf(provider: Record<string, unknown>): Promise<string[]> {
  const error = await validateConfig({ databases: [{ name: 'neon-cfg', provider }] }, dir).then(() => undefined, (e: unknown) => e);
  if (error === undefined) return [];
  expect(error).toBeInstanceOf(ConfigError);
  return (error as Error).message.split('\n').slice(1).map((line) => line.replace(/^\s+- /, ''));
}

describe('neon provider config', () => {
  test('the key from NEON_API_KEY by default, the default branch unless one is named, the CA file resolved from the config folder', async () => {
    const config = await validateConfig(
      {
        databases: [
          { name: 'neon-cfg', provider: { kind: 'neon', projectId: 'shiny-wind-028834' } },
          { name: 'neon-cfg2', provider: { kind: 'neon', projectId: 'shiny-wind-028834', branch: 'production', apiKey: { secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:neon-AbCdEf' }, apiBaseUrl: 'http://127.0.0.1:4520/api/v2', caFile: './ca.pem' } },
        ],
      },
      dir,
    );

    expect(config.databases[0]!.provider).toEqual({ kind: 'neon', projectId: 'shiny-wind-028834', apiKey: { env: 'NEON_API_KEY' } });
    expect(config.databases[1]!.provider).toMatchObject({ branch: 'production', apiKey: { secretArn: expect.stringContaining(':secret:neon-') }, caFile: join(dir, 'ca.pem') });
  });

  test('an API key written into the file is refused, saying where it belongs, and never echoed', async () => {
    const key = 'napi_1234567890abcdef';

    const problems = await problemsOf({ kind: 'neon', projectId: 'shiny-wind-028834', apiKey: key });

    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^databases\[0\]\.provider\.apiKey: .*\{ "env": "NEON_API_KEY" \}.*never in the config file/);
    expect(problems.join('\n')).not.toContain(key);
  });

  test('the checks role\'s password is a secret too: written into the file it is refused and never echoed; a copy compute below Neon\'s smallest or upside down is refused', async () => {
    const password = 'Ch3cks-in-the-file';

    const problems = await problemsOf({ kind: 'neon', projectId: 'shiny-wind-028834', password, copyCompute: { minCu: 2, maxCu: 1 } });
    const small = await problemsOf({ kind: 'neon', projectId: 'shiny-wind-028834', password: { secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:checks-AbCdEf' }, copyCompute: { minCu: 0.125, maxCu: 1 } });

    expect(problems).toEqual([
      expect.stringMatching(/^databases\[0\]\.provider\.password: expected \{ "env": "CHECKS_PASSWORD" \} or \{ "secretArn": .*never in the config file/),
      expect.stringMatching(/^databases\[0\]\.provider\.copyCompute: minCu must not exceed maxCu/),
    ]);
    expect(problems.join('\n')).not.toContain(password);
    expect(small).toEqual([expect.stringMatching(/^databases\[0\]\.provider\.copyCompute\.minCu: /)]);
  });

  test('every mistake at once: a bad project id and an unknown key', async () => {
    const problems = await problemsOf({ kind: 'neon', projectId: 'Shiny Wind', region: 'us-east-2' });

    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^databases\[0\]\.provider\.projectId: expected a Neon project id/),
        expect.stringMatching(/^databases\[0\]\.provider\.region: unknown key/),
      ]),
    );
  });
});
