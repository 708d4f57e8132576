import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { packDeployment, unpackDeployment } from '../../lib/config/deployment.ts';
import { configSchema, type RestoreDrillConfig } from '../../lib/config/schema.ts';
import { readRepoMigrations, type RepoMigrations } from '../../lib/checks/ledger.ts';
import { COPY_SECURITY_GROUPS_ENV, COPY_SUBNET_GROUP_ENV, deployedConfig } from '../../lib/drill/lambdaDependencies.ts';
import { repoRoot } from '../support/cli.ts';

const v0 = join(repoRoot, 'test/fixtures/drizzle/v0/migrations');
const v1 = join(repoRoot, 'test/fixtures/drizzle/v1/migrations');
const roots: string[] = [await mkdtemp(join(tmpdir(), 'rd-deployment-ca-'))];
const caFile = join(roots[0]!, 'ca.pem');
await writeFile(caFile, '-----BEGIN CERTIFICATE-----\nnot a real one\r\n-----END CERTIFICATE-----\n');
afterAll(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

/** What the ledger compares: layout, tags, times and hashes (the files' paths differ by design). */
function withoutPaths(repo: RepoMigrations) {
  return repo.ok ? { layout: repo.layout, migrations: repo.migrations.map(({ file: _file, ...rest }) => rest) } : repo;
}

function config(): RestoreDrillConfig {
  const aws = { region: 'eu-west-1', instanceClass: 'db.t4g.medium', credentials: { iam: true } };
  return configSchema.parse({
    databases: [
      { name: 'orders', provider: { kind: 'rds', instanceId: 'orders-prod', ...aws, caFile }, checks: { ledger: { migrationsFolder: v0 } } },
      { name: 'billing', provider: { kind: 'aurora', clusterId: 'billing-prod', ...aws, subnetGroup: 'their-own', securityGroupIds: ['sg-0their0own'] }, checks: { ledger: { migrationsFolder: v1 } } },
      { name: 'analytics', provider: { kind: 'neon', projectId: 'shiny-wind-028834', apiKey: { secretArn: 'arn:aws:secretsmanager:eu-west-1:1:secret:k' } } },
    ],
  });
}

describe('the config as deployed', () => {
  test('unpacked in the function, the ledger reads the same migrations (both layouts) and the CA file is the same text', async () => {
    const root = await mkdtemp(join(tmpdir(), 'rd-deployment-'));
    roots.push(root);
    const unpacked = unpackDeployment(JSON.parse(JSON.stringify(packDeployment(config(), { withMigrations: true }))), root);

    for (const [index, original] of [v0, v1].entries()) {
      const folder = unpacked.databases[index]!.checks.ledger!.migrationsFolder;
      expect(folder.startsWith(root)).toBe(true);
      expect(withoutPaths(await readRepoMigrations(folder))).toEqual(withoutPaths(await readRepoMigrations(original)));
    }
    const provider = unpacked.databases[0]!.provider as { caFile: string };
    expect(provider.caFile.startsWith(root)).toBe(true);
    expect(await readFile(provider.caFile, 'utf8')).toBe(await readFile(caFile, 'utf8'));
  });

  test('without the migrations: the config and the CA file only', () => {
    const packed = packDeployment(config(), { withMigrations: false });
    expect(Object.keys(packed.files)).toEqual(['orders/ca.pem']);
    expect(packed.config.databases[0]!.checks.ledger!.migrationsFolder).toBe('orders/migrations');
    // No path of the deployer's machine: the same config bundles the same everywhere.
    expect(JSON.stringify(packed)).not.toContain(repoRoot);
    expect(JSON.stringify(packed)).not.toContain(roots[0]!);
  });

  test('the stack\'s subnet group and security group go to RDS and Aurora databases that name none', () => {
    const env = { [COPY_SUBNET_GROUP_ENV]: 'stack-subnets', [COPY_SECURITY_GROUPS_ENV]: 'sg-0stack' };
    const bundle = packDeployment(config(), { withMigrations: false });
    const databases = deployedConfig(env, bundle).databases;
    expect(databases[0]!.provider).toMatchObject({ subnetGroup: 'stack-subnets', securityGroupIds: ['sg-0stack'] });
    expect(databases[1]!.provider).toMatchObject({ subnetGroup: 'their-own', securityGroupIds: ['sg-0their0own'] });
    expect(databases[2]!.provider).not.toHaveProperty('subnetGroup');
  });

  test('a function bundled without its config says how it must be deployed', () => {
    expect(() => deployedConfig({})).toThrow(/bundled without its config: deploy it with the RestoreDrill construct/);
  });
});
