import { RDSClient } from '@aws-sdk/client-rds';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import type { RestoreDrillConfig } from '../../lib/config/schema.ts';
import { runDrill } from '../../lib/drill/drill.ts';
import { ConfigError } from '../../lib/errors.ts';
import { providerFor, type ProviderOptions } from '../../lib/providers/index.ts';
import type { AuroraCopyHandle, RdsCopyHandle } from '../../lib/providers/rds/index.ts';
import type { ConnectionInfo, RestoreProvider } from '../../lib/providers/types.ts';
import { newClient } from '../../lib/util/pgClient.ts';
import { CLUSTER_LIFECYCLES, INSTANCE_LIFECYCLES, lastUpload } from '../emulators/rds/behaviour.ts';
import { databaseConfig, rdsWorld, SOURCE_PASSWORD, useFakeAwsCredentials, useOwnScratch, type RdsWorld } from '../emulators/rds/world.ts';
import { removeWorldCheckingSource } from '../emulators/rds/teardown.ts';
import { IamAuthority } from '../support/iam/authority.ts';
import { administratorPrincipal, CLI_ACCOUNT_ID, cliPrincipal } from '../support/iam/cli.ts';
import type { PolicyStatement } from '../support/iam/types.ts';

// RDS and Aurora as they behave in production (issue 12): each behaviour is the emulator's, seeded;
// each test failed on the provider before the fix it names.
useOwnScratch('rds-production-test');
useFakeAwsCredentials();

const KMS_KEY = `arn:aws:kms:us-east-1:${CLI_ACCOUNT_ID}:key/0c4b6a5e-1f2d-4c3b-9a8e-7d6c5b4a3f21`;
const CHECKS_PASSWORD = 'checks-0nly-never-rotates';
let world: RdsWorld;
let checksSecret: string;
let rotatingSecret: string;

/** The CLI's least-privilege policy, plus what this file's extra sources need (and KMS, when asked). */
function authority(options: { kms?: boolean } = {}): IamAuthority {
  const cli = cliPrincipal();
  const extra: PolicyStatement[] = [
    {
      Effect: 'Allow',
      Action: ['rds:RestoreDBInstanceToPointInTime'],
      Resource: [`arn:aws:rds:*:${CLI_ACCOUNT_ID}:db:app-*`, `arn:aws:rds:*:${CLI_ACCOUNT_ID}:pg:drill-*`],
    },
    { Effect: 'Allow', Action: ['rds:RestoreDBClusterToPointInTime'], Resource: [`arn:aws:rds:*:${CLI_ACCOUNT_ID}:cluster:app-*`, `arn:aws:rds:*:${CLI_ACCOUNT_ID}:cluster-pg:drill-*`] },
    { Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: [`arn:aws:secretsmanager:*:${CLI_ACCOUNT_ID}:secret:app-prod/*`] },
  ];
  if (options.kms) {
    extra.push({
      Effect: 'Allow',
      Action: ['kms:CreateGrant', 'kms:DescribeKey'],
      Resource: [KMS_KEY],
      Condition: { StringEquals: { 'kms:ViaService': 'rds.us-east-1.amazonaws.com' } },
    });
  }
  return new IamAuthority([{ ...cli, identityPolicies: [...cli.identityPolicies, { Version: '2012-10-17', Statement: extra }] }, administratorPrincipal()]);
}

beforeAll(async () => {
  world = await rdsWorld({ iam: authority() });
  // A checks user made in the source before the copies' target: its password never rotates.
  const client = newClient(world.source.clientConfig());
  await client.connect();
  try {
    await client.query(`create role drill_checks login password '${CHECKS_PASSWORD}'`);
    await client.query('grant select on all tables in schema public to drill_checks');
    await client.query('grant usage on schema drizzle to drill_checks');
    await client.query('grant select on all tables in schema drizzle to drill_checks');
  } finally {
    await client.end();
  }
  await world.source.switchWal();
  const local = { baseBackups: world.source.backupsDir, walArchive: world.source.archiveDir };
  const engineVersion = world.source.binaries.version;
  world.emulator.addSourceInstance({ id: 'app-enc', source: local, engineVersion, kmsKeyId: KMS_KEY });
  world.emulator.addSourceInstance({ id: 'app-nobackups', source: local, engineVersion, backupRetentionPeriod: 0 });
  world.emulator.addSourceInstance({ id: 'app-gone', source: local, engineVersion });
  world.emulator.addSourceCluster({ id: 'app-serverless', source: local, engineVersion, serverlessV2: { min: 0.5, max: 4 } });
  world.emulator.parameterGroups.db.add('drill-postgres15');
  world.emulator.parameterGroups.cluster.add('drill-aurora15');
  checksSecret = world.emulator.addSecret('app-prod/checks', { username: 'drill_checks', password: CHECKS_PASSWORD });
  rotatingSecret = world.emulator.addSecret('app-prod/master-rotating', { username: 'postgres', password: SOURCE_PASSWORD });
}, 120_000);

afterAll(() => removeWorldCheckingSource(world));

const fast: ProviderOptions = { aws: { removalRetryMs: 20, removalWaitMs: 5_000, readyConfirmations: 3, readyConfirmIntervalMs: 150, notFoundGraceMs: 30_000 } };

async function configWith(kind: 'rds' | 'aurora', overrides: Record<string, unknown> = {}, top: Record<string, unknown> = { rpoTargetSeconds: 3600 }): Promise<RestoreDrillConfig> {
  return validateConfig({ rtoTargetSeconds: 600, restoreTimeoutSeconds: 20, databases: [databaseConfig(world, kind, overrides)], ...top }, world.project);
}

function providerOverride(kind: 'rds' | 'aurora', provider: Record<string, unknown>): Record<string, unknown> {
  return { provider: { ...(databaseConfig(world, kind).provider as Record<string, unknown>), ...provider } };
}

async function drill(config: RestoreDrillConfig, options: { now?: () => Date; provider?: ProviderOptions } = {}) {
  const database = config.databases[0]!;
  return runDrill(config, database, providerFor(database, options.provider ?? fast), { trigger: 'cli', pollIntervalMs: 20, ...(options.now ? { now: options.now } : {}) });
}

/** Runs with the emulator's behaviour changed, and puts it back. */
async function withBehaviour<T>(change: Partial<RdsWorld['emulator']['behaviour']>, act: () => Promise<T>): Promise<T> {
  const saved = { ...world.emulator.behaviour };
  Object.assign(world.emulator.behaviour, change);
  try {
    return await act();
  } finally {
    for (const key of Object.keys(world.emulator.behaviour)) delete (world.emulator.behaviour as Record<string, unknown>)[key];
    Object.assign(world.emulator.behaviour, saved);
  }
}

async function goneAfter(report: { copy: { name: string | null } }, kind: 'rds' | 'aurora'): Promise<void> {
  const name = report.copy.name!;
  if (kind === 'aurora') await world.emulator.gone(`${name}-i1`);
  await world.emulator.gone(name);
}

describe('1. the latest restorable time lags', () => {
  test('logs uploaded every 5 minutes (up to 60 s late): a healthy source 330 s behind passes on the default RPO target, and the claimed RPO says the lag', async () => {
    // Prepare: the world 15 minutes on (the source idle since), at a moment the last upload is ~330 s old.
    const uploads = { everyMs: 300_000, jitterMs: 60_000 };
    const base = Date.now() + 15 * 60_000;
    let offset = 0;
    while (base + offset - lastUpload(new Date(base + offset), 1, uploads).getTime() < 330_000) offset += 1_000;
    const shift = base + offset - Date.now();
    const now = () => new Date(Date.now() + shift);

    // Act
    // The world's source is idle since its last write (15 minutes, in this clock): the freshness check
    // would measure that idleness, not RDS's lag, so this drill runs the other checks.
    const checks = { ledger: { migrationsFolder: `${world.project}/drizzle` }, rowCounts: [{ table: 'users', min: 3 }] };
    const { report } = await withBehaviour({ clock: now, logUploads: uploads }, async () => drill(await configWith('rds', { checks }, {}), { now }));

    // Assess: the lag is RDS's, not the source's; the default target for RDS allows it.
    expect(report.rpo.claimedSeconds).toBeGreaterThanOrEqual(325);
    expect(report.rpo.claimedSeconds).toBeLessThan(360);
    expect(report.rpo.targetSeconds).toBe(900);
    expect(report.error, JSON.stringify(report.error)).toBeUndefined();
    expect(report.status).toBe('passed');
    await goneAfter(report, 'rds');
  });

  test('the per-provider default does not override a target the config sets (top level or per database)', async () => {
    const top = await configWith('rds', {}, { rpoTargetSeconds: 120 });
    const own = await configWith('aurora', { rpoTargetSeconds: 60 }, {});
    const auroraDefault = await configWith('aurora', {}, {});

    expect(top.databases[0]!.rpoTargetSeconds ?? top.rpoTargetSeconds).toBe(120);
    expect(own.databases[0]!.rpoTargetSeconds).toBe(60);
    expect(auroraDefault.databases[0]!.rpoTargetSeconds).toBe(600);
  });
});

describe('2. readiness from more than one sample', () => {
  test('a copy that flaps to rebooting right after its first available (its sessions cut, connections refused) is ready only once it stays available, and then accepts the checks', async () => {
    const config = await configWith('rds');
    const provider = providerFor(config.databases[0]!, fast) as RestoreProvider<RdsCopyHandle>;

    const { handle, poll, readyAt } = await withBehaviour({ instanceLifecycles: [INSTANCE_LIFECYCLES.flapAfterAvailable!] }, async () => {
      const started = await provider.start({ target: { kind: 'latest' }, copyName: 'rd-app-20261201000000-flp1', expiresAt: new Date(Date.now() + 3_600_000) });
      for (;;) {
        const result = await provider.poll(started);
        if (result.state !== 'pending') return { handle: started, poll: result, readyAt: Date.now() };
        await delay(20);
      }
    });

    // Assess: available 100 ms, rebooting 1.5 s, then available for good: ready only after the reboot.
    expect(poll.state).toBe('ready');
    const lifecycle = world.emulator.instances.get(handle.instanceId)!.lifecycle!;
    expect(readyAt).toBeGreaterThanOrEqual(lifecycle.from + 1_600);
    const connection = (poll as { connection: ConnectionInfo }).connection;
    const secrets = await provider.connectionSecrets!(connection);
    const client = newClient({ host: connection.host, port: connection.port, database: connection.database, user: secrets.user!, password: secrets.password!, ssl: { ca: secrets.ca!, rejectUnauthorized: true } });
    await client.connect();
    await client.end();
    await provider.destroy(handle);
    await world.emulator.gone(handle.instanceId);
  });

  test('storage-optimization is usable (it can last hours): the copy is ready in it', async () => {
    const { report } = await withBehaviour({ instanceLifecycles: [INSTANCE_LIFECYCLES.storageOptimization!] }, async () => drill(await configWith('rds')));

    expect(report.error, JSON.stringify(report.error)).toBeUndefined();
    expect(report.status).toBe('passed');
    await goneAfter(report, 'rds');
  });

  test('NotFound right after the create (eventual consistency) is pending, not "disappeared": RDS instance and Aurora cluster with its instance', async () => {
    const [instance, cluster] = await withBehaviour({ notFoundAfterCreate: 3 }, async () => [await drill(await configWith('rds')), await drill(await configWith('aurora'))]);

    for (const { report } of [instance!, cluster!]) {
      expect(report.error, JSON.stringify(report.error)).toBeUndefined();
      expect(report.status).toBe('passed');
    }
    // Poll found the cluster's instance missing after it had asked for it: a second CreateDBInstance was answered DBInstanceAlreadyExists, and waited on.
    const creates = world.emulator.calls('CreateDBInstance').filter((call) => call.params.DBClusterIdentifier === cluster!.report.copy.name);
    expect(creates.map((call) => call.error ?? 'ok')).toContain('DBInstanceAlreadyExists');
    await goneAfter(instance!.report, 'rds');
    await goneAfter(cluster!.report, 'aurora');
  });

  test('every seeded lifecycle shape (backing-up, configuring-*, flaps, storage-optimization) ends in a passed drill', async () => {
    const reports = await withBehaviour({ instanceLifecycles: Object.values(INSTANCE_LIFECYCLES), clusterLifecycles: Object.values(CLUSTER_LIFECYCLES), seed: 7 }, async () => {
      const done = [];
      for (const kind of ['rds', 'rds', 'rds', 'aurora', 'aurora'] as const) done.push({ kind, report: (await drill(await configWith(kind))).report });
      return done;
    });

    for (const { kind, report } of reports) {
      expect(report.error, `${kind}: ${JSON.stringify(report.error)}`).toBeUndefined();
      expect(report.status).toBe('passed');
      await goneAfter(report, kind);
    }
  });
});

describe('3. cluster statuses are not instance statuses', () => {
  test('an Aurora restore that ends migration-failed fails fast, naming the status', async () => {
    world.emulator.faults.nextRestore = 'migration-failed';

    const { report } = await drill(await configWith('aurora', { restoreTimeoutSeconds: 10 }));

    expect(report.status).toBe('failed');
    expect(report.error!.message).toMatch(/DB cluster rd-app-\S+ ended in status migration-failed/);
    expect(report.rto.totalSeconds ?? 0).toBeLessThan(10);
    await goneAfter(report, 'aurora');
  });
});

describe('4. KMS', () => {
  test('an encrypted source\'s restore without kms:CreateGrant/DescribeKey through RDS is KMSKeyNotAccessibleFault: an input error naming the key and the grant', async () => {
    const config = await configWith('rds', providerOverride('rds', { instanceId: 'app-enc', kmsKeyId: KMS_KEY }));

    const { report } = await drill(config);

    expect(report.status).toBe('error');
    expect(report.error).toMatchObject({ step: 'restore', kind: 'input', name: 'AwsApiError' });
    expect(report.error!.message).toContain(KMS_KEY);
    expect(report.error!.message).toMatch(/kms:CreateGrant.*kms:DescribeKey.*kms:ViaService/);
    expect(report.copy.made).toBe(false);
  });

  test('with the grant (kms:ViaService rds.<region>.amazonaws.com) the encrypted source restores and passes', async () => {
    world.emulator.iam = authority({ kms: true });
    try {
      const { report } = await drill(await configWith('rds', providerOverride('rds', { instanceId: 'app-enc', kmsKeyId: KMS_KEY })));

      expect(report.error, JSON.stringify(report.error)).toBeUndefined();
      expect(report.status).toBe('passed');
      await goneAfter(report, 'rds');
    } finally {
      world.emulator.iam = authority();
    }
  });

  test('the config\'s key must be the source\'s: another key is refused at plan, naming both', async () => {
    const other = KMS_KEY.replace(/.{4}$/, 'ffff');

    const { report } = await drill(await configWith('rds', providerOverride('rds', { instanceId: 'app-enc', kmsKeyId: other })));

    expect(report.error).toMatchObject({ step: 'plan', kind: 'input' });
    expect(report.error!.message).toContain(other);
    expect(report.error!.message).toContain(KMS_KEY);
  });
});

describe('5. idempotence', () => {
  test('two destroys of one copy at once both succeed (the second finds it deleting, then gone)', async () => {
    const config = await configWith('rds');
    const database = config.databases[0]!;
    const provider = providerFor(database, fast) as RestoreProvider<RdsCopyHandle>;
    const handle = await provider.start({ target: { kind: 'latest' }, copyName: 'rd-app-20261201000000-dup1', expiresAt: new Date(Date.now() + 3_600_000) });
    while ((await provider.poll(handle)).state === 'pending');
    world.emulator.delays.deleteMs = 300;
    try {
      await expect(Promise.all([provider.destroy(handle), provider.destroy(handle)])).resolves.toBeDefined();
      await world.emulator.gone(handle.instanceId);
      // Once gone, destroying again is nothing to do.
      await expect(provider.destroy(handle)).resolves.toBeUndefined();
    } finally {
      world.emulator.delays.deleteMs = 0;
    }
  });

  test('an Aurora member\'s delete refused with InvalidDBClusterStateFault is retried, and the copy removed', async () => {
    world.emulator.faults.refuseMemberDeletes = 2;

    const { report } = await drill(await configWith('aurora'));

    expect(report.status).toBe('passed');
    expect(report.copy).toMatchObject({ removed: true });
    await goneAfter(report, 'aurora');
  });

  test('the SDK retries a restore answered 500 after RDS made the copy: the retry finds our copy and goes on with it', async () => {
    for (const kind of ['rds', 'aurora'] as const) {
      world.emulator.faults.failAfterCreate = 1;

      const { report } = await drill(await configWith(kind));

      expect(report.error, `${kind}: ${JSON.stringify(report.error)}`).toBeUndefined();
      expect(report.status).toBe('passed');
      const action = kind === 'rds' ? 'RestoreDBInstanceToPointInTime' : 'RestoreDBClusterToPointInTime';
      const key = kind === 'rds' ? 'TargetDBInstanceIdentifier' : 'DBClusterIdentifier';
      expect(world.emulator.calls(action).filter((call) => call.params[key] === report.copy.name).map((call) => call.error ?? 'ok')).toEqual([
        'InternalFailure',
        kind === 'rds' ? 'DBInstanceAlreadyExists' : 'DBClusterAlreadyExistsFault',
      ]);
      await goneAfter(report, kind);
    }
  });

  test('a copy name taken by something that is not ours is not taken over', async () => {
    world.emulator.addOtherInstance({ id: 'rd-app-20261201000000-taken' });
    const provider = providerFor((await configWith('rds')).databases[0]!, fast) as RestoreProvider<RdsCopyHandle>;

    const error = await provider.start({ target: { kind: 'latest' }, copyName: 'rd-app-20261201000000-taken', expiresAt: new Date() }).catch((e: unknown) => e);

    expect(error).toMatchObject({ name: 'AwsApiError', code: 'DBInstanceAlreadyExists', kind: 'tool' });
    expect((error as Error).message).toMatch(/already exists and is not a copy of this drill/);
    expect(world.emulator.instances.get('rd-app-20261201000000-taken')?.status).toBe('available');
    world.emulator.instances.delete('rd-app-20261201000000-taken');
  });
});

describe('6. errors a user can act on', () => {
  const cases: { name: string; kind: 'rds' | 'aurora'; arrange: () => () => void; code: string; errorKind: 'input' | 'tool'; says: RegExp }[] = [
    { name: 'no capacity for the instance class', kind: 'rds', arrange: () => (world.emulator.faults.noCapacity.add('db.t4g.medium'), () => world.emulator.faults.noCapacity.clear()), code: 'InsufficientDBInstanceCapacity', errorKind: 'tool', says: /capacity.*db\.t4g\.medium.*provider\.instanceClass/ },
    { name: 'no capacity for the cluster', kind: 'aurora', arrange: () => (world.emulator.faults.noCapacity.add('cluster'), () => world.emulator.faults.noCapacity.clear()), code: 'InsufficientDBClusterCapacityFault', errorKind: 'tool', says: /capacity.*try again later/ },
    { name: 'the instance quota', kind: 'rds', arrange: () => ((world.emulator.quotas.instances = world.emulator.instances.size), () => delete world.emulator.quotas.instances), code: 'InstanceQuotaExceeded', errorKind: 'input', says: /quota.*janitor.*Service Quotas/ },
    { name: 'the storage quota', kind: 'rds', arrange: () => ((world.emulator.quotas.storageGb = 20), () => delete world.emulator.quotas.storageGb), code: 'StorageQuotaExceeded', errorKind: 'input', says: /storage quota.*Service Quotas/ },
    { name: 'the cluster quota', kind: 'aurora', arrange: () => ((world.emulator.quotas.clusters = world.emulator.clusters.size), () => delete world.emulator.quotas.clusters), code: 'DBClusterQuotaExceededFault', errorKind: 'input', says: /quota.*Service Quotas/ },
  ];
  for (const { name, kind, arrange, code, errorKind, says } of cases) {
    test(`${name}: ${code} is a ${errorKind} error that says what to do, and no copy is left`, async () => {
      const undo = arrange();
      try {
        const { report } = await drill(await configWith(kind));

        expect(report.error).toMatchObject({ step: 'restore', kind: errorKind, name: 'AwsApiError' });
        expect(report.error!.message).toContain(code);
        expect(report.error!.message).toMatch(says);
        expect(report.copy.made).toBe(false);
      } finally {
        undo();
      }
    });
  }

  test('a live instance with automated backups off: "turn on automated backups" (kind backup), before anything is created', async () => {
    const { report } = await drill(await configWith('rds', providerOverride('rds', { instanceId: 'app-nobackups' })));

    expect(report.status).toBe('failed');
    expect(report.error).toMatchObject({ step: 'plan', kind: 'backup' });
    expect(report.error!.message).toMatch(/app-nobackups.*backup retention period is 0.*turn on automated backups/);
  });
});

describe('7. the bad day: retained backups by resource id', () => {
  test('the source gone: its retained backups are found in the (paged) list of automated backups by its identifier, and restored by DbiResourceId', async () => {
    const gone = world.emulator.instances.get('app-gone')!;
    const provider = providerFor((await configWith('rds', providerOverride('rds', { instanceId: 'app-gone' }))).databases[0]!, fast) as RestoreProvider<RdsCopyHandle>;
    const live = await provider.window();
    world.emulator.deleteSourceInstanceKeepingBackups('app-gone');
    // Other automated backups before it, one record a page: the lookup has to follow Marker.
    const window = await withBehaviour({ pageSize: 1 }, () => provider.window());

    expect(window.earliest).toEqual(live.earliest);
    const describes = world.emulator.calls('DescribeDBInstanceAutomatedBackups').slice(-4);
    expect(describes.some((call) => call.params.Marker !== undefined)).toBe(true);
    const { report } = await drill(await configWith('rds', providerOverride('rds', { instanceId: 'app-gone' })));
    expect(report.error, JSON.stringify(report.error)).toBeUndefined();
    expect(report.status).toBe('passed');
    expect(world.emulator.calls('RestoreDBInstanceToPointInTime').at(-1)!.params.SourceDbiResourceId).toBe(gone.resourceId);
    await goneAfter(report, 'rds');
  });

  test('the config names the resource id (sourceResourceId): the lookup asks for it directly', async () => {
    const gone = world.emulator.instances.get('app-gone') ?? undefined;
    expect(gone).toBeUndefined();
    const resourceId = world.emulator.calls('RestoreDBInstanceToPointInTime').at(-1)!.params.SourceDbiResourceId!;
    const config = await configWith('rds', providerOverride('rds', { instanceId: 'app-gone', sourceResourceId: resourceId }));
    const provider = providerFor(config.databases[0]!, fast) as RestoreProvider<RdsCopyHandle>;

    const handle = await provider.start({ target: { kind: 'latest' }, copyName: 'rd-app-20261201000000-res1', expiresAt: new Date(Date.now() + 3_600_000) });

    expect(handle.source.resourceId).toBe(resourceId);
    expect(world.emulator.calls('DescribeDBInstanceAutomatedBackups').at(-1)!.params).toMatchObject({ DbiResourceId: resourceId });
    await provider.destroy(handle);
    await world.emulator.gone(handle.instanceId);
  });

  test('every copy handle records the live source\'s resource id (DbiResourceId, DbClusterResourceId)', async () => {
    const rds = providerFor((await configWith('rds')).databases[0]!, fast) as RestoreProvider<RdsCopyHandle>;
    const aurora = providerFor((await configWith('aurora')).databases[0]!, fast) as RestoreProvider<AuroraCopyHandle>;

    const a = await rds.start({ target: { kind: 'latest' }, copyName: 'rd-app-20261201000000-rid1', expiresAt: new Date(Date.now() + 3_600_000) });
    const b = await aurora.start({ target: { kind: 'latest' }, copyName: 'rd-app-20261201000000-rid2', expiresAt: new Date(Date.now() + 3_600_000) });

    expect(a.source.resourceId).toBe(world.sourceInstance.resourceId);
    expect(b.source.resourceId).toBe(world.sourceCluster.resourceId);
    await Promise.all([rds.destroy(a), aurora.destroy(b)]);
    await Promise.all([world.emulator.gone(a.instanceId), world.emulator.gone(b.clusterId)]);
  });
});

describe('8. names RDS rejects', () => {
  test('database names that make copy names RDS refuses (a trailing hyphen, two hyphens) are refused at config time, naming the rule', async () => {
    for (const name of ['a-', 'x--y']) {
      const error = await configWith('rds', { name }).catch((e: unknown) => e);

      expect(error, name).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(/must not end with a hyphen or contain two consecutive hyphens/);
    }
    // Neon and local copies have no such rule.
    await expect(validateConfig({ databases: [{ name: 'x--y', provider: { kind: 'local', baseBackups: world.source.backupsDir, walArchive: world.source.archiveDir } }] }, world.project)).resolves.toBeDefined();
  });
});

describe('9. Aurora Serverless v2 and parameter groups', () => {
  test('a Serverless v2 source\'s copy: db.serverless, with the source\'s scaling configuration', async () => {
    const config = await configWith('aurora', providerOverride('aurora', { clusterId: 'app-serverless', instanceClass: 'db.serverless' }));

    const { report } = await drill(config);

    expect(report.error, JSON.stringify(report.error)).toBeUndefined();
    expect(report.status).toBe('passed');
    const restore = world.emulator.calls('RestoreDBClusterToPointInTime').at(-1)!.params;
    expect(restore).toMatchObject({ 'ServerlessV2ScalingConfiguration.MinCapacity': '0.5', 'ServerlessV2ScalingConfiguration.MaxCapacity': '4' });
    expect(world.emulator.calls('CreateDBInstance').at(-1)!.params.DBInstanceClass).toBe('db.serverless');
    await goneAfter(report, 'aurora');
  });

  test('db.serverless is refused for an RDS instance; a scaling configuration of its own is checked', async () => {
    await expect(configWith('rds', providerOverride('rds', { instanceClass: 'db.serverless' }))).rejects.toThrow(/db\.serverless.*Aurora/);
    await expect(configWith('aurora', providerOverride('aurora', { instanceClass: 'db.serverless', serverlessV2Scaling: { minCapacity: 8, maxCapacity: 2 } }))).rejects.toThrow(/minCapacity/);
  });

  test('parameter groups for copies: parameterGroup (instance) and clusterParameterGroup (Aurora) reach the requests', async () => {
    const instance = await drill(await configWith('rds', providerOverride('rds', { parameterGroup: 'drill-postgres15' })));
    const cluster = await drill(await configWith('aurora', providerOverride('aurora', { clusterParameterGroup: 'drill-aurora15' })));

    for (const { report } of [instance, cluster]) {
      expect(report.error, JSON.stringify(report.error)).toBeUndefined();
    }
    expect(world.emulator.calls('RestoreDBInstanceToPointInTime').at(-1)!.params.DBParameterGroupName).toBe('drill-postgres15');
    expect(world.emulator.calls('RestoreDBClusterToPointInTime').at(-1)!.params.DBClusterParameterGroupName).toBe('drill-aurora15');
    await goneAfter(instance.report, 'rds');
    await goneAfter(cluster.report, 'aurora');
  });
});

describe('10. a checks user whose password does not rotate', () => {
  test('the master secret rotated twice since the target: the drill says to use a checks user; the checks user\'s own secret passes', async () => {
    world.emulator.rotateSecret(rotatingSecret, { username: 'postgres', password: 'rotated-once' });
    world.emulator.rotateSecret(rotatingSecret, { username: 'postgres', password: 'rotated-twice' });

    const master = await drill(await configWith('rds', providerOverride('rds', { credentials: { secretArn: rotatingSecret } })));
    const checks = await drill(await configWith('rds', { ...providerOverride('rds', { credentials: { secretArn: checksSecret } }), connection: { database: 'postgres', user: 'drill_checks' } }));

    expect(master.report.error ?? master.report.checks.find((check) => check.status !== 'pass')).toBeDefined();
    expect(JSON.stringify(master.report)).toMatch(/neither AWSCURRENT nor AWSPREVIOUS.*checks user/);
    expect(checks.report.error, JSON.stringify(checks.report.error)).toBeUndefined();
    expect(checks.report.status).toBe('passed');
    for (const text of [JSON.stringify(master.report), JSON.stringify(checks.report)]) {
      for (const secret of [CHECKS_PASSWORD, SOURCE_PASSWORD, 'rotated-once', 'rotated-twice']) expect(text).not.toContain(secret);
    }
    await goneAfter(master.report, 'rds');
    await goneAfter(checks.report, 'rds');
  });
});

describe('11. pagination', () => {
  test('the janitor\'s list follows Marker through pages of one record, and MaxRecords outside 20-100 is refused as RDS refuses it', async () => {
    for (const id of ['rd-app-20261201000000-pg01', 'rd-app-20261201000000-pg02', 'rd-app-20261201000000-pg03']) {
      world.emulator.addOtherInstance({ id, tags: [{ Key: 'restore-drill:managed', Value: 'true' }, { Key: 'restore-drill:expires-at', Value: '2099-01-01T00:00:00Z' }] });
    }
    const provider = providerFor((await configWith('rds')).databases[0]!, fast);

    const copies = await withBehaviour({ pageSize: 1 }, async () => (await provider.listCopies!()).map((copy) => copy.name));

    expect(copies.sort()).toEqual(['rd-app-20261201000000-pg01', 'rd-app-20261201000000-pg02', 'rd-app-20261201000000-pg03']);
    for (const id of copies) world.emulator.instances.delete(id);
    const rds = new RDSClient({ region: 'us-east-1', endpoint: world.emulator.url, credentials: { accessKeyId: 'AKIAADMINISTRATOR000', secretAccessKey: 'x' } });
    const { DescribeDBInstancesCommand } = await import('@aws-sdk/client-rds');
    await expect(rds.send(new DescribeDBInstancesCommand({ MaxRecords: 5 }))).rejects.toMatchObject({ name: 'InvalidParameterValue' });
  });
});
