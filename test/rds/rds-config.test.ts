import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import { ConfigError } from '../../lib/errors.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rd-rds-config-'));
  await writeFile(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const rds = {
  kind: 'rds',
  instanceId: 'app-prod',
  region: 'eu-west-1',
  subnetGroup: 'drill-subnets',
  securityGroupIds: ['sg-0123abcd'],
  instanceClass: 'db.t4g.medium',
  credentials: { secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-prod-AbCdEf' },
};

async function problemsOf(provider: Record<string, unknown>): Promise<string[]> {
  const error = await validateConfig({ databases: [{ name: 'app', provider }] }, dir).then(() => undefined, (e: unknown) => e);
  if (error === undefined) return [];
  expect(error).toBeInstanceOf(ConfigError);
  return (error as Error).message.split('\n').slice(1).map((line) => line.replace(/^\s+- /, ''));
}

describe('rds and aurora provider config', () => {
  test('an RDS instance and an Aurora cluster, with a secret or IAM auth, and the CA file resolved from the config folder', async () => {
    const { instanceId: _i, ...withoutInstance } = rds;
    const config = await validateConfig(
      {
        databases: [
          { name: 'app', provider: { ...rds, caFile: './ca.pem', endpoint: 'http://127.0.0.1:4510' } },
          { name: 'ledger', provider: { ...withoutInstance, kind: 'aurora', clusterId: 'ledger-prod', credentials: { iam: true } } },
        ],
      },
      dir,
    );

    expect(config.databases[0]!.provider).toMatchObject({ kind: 'rds', caFile: join(dir, 'ca.pem'), endpoint: 'http://127.0.0.1:4510' });
    expect(config.databases[1]!.provider).toMatchObject({ kind: 'aurora', clusterId: 'ledger-prod', credentials: { iam: true } });
  });

  test('subnetGroup and securityGroupIds may be left to the deployed stack', async () => {
    const { subnetGroup: _s, securityGroupIds: _g, ...rest } = rds;
    expect(await problemsOf(rest)).toEqual([]);
  });

  test('every mistake at once, each with its path', async () => {
    const problems = await problemsOf({
      ...rds,
      region: 'Ireland',
      securityGroupIds: ['default'],
      instanceClass: 't4g.medium',
      credentials: { secretArn: 'arn:x', iam: true },
      caFile: './missing.pem',
      publiclyAccessible: true,
    });

    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^databases\[0\]\.provider\.region: expected an AWS region such as eu-west-1/),
        expect.stringMatching(/^databases\[0\]\.provider\.securityGroupIds\[0\]: expected a security group id/),
        expect.stringMatching(/^databases\[0\]\.provider\.instanceClass: expected an instance class such as db\.t4g\.medium/),
        expect.stringMatching(/^databases\[0\]\.provider\.credentials/),
        expect.stringMatching(/^databases\[0\]\.provider\.publiclyAccessible: unknown key/),
      ]),
    );
  });

  test('a CA file that does not exist is named', async () => {
    expect(await problemsOf({ ...rds, caFile: './missing.pem' })).toEqual([`databases[0].provider.caFile: file ${join(dir, 'missing.pem')} does not exist`]);
  });

  test("a source named with the copies' rd- prefix is refused: the stack may tag and delete rd-* resources", async () => {
    const { instanceId: _i, ...rest } = rds;
    expect(await problemsOf({ ...rds, instanceId: 'rd-orders-prod' })).toEqual([expect.stringMatching(/^databases\[0\]\.provider\.instanceId: a source named rd-\.\.\. is refused/)]);
    expect(await problemsOf({ ...rest, kind: 'aurora', clusterId: 'RD-billing' })).toEqual([expect.stringMatching(/^databases\[0\]\.provider\.clusterId: a source named rd-\.\.\. is refused/)]);
  });

  test('an Aurora provider needs its clusterId', async () => {
    const { instanceId: _i, ...rest } = rds;
    expect(await problemsOf({ ...rest, kind: 'aurora' })).toEqual(['databases[0].provider.clusterId: required']);
  });
});
