import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import type { RestoreDrillConfig } from '../../lib/config/schema.ts';
import { runDrill } from '../../lib/drill/drill.ts';
import { exitCodeOf } from '../../lib/drill/outcome.ts';
import { NotOurCopyError } from '../../lib/errors.ts';
import { providerFor } from '../../lib/providers/index.ts';
import type { AuroraCopyHandle } from '../../lib/providers/rds/index.ts';
import type { RestoreProvider } from '../../lib/providers/types.ts';
import { databaseConfig, rdsWorld, SOURCE_PASSWORD, useFakeAwsCredentials, useOwnScratch, type RdsWorld } from '../emulators/rds/world.ts';
import { removeWorldCheckingSource } from '../emulators/rds/teardown.ts';

// The emulator's copies live in a scratch root of this file's own (see useOwnScratch).
useOwnScratch('aurora-cluster-test');
useFakeAwsCredentials();

let world: RdsWorld;

beforeAll(async () => {
  // Clusters and their instances spend a moment in `creating` and `deleting`, as in AWS.
  world = await rdsWorld({ delays: { createMs: 150, deleteMs: 150 } });
});

afterAll(() => removeWorldCheckingSource(world));

async function configWith(overrides: Record<string, unknown> = {}): Promise<RestoreDrillConfig> {
  return validateConfig({ rpoTargetSeconds: 3600, rtoTargetSeconds: 600, databases: [databaseConfig(world, 'aurora', overrides)] }, world.project);
}

async function drill(config: RestoreDrillConfig, target?: string) {
  const database = config.databases[0]!;
  return runDrill(config, database, providerFor(database, { aws: { removalRetryMs: 20, removalWaitMs: 5_000 } }), { trigger: 'cli', target, pollIntervalMs: 20 });
}

function paramsNaming(name: string, action: string) {
  return world.emulator.calls(action).filter((call) => Object.values(call.params).some((value) => value.startsWith(name)));
}

describe('a drill of an Aurora cluster through the real SDK', () => {
  test('restores the cluster (full copy), adds an instance, passes the checks, removes instance and cluster', async () => {
    const config = await configWith();

    const { report } = await drill(config);

    expect(report.error, JSON.stringify(report.error)).toBeUndefined();
    expect(report).toMatchObject({ provider: 'aurora', status: 'passed', copy: { removed: true, kept: false } });
    expect(report.checks.map((check) => [check.check, check.status])).toEqual([
      ['connection', 'pass'],
      ['ledger', 'pass'],
      ['rowCounts', 'pass'],
      ['freshness', 'pass'],
    ]);
    const name = report.copy.name!;
    const [restore] = paramsNaming(name, 'RestoreDBClusterToPointInTime');
    expect(restore!.params).toMatchObject({
      SourceDBClusterIdentifier: 'app-aurora',
      DBClusterIdentifier: name,
      RestoreType: 'full-copy',
      UseLatestRestorableTime: 'true',
      DBSubnetGroupName: 'drill-subnets',
      'VpcSecurityGroupIds.VpcSecurityGroupId.1': 'sg-0drill000000000001',
      'VpcSecurityGroupIds.VpcSecurityGroupId.2': 'sg-0drill000000000002',
      DeletionProtection: 'false',
      'Tags.Tag.1.Key': 'restore-drill:managed',
      'Tags.Tag.1.Value': 'true',
      'Tags.Tag.2.Key': 'restore-drill:expires-at',
    });
    const created = paramsNaming(name, 'CreateDBInstance');
    expect(created).toHaveLength(1);
    expect(created[0]!.params).toMatchObject({
      DBInstanceIdentifier: `${name}-i1`,
      DBClusterIdentifier: name,
      DBInstanceClass: 'db.t4g.medium',
      Engine: 'aurora-postgresql',
      PubliclyAccessible: 'false',
      'Tags.Tag.1.Key': 'restore-drill:managed',
    });
    // The instance goes first; the cluster follows once RDS allows it, both without final snapshots.
    const deletes = world.emulator.requests.filter((r) => /^Delete/.test(r.action) && Object.values(r.params).some((v) => v.startsWith(name)));
    expect(deletes.map((r) => [r.action, r.error ?? 'ok'])).toEqual([
      ['DeleteDBInstance', 'ok'],
      ['DeleteDBCluster', 'ok'],
    ]);
    expect(deletes[1]!.params).toMatchObject({ SkipFinalSnapshot: 'true', DeleteAutomatedBackups: 'true' });
    await world.emulator.gone(`${name}-i1`);
    await world.emulator.gone(name);
    expect(JSON.stringify(report)).not.toContain(SOURCE_PASSWORD);
  });

  test('a cluster restore that ends inaccessible-encryption-credentials (a cluster status) fails the drill (exit 1); no instance is added; the cluster is removed', async () => {
    world.emulator.faults.nextRestore = 'inaccessible-encryption-credentials';

    const { report } = await drill(await configWith());

    expect(report.status).toBe('failed');
    expect(exitCodeOf([report])).toBe(1);
    expect(report.error!.message).toMatch(/DB cluster rd-app-\S+ ended in status inaccessible-encryption-credentials: RDS cannot use the KMS key/);
    expect(paramsNaming(report.copy.name!, 'CreateDBInstance')).toEqual([]);
    expect(report.copy.removed).toBe(true);
    await world.emulator.gone(report.copy.name!);
  });

  test('a cluster restore that never finishes times out (exit 1) and the cluster is removed', async () => {
    world.emulator.faults.nextRestore = 'never';

    const { report } = await drill(await configWith({ restoreTimeoutSeconds: 1 }));

    expect(report.status).toBe('failed');
    expect(exitCodeOf([report])).toBe(1);
    expect(report.error).toMatchObject({ step: 'wait', kind: 'backup' });
    expect(report.copy.removed).toBe(true);
    await world.emulator.gone(report.copy.name!);
  });

  test('a target outside the window creates nothing (exit 2)', async () => {
    const before = world.emulator.calls('RestoreDBClusterToPointInTime').length;

    const { report } = await drill(await configWith(), '2001-01-01T00:00:00Z');

    expect(exitCodeOf([report])).toBe(2);
    expect(report.error).toMatchObject({ step: 'plan', kind: 'input' });
    expect(world.emulator.calls('RestoreDBClusterToPointInTime')).toHaveLength(before);
  });

  test('the source cluster deleted with its automated backups retained: window and restore come from the backups (SourceDbClusterResourceId)', async () => {
    const saved = world.emulator.clusters.get('app-aurora')!;
    world.emulator.deleteSourceClusterKeepingBackups('app-aurora');
    try {
      const { report } = await drill(await configWith());

      expect(report.error, JSON.stringify(report.error)).toBeUndefined();
      expect(report.status).toBe('passed');
      const [restore] = paramsNaming(report.copy.name!, 'RestoreDBClusterToPointInTime');
      expect(restore!.params.SourceDbClusterResourceId).toBe(saved.resourceId);
      expect(restore!.params.SourceDBClusterIdentifier).toBeUndefined();
      await world.emulator.gone(report.copy.name!);
    } finally {
      world.emulator.clusters.set('app-aurora', saved);
    }
  });

  test('a cluster without our tag is refused and not deleted', async () => {
    const id = 'rd-app-20200101000000-cl01';
    const record = world.emulator.addSourceCluster({ id, source: { baseBackups: world.source.backupsDir, walArchive: world.source.archiveDir }, engineVersion: '15' });
    const provider = providerFor((await configWith()).databases[0]!) as RestoreProvider<AuroraCopyHandle>;

    await expect(provider.destroy({ provider: 'aurora', name: id, clusterId: id, instanceId: `${id}-i1` } as AuroraCopyHandle)).rejects.toThrow(NotOurCopyError);

    expect(world.emulator.calls('DeleteDBCluster').filter((c) => c.params.DBClusterIdentifier === id)).toEqual([]);
    expect(record.status).toBe('available');
    world.emulator.clusters.delete(id);
  });
});
