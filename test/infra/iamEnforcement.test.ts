import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  AddTagsToResourceCommand,
  CreateDBInstanceCommand,
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RDSClient,
  RestoreDBClusterToPointInTimeCommand,
  RestoreDBInstanceToPointInTimeCommand,
  type Tag,
} from '@aws-sdk/client-rds';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import type { DatabaseConfig, RestoreDrillConfig } from '../../lib/config/schema.ts';
import { RestoreDrillStack } from '../../lib/infra/restoreDrill.ts';
import { copyName } from '../../lib/providers/copyName.ts';
import { providerFor } from '../../lib/providers/index.ts';
import type { CopyPoll, RestoreProvider } from '../../lib/providers/types.ts';
import { databaseConfig, leftoverCopies, rdsWorld, useFakeAwsCredentials, useOwnScratch, type RdsWorld } from '../emulators/rds/world.ts';
import { S3Emulator } from '../emulators/s3/emulator.ts';
import { cliPrincipal, IamAuthority, policyProblems, principalsFromTemplate, type Principal, type TemplateResource } from '../support/iam/index.ts';

// The stack's IAM as AWS applies it: the template is synthesised, each function's role becomes a
// principal (test/support/iam), and the RDS emulator authorises every call of that principal the way
// RDS does (the resources a call involves, the request's and the resources' tags). Each test says
// which AWS rule it holds the template to; none reads the grants out of our code.
useOwnScratch('iam-enforcement-test');
useFakeAwsCredentials();

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const SUBNET_GROUP = 'drill-subnets';
const BUCKET = 'restore-drill-reports-iam';
const SOURCE_KEY = `arn:aws:kms:us-east-1:123456789012:key/5e1d2c3b-4a59-4f8e-9d7c-6b5a49382716`;
const OTHER_KEY = `arn:aws:kms:us-east-1:123456789012:key/0f0e0d0c-0b0a-4909-8807-060504030201`;
const OUR_TAG_KEYS = ['restore-drill:managed', 'restore-drill:expires-at', 'restore-drill:drill', 'restore-drill:database'];
const ourTags = (copy: string): { Key: string; Value: string }[] => [
  { Key: 'restore-drill:managed', Value: 'true' },
  { Key: 'restore-drill:expires-at', Value: new Date(Date.now() + 3_600_000).toISOString() },
  { Key: 'restore-drill:drill', Value: copy },
  { Key: 'restore-drill:database', Value: 'app' },
];

let world: RdsWorld;
let s3: S3Emulator;
let outdir: string;
let config: RestoreDrillConfig;
let principals: Map<string, Principal>;
let neonSecretArn: string;
/** The DbiResourceId / DbClusterResourceId of the deleted sources: their retained backups. */
let goneResourceIds: { instance: string; cluster: string };

beforeAll(async () => {
  world = await rdsWorld();
  // The bad day for one instance and one cluster: deleted, their automated backups retained.
  const local = { baseBackups: world.source.backupsDir, walArchive: world.source.archiveDir };
  const goneInstance = world.emulator.addSourceInstance({ id: 'app-gone', source: local, engineVersion: world.source.binaries.version });
  world.emulator.deleteSourceInstanceKeepingBackups('app-gone');
  const goneCluster = world.emulator.addSourceCluster({ id: 'app-aurora-gone', source: local, engineVersion: world.source.binaries.version });
  world.emulator.deleteSourceClusterKeepingBackups('app-aurora-gone');
  goneResourceIds = { instance: goneInstance.resourceId, cluster: goneCluster.resourceId };
  // Sources encrypted with a customer-managed key: one the config names (the stack grants its use), one it does not.
  world.emulator.addSourceInstance({ id: 'app-vault', source: local, engineVersion: world.source.binaries.version, kmsKeyId: SOURCE_KEY });
  world.emulator.addSourceInstance({ id: 'app-vault-unnamed', source: local, engineVersion: world.source.binaries.version, kmsKeyId: OTHER_KEY });
  neonSecretArn = world.emulator.addSecret('neon/api-key', { apiKey: 'napi_iam-enforcement-test' });

  config = await validateConfig(
    {
      rpoTargetSeconds: 3600,
      rtoTargetSeconds: 600,
      databases: [
        databaseConfig(world, 'rds', { name: 'app' }),
        databaseConfig(world, 'aurora', { name: 'ledger' }),
        databaseConfig(world, 'rds', { name: 'gone', provider: { ...(databaseConfig(world, 'rds').provider as object), instanceId: 'app-gone' } }),
        databaseConfig(world, 'aurora', { name: 'gone-aurora', provider: { ...(databaseConfig(world, 'aurora').provider as object), clusterId: 'app-aurora-gone' } }),
        databaseConfig(world, 'rds', { name: 'vault', provider: { ...(databaseConfig(world, 'rds').provider as object), instanceId: 'app-vault', kmsKeyId: SOURCE_KEY } }),
        databaseConfig(world, 'rds', { name: 'vault-unnamed', provider: { ...(databaseConfig(world, 'rds').provider as object), instanceId: 'app-vault-unnamed' } }),
        { name: 'analytics', provider: { kind: 'neon', projectId: 'shiny-wind-028834', apiKey: { secretArn: neonSecretArn } }, connection: { database: 'neondb', user: 'neondb_owner' } },
      ],
    },
    world.project,
  );
  outdir = await mkdtemp(join(tmpdir(), 'rd-iam-enforcement-'));
  const stack = new RestoreDrillStack(new App({ outdir }), 'IamEnforcement', {
    config,
    settings: {
      schedules: [{ name: 'nightly', expression: 'cron(0 3 * * ? *)' }],
      vpc: { vpcId: 'vpc-0123abcd', subnetIds: ['subnet-0123abcd', 'subnet-0456abcd'], availabilityZones: ['us-east-1a', 'us-east-1b'] },
    },
  });
  const template = Template.fromStack(stack).toJSON() as { Resources: Record<string, TemplateResource> };
  principals = principalsFromTemplate(template, { accountId: ACCOUNT, region: REGION, resolve: deployTimeValue });
  world.emulator.iam = new IamAuthority([...principals.values(), cliPrincipal()]);
  s3 = new S3Emulator([BUCKET], { iam: world.emulator.iam });
  await s3.start();
}, 180_000);

afterAll(async () => {
  await Promise.all([world?.remove(), s3?.stop()]);
  if (outdir) await rm(outdir, { recursive: true, force: true });
  expect(await leftoverCopies()).toEqual([]);
});

/** What the template leaves to deployment, as the emulators know it. */
function deployTimeValue(token: unknown): string | undefined {
  const ref = (token as { Ref?: string }).Ref;
  const [id, attribute] = (token as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'] ?? [];
  if (ref?.startsWith('RestoreDrillReports')) return BUCKET;
  if (ref?.startsWith('RestoreDrillCopySubnetGroup')) return SUBNET_GROUP;
  if (id?.startsWith('RestoreDrillCopySecurityGroup') && attribute === 'GroupId') return 'sg-0drill000000000001';
  return undefined;
}

/** The principal of a drill function by its construct id: Plan, Start, Poll, Verify, VerifyInVpc, Cleanup, Report, Janitor. */
function fn(name: string): Principal {
  const found = [...principals.values()].find((principal) => new RegExp(`^RestoreDrill${name}[0-9A-F]{8}$`).test(principal.name));
  if (!found) throw new Error(`the template has no function ${name}: ${[...principals.keys()].join(', ')}`);
  return found;
}

const credentials = (principal: Principal) => ({ accessKeyId: principal.accessKeyId, secretAccessKey: principal.secretAccessKey });
const rdsAs = (principal: Principal) => new RDSClient({ region: REGION, endpoint: world.emulator.url, credentials: credentials(principal), maxAttempts: 1 });
const s3As = (principal: Principal) => new S3Client({ region: REGION, endpoint: s3.url, forcePathStyle: true, credentials: credentials(principal), maxAttempts: 1 });
const secretsAs = (principal: Principal) => new SecretsManagerClient({ region: REGION, endpoint: world.emulator.url, credentials: credentials(principal), maxAttempts: 1 });
const database = (name: string): DatabaseConfig => config.databases.find((candidate) => candidate.name === name)!;
/** The provider as a function runs it: the code's own calls, signed with that function's role. */
const providerAs = <Handle>(principal: Principal, name: string) =>
  providerFor(database(name), { aws: { clientConfig: { credentials: credentials(principal) }, removalRetryMs: 20, removalWaitMs: 5_000 } }) as RestoreProvider<Handle>;
/** 'allowed', or the AWS error code the call ended with (the SDK's, or our AwsApiError's). */
const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => 'allowed',
    (error: { name?: string; Code?: string; code?: unknown }) => error.Code ?? (typeof error.code === 'string' ? error.code : undefined) ?? error.name ?? String(error),
  );
const arn = (type: string, name: string) => `arn:aws:rds:${REGION}:${ACCOUNT}:${type}:${name}`;
/** Every call IAM refused since a point in the emulator's log, and why: a failing assertion's message. */
const refusedSince = (mark: number) =>
  world.emulator.requests
    .slice(mark)
    .filter((request) => request.denied)
    .map((request) => `${request.action}: ${request.denied}`)
    .join('\n') || '(IAM refused nothing)';

async function pollUntilSettled<Handle>(provider: RestoreProvider<Handle>, handle: Handle): Promise<CopyPoll> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const poll = await provider.poll(handle);
    if (poll.state !== 'pending' || Date.now() > deadline) return poll;
    await delay(20);
  }
}

describe('the template\'s policies, held to iam-data', () => {
  test('every action exists, and every condition key is one its action has (RDS has no rds:CreateAction)', async () => {
    const problems: string[] = [];
    for (const principal of principals.values()) {
      for (const [index, policy] of principal.identityPolicies.entries()) problems.push(...(await policyProblems(policy, `${principal.name} policy ${index + 1}`)));
    }
    expect(problems).toEqual([]);
  });
});

describe('Start and Poll make copies as RDS authorises them', () => {
  // RDS authorises RestoreDBInstanceToPointInTime against the source db, the new db (with aws:RequestTag/*,
  // aws:TagKeys, rds:req-tag/*), the subnet group, the option group and the parameter group the copy gets
  // (default:postgres-15, default.postgres15), and the request's Tags as rds:AddTagsToResource on the new db.
  test('Start restores the RDS instance into a copy tagged as ours; Cleanup removes it', async () => {
    const start = providerAs<{ name: string; instanceId: string }>(fn('Start'), 'app');
    const name = copyName('app', new Date());
    const mark = world.emulator.requests.length;

    const result = await outcome(start.start({ target: { kind: 'latest' }, copyName: name, expiresAt: new Date(Date.now() + 3_600_000) }));

    expect(result, refusedSince(mark)).toBe('allowed');
    expect(world.emulator.instances.get(name)?.tags.map((tag) => tag.Key).sort()).toEqual([...OUR_TAG_KEYS].sort());
    const removed = await outcome(providerAs(fn('Cleanup'), 'app').destroy({ provider: 'rds', name, instanceId: name, region: REGION } as never));
    expect(removed, refusedSince(mark)).toBe('allowed');
    await world.emulator.gone(name);
  });

  // RestoreDBClusterToPointInTime: the source cluster, the new cluster, subgrp, og and cluster-pg; Aurora's
  // CreateDBInstance: the new db, the cluster it joins, subgrp, and the member's (default) og and pg; both
  // with their Tags as rds:AddTagsToResource on what they create.
  test('Start restores the Aurora cluster; Poll adds its instance with our tags; the copy becomes ready; Cleanup removes both', async () => {
    const start = providerAs<{ name: string; clusterId: string; instanceId: string }>(fn('Start'), 'ledger');
    const poll = providerAs<{ name: string; clusterId: string; instanceId: string }>(fn('Poll'), 'ledger');
    const name = copyName('ledger', new Date());
    const mark = world.emulator.requests.length;

    const handle = await start.start({ target: { kind: 'latest' }, copyName: name, expiresAt: new Date(Date.now() + 3_600_000) }).catch((error: Error) => {
      throw new Error(`${error.message}\n${refusedSince(mark)}`);
    });
    const settled = await pollUntilSettled(poll, handle).catch((error: Error) => ({ state: 'failed' as const, reason: `${error.message}\n${refusedSince(mark)}` }));

    expect(settled.state === 'failed' ? settled.reason : settled.state).toBe('ready');
    expect(world.emulator.clusters.get(name)?.tags.map((tag) => tag.Key).sort()).toEqual([...OUR_TAG_KEYS].sort());
    expect(world.emulator.instances.get(handle.instanceId)?.tags.map((tag) => tag.Key).sort()).toEqual([...OUR_TAG_KEYS].sort());
    const removed = await outcome(providerAs(fn('Cleanup'), 'ledger').destroy(handle));
    expect(removed, refusedSince(mark)).toBe('allowed');
    await world.emulator.gone(name);
    await world.emulator.gone(handle.instanceId);
  });

  // A restore from retained automated backups is authorised against the auto-backup: (instance) or
  // cluster-auto-backup: (cluster) resource in place of the deleted source. The requests are the
  // providers' (SourceDbiResourceId, SourceDbClusterResourceId); reading the window first is Plan's test.
  test('Start restores the deleted instance and cluster from their retained automated backups', async () => {
    const rds = rdsAs(fn('Start'));
    const instance = copyName('gone', new Date());
    const cluster = copyName('gone-aurora', new Date());
    const network = { DBSubnetGroupName: SUBNET_GROUP, VpcSecurityGroupIds: ['sg-0drill000000000001'], UseLatestRestorableTime: true };
    const mark = world.emulator.requests.length;

    const results = {
      instance: await outcome(
        rds.send(new RestoreDBInstanceToPointInTimeCommand({ ...network, SourceDbiResourceId: goneResourceIds.instance, TargetDBInstanceIdentifier: instance, DBInstanceClass: 'db.t4g.medium', PubliclyAccessible: false, MultiAZ: false, DeletionProtection: false, BackupRetentionPeriod: 0, Tags: ourTags(instance) })),
      ),
      cluster: await outcome(rds.send(new RestoreDBClusterToPointInTimeCommand({ ...network, SourceDbClusterResourceId: goneResourceIds.cluster, DBClusterIdentifier: cluster, RestoreType: 'full-copy', DeletionProtection: false, Tags: ourTags(cluster) }))),
    };

    const cleanup = rdsAs(fn('Cleanup'));
    if (world.emulator.instances.has(instance)) await cleanup.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: instance, SkipFinalSnapshot: true, DeleteAutomatedBackups: true }));
    if (world.emulator.clusters.has(cluster)) await cleanup.send(new DeleteDBClusterCommand({ DBClusterIdentifier: cluster, SkipFinalSnapshot: true }));
    await Promise.all([world.emulator.gone(instance), world.emulator.gone(cluster)]);
    expect(results, refusedSince(mark)).toEqual({ instance: 'allowed', cluster: 'allowed' });
  });

  // IAM allows a create only as its conditions say: the copy's name (rd-), the tag restore-drill:managed=true,
  // and no tag keys but ours (ForAllValues on aws:TagKeys). Anything else is not a copy of ours.
  test('Start cannot make a copy without our tag, with a tag key not ours, or under a name without our prefix', async () => {
    const restore = (target: string, tags: Tag[]) =>
      outcome(rdsAs(fn('Start')).send(new RestoreDBInstanceToPointInTimeCommand({ SourceDBInstanceIdentifier: 'app-prod', TargetDBInstanceIdentifier: target, UseLatestRestorableTime: true, DBSubnetGroupName: SUBNET_GROUP, PubliclyAccessible: false, Tags: tags })));
    const name = copyName('app', new Date());

    expect(await restore(name, [])).toBe('AccessDenied');
    expect(await restore(name, [...ourTags(name), { Key: 'team', Value: 'payments' }])).toBe('AccessDenied');
    expect(await restore('prod-copy', ourTags('prod-copy'))).toBe('AccessDenied');
    expect(world.emulator.instances.has(name) || world.emulator.instances.has('prod-copy')).toBe(false);
  });
});

describe('KMS: an encrypted source restores only with its key granted through RDS', () => {
  // KMS allows RDS's kms:CreateGrant and kms:DescribeKey on the caller's behalf (kms:ViaService
  // rds.<region>.amazonaws.com) only if the caller may; otherwise the restore is KMSKeyNotAccessibleFault.
  test('Start restores the source whose key the config names; a source encrypted with a key the config does not name is refused (KMSKeyNotAccessibleFault); Poll holds no KMS grant', async () => {
    const name = copyName('vault', new Date());
    const mark = world.emulator.requests.length;

    const named = await outcome(providerAs(fn('Start'), 'vault').start({ target: { kind: 'latest' }, copyName: name, expiresAt: new Date(Date.now() + 3_600_000) }));
    const unnamed = await outcome(providerAs(fn('Start'), 'vault-unnamed').start({ target: { kind: 'latest' }, copyName: copyName('vault-unnamed', new Date()), expiresAt: new Date(Date.now() + 3_600_000) }));

    expect(named, refusedSince(mark)).toBe('allowed');
    expect(unnamed).toBe('KMSKeyNotAccessibleFault');
    const kms = (principal: Principal) => principal.identityPolicies.flatMap((policy) => [policy.Statement].flat()).filter((statement) => [statement.Action].flat().some((action) => String(action).startsWith('kms:')));
    expect(kms(fn('Start')).map((statement) => [statement.Action, statement.Resource, statement.Condition])).toEqual([
      ['kms:CreateGrant', SOURCE_KEY, { StringEquals: { 'kms:ViaService': 'rds.us-east-1.amazonaws.com' }, Bool: { 'kms:GrantIsForAWSResource': 'true' } }],
      ['kms:DescribeKey', SOURCE_KEY, { StringEquals: { 'kms:ViaService': 'rds.us-east-1.amazonaws.com' } }],
    ]);
    for (const other of ['Plan', 'Poll', 'VerifyInVpc', 'Cleanup', 'Janitor']) expect(kms(fn(other)), other).toEqual([]);
    const removed = await outcome(providerAs(fn('Cleanup'), 'vault').destroy({ provider: 'rds', name, instanceId: name, region: REGION } as never));
    expect(removed, refusedSince(mark)).toBe('allowed');
    await world.emulator.gone(name);
  });
});

describe('each function holds only the RDS calls it makes', () => {
  test('Poll cannot start a restore; Start cannot add an instance to a cluster', async () => {
    const name = copyName('app', new Date());
    const pollRestores = await outcome(
      rdsAs(fn('Poll')).send(new RestoreDBInstanceToPointInTimeCommand({ SourceDBInstanceIdentifier: 'app-prod', TargetDBInstanceIdentifier: name, UseLatestRestorableTime: true, DBSubnetGroupName: SUBNET_GROUP, PubliclyAccessible: false, Tags: ourTags(name) })),
    );
    const cluster = copyName('ledger', new Date());
    world.emulator.addSourceCluster({ id: cluster, source: { baseBackups: world.source.backupsDir, walArchive: world.source.archiveDir }, engineVersion: '15' }).tags.push(...ourTags(cluster));
    const startAddsInstance = await outcome(
      rdsAs(fn('Start')).send(new CreateDBInstanceCommand({ DBInstanceIdentifier: `${cluster}-i1`, DBClusterIdentifier: cluster, Engine: 'aurora-postgresql', DBInstanceClass: 'db.t4g.medium', PubliclyAccessible: false, Tags: ourTags(cluster) })),
    );
    world.emulator.clusters.delete(cluster);
    world.emulator.instances.delete(`${cluster}-i1`);

    expect({ pollRestores, startAddsInstance }).toEqual({ pollRestores: 'AccessDenied', startAddsInstance: 'AccessDenied' });
    expect(world.emulator.instances.has(name)).toBe(false);
  });
});

describe('Plan and Start read the windows', () => {
  // DescribeDBInstances names only the latest restorable time: the earliest is on the automated backup
  // (DescribeDBInstanceAutomatedBackups, by DbiResourceId: the auto-backup: resource). A deleted source
  // has only its retained backups, asked for by the source's identifier: DescribeDBInstanceAutomatedBackups
  // and DescribeDBClusterAutomatedBackups list both db/cluster and auto-backup/cluster-auto-backup as
  // their resource types, and are authorised against the one the request names (db:<id>, cluster:<id>).
  // Start reads the window again before it restores.
  test.each(['Plan', 'Start'])('%s: every RDS and Aurora database, the deleted ones from their retained automated backups', async (role) => {
    const windows: Record<string, string> = {};
    const mark = world.emulator.requests.length;
    for (const name of ['app', 'ledger', 'gone', 'gone-aurora']) {
      windows[name] = await outcome(providerAs(fn(role), name).window());
    }

    expect(windows, refusedSince(mark)).toEqual({
      app: 'allowed',
      ledger: 'allowed',
      gone: 'allowed',
      'gone-aurora': 'allowed',
    });
  });
});

describe('removal', () => {
  // DeleteDBInstance / DeleteDBCluster are authorised against the resource, with its tags as
  // aws:ResourceTag/* (rds:db-tag/*, rds:cluster-tag/*): the grant must need both our name and our tag.
  test('Cleanup and the Janitor delete a copy named rd- and tagged restore-drill:managed=true, and nothing else: not untagged, not another name, not a source', async () => {
    const managed = [{ Key: 'restore-drill:managed', Value: 'true' }];
    const results: Record<string, Record<string, string>> = {};
    const mark = world.emulator.requests.length;
    // Production, tagged as ours by mistake, still is not a copy.
    world.emulator.instances.get('app-prod')!.tags.push(...managed);
    world.emulator.clusters.get('app-aurora')!.tags.push(...managed);
    try {
      for (const remover of ['Cleanup', 'Janitor']) {
        const rds = rdsAs(fn(remover));
        const ours = copyName('app', new Date());
        const untagged = copyName('app', new Date());
        const ourCluster = copyName('ledger', new Date());
        world.emulator.addOtherInstance({ id: ours, tags: [...managed] });
        world.emulator.addOtherInstance({ id: untagged, tags: [{ Key: 'restore-drill:expires-at', Value: '2020-01-01T00:00:00Z' }] });
        world.emulator.addOtherInstance({ id: `legacy-${remover.toLowerCase()}`, tags: [...managed] });
        world.emulator.addSourceCluster({ id: ourCluster, source: { baseBackups: world.source.backupsDir, walArchive: world.source.archiveDir }, engineVersion: '15' }).tags.push(...managed);
        const deleteInstance = (id: string) => outcome(rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true })));
        const deleteCluster = (id: string) => outcome(rds.send(new DeleteDBClusterCommand({ DBClusterIdentifier: id, SkipFinalSnapshot: true })));
        results[remover] = {
          'our copy': await deleteInstance(ours),
          'our cluster': await deleteCluster(ourCluster),
          'a copy without our tag': await deleteInstance(untagged),
          'another name tagged as ours': await deleteInstance(`legacy-${remover.toLowerCase()}`),
          'the source instance': await deleteInstance('app-prod'),
          'the source cluster': await deleteCluster('app-aurora'),
        };
        await Promise.all([world.emulator.gone(ours), world.emulator.gone(ourCluster)]).catch(() => undefined);
        for (const id of [ours, untagged, `legacy-${remover.toLowerCase()}`]) world.emulator.instances.delete(id);
        world.emulator.clusters.delete(ourCluster);
      }
    } finally {
      for (const record of [world.emulator.instances.get('app-prod'), world.emulator.clusters.get('app-aurora')]) record!.tags = record!.tags.filter((tag) => tag.Key !== 'restore-drill:managed');
    }

    const expected = { 'our copy': 'allowed', 'our cluster': 'allowed', 'a copy without our tag': 'AccessDenied', 'another name tagged as ours': 'AccessDenied', 'the source instance': 'AccessDenied', 'the source cluster': 'AccessDenied' };
    expect(results, refusedSince(mark)).toEqual({ Cleanup: expected, Janitor: expected });
    expect(world.emulator.instances.get('app-prod')?.status).toBe('available');
  });

  test('the Janitor lists every instance and cluster to find ours (DescribeDBInstances/DescribeDBClusters of db:* and cluster:*)', async () => {
    const rds = rdsAs(fn('Janitor'));
    const mark = world.emulator.requests.length;
    const listed = { instances: await outcome(rds.send(new DescribeDBInstancesCommand({}))), clusters: await outcome(rds.send(new DescribeDBClustersCommand({}))) };
    expect(listed, refusedSince(mark)).toEqual({ instances: 'allowed', clusters: 'allowed' });
  });

  test('no function but Cleanup and the Janitor may delete even a copy of ours', async () => {
    const id = copyName('app', new Date());
    world.emulator.addOtherInstance({ id, tags: ourTags(id) });
    const results: Record<string, string> = {};
    try {
      for (const name of ['Plan', 'Start', 'Poll', 'Verify', 'VerifyInVpc', 'Report']) {
        results[name] = await outcome(rdsAs(fn(name)).send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true })));
      }
    } finally {
      world.emulator.instances.delete(id);
    }
    expect(results).toEqual({ Plan: 'AccessDenied', Start: 'AccessDenied', Poll: 'AccessDenied', Verify: 'AccessDenied', VerifyInVpc: 'AccessDenied', Report: 'AccessDenied' });
  });
});

describe('secrets', () => {
  // GetSecretValue is authorised against the secret's ARN: each verify function only its own databases'.
  test('Verify (outside the VPC, Neon) cannot read the RDS master secret; VerifyInVpc (RDS, Aurora) cannot read the Neon API key; each reads its own', async () => {
    const read = (principal: Principal, secretId: string) => outcome(secretsAs(principal).send(new GetSecretValueCommand({ SecretId: secretId })));

    expect({
      'Verify reads the RDS master secret': await read(fn('Verify'), world.secretArn),
      'VerifyInVpc reads the Neon API key': await read(fn('VerifyInVpc'), neonSecretArn),
      'Verify reads the Neon API key': await read(fn('Verify'), neonSecretArn),
      'VerifyInVpc reads the RDS master secret': await read(fn('VerifyInVpc'), world.secretArn),
    }).toEqual({
      'Verify reads the RDS master secret': 'AccessDeniedException',
      'VerifyInVpc reads the Neon API key': 'AccessDeniedException',
      'Verify reads the Neon API key': 'allowed',
      'VerifyInVpc reads the RDS master secret': 'allowed',
    });
  });
});

describe('the reports bucket', () => {
  // S3 authorises GetObject/PutObject on the object's ARN and ListObjectsV2 as s3:ListBucket on the bucket
  // with s3:prefix. Verify reads the previous reports (list and get) and saves checks over Step Functions'
  // state budget; Cleanup takes those back and saves the report; Report reads and saves reports.
  test('each function reaches what its step needs under reports/, and nothing else', async () => {
    const key = 'reports/app/20261125T000000Z.json';
    const calls = (principal: Principal) => {
      const client = s3As(principal);
      return Promise.all([
        outcome(client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: '{}' }))),
        outcome(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))),
        outcome(client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'reports/app/' }))),
        outcome(client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'elsewhere/x.json', Body: '{}' }))),
      ]).then(([put, get, list, outside]) => ({ put, get, list, outside }));
    };
    await s3As(fn('Report')).send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: '{}' })).catch(() => undefined);
    const mark = s3.requests.length;

    const results: Record<string, unknown> = {};
    for (const name of ['Verify', 'VerifyInVpc', 'Cleanup', 'Report', 'Plan', 'Start', 'Poll', 'Janitor']) results[name] = await calls(fn(name));

    const denied = { put: 'AccessDenied', get: 'AccessDenied', list: 'AccessDenied', outside: 'AccessDenied' };
    expect(results, s3.requests.slice(mark).filter((request) => request.denied).map((request) => `${request.method} ${request.key}: ${request.denied}`).join('\n')).toEqual({
      Verify: { put: 'allowed', get: 'allowed', list: 'allowed', outside: 'AccessDenied' },
      VerifyInVpc: { put: 'allowed', get: 'allowed', list: 'allowed', outside: 'AccessDenied' },
      Cleanup: { put: 'allowed', get: 'allowed', list: 'AccessDenied', outside: 'AccessDenied' },
      // Report also lists the reports for the evidence page.
      Report: { put: 'allowed', get: 'allowed', list: 'allowed', outside: 'AccessDenied' },
      Plan: denied,
      Start: denied,
      Poll: denied,
      Janitor: denied,
    });
  });
});

describe('tagging', () => {
  // RDS cannot limit AddTagsToResource to creation (no rds:CreateAction): whoever may tag production with
  // restore-drill:managed=true could have it deleted. The grant must hold tagging to our names.
  test('no function can tag the production instance or cluster as ours', async () => {
    const results: Record<string, string> = {};
    for (const principal of principals.values()) {
      for (const [kind, resource] of [['instance', arn('db', 'app-prod')], ['cluster', arn('cluster', 'app-aurora')]] as const) {
        results[`${principal.name} ${kind}`] = await outcome(rdsAs(principal).send(new AddTagsToResourceCommand({ ResourceName: resource, Tags: ourTags('rd-app-20261125000000-ab12') })));
      }
    }

    expect(Object.entries(results).filter(([, result]) => result !== 'AccessDenied')).toEqual([]);
    expect(world.emulator.instances.get('app-prod')?.tags).toEqual([{ Key: 'team', Value: 'payments' }]);
    expect(world.emulator.clusters.get('app-aurora')?.tags).toEqual([]);
  });
});
