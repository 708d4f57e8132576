import type { DBCluster, DBClusterAutomatedBackup } from '@aws-sdk/client-rds';
import type { AuroraProviderConfig } from '../../config/schema.ts';
import { ConfigError, RestoreDrillError } from '../../errors.ts';
import { POLL_INTERVAL_MS } from '../pollInterval.ts';
import type { CopyPoll, ListedCopy, RestoreProvider, RestoreWindow } from '../types.ts';
import { AwsApi, failedReason, FAILED_CLUSTER_STATUSES, FAILED_INSTANCE_STATUSES, requireNetwork, sameKey, USABLE_STATUSES, type AwsProviderOptions, type Removal } from './api.ts';
import { explainAwsError, isAwsError } from './errors.ts';
import { CreateDBInstanceCommand, DeleteDBClusterCommand, DescribeDBClusterAutomatedBackupsCommand, DescribeDBClustersCommand, paginateDescribeDBClusterAutomatedBackups, paginateDescribeDBClusters, RestoreDBClusterToPointInTimeCommand } from './sdk.ts';
import { destroyInstance } from './instance.ts';
import { copyTags, expiresAtOf, hasCopyName, isManaged } from './tags.ts';

/** An Aurora copy, as plain JSON: the restored cluster and the one instance added to it. */
export interface AuroraCopyHandle {
  provider: 'aurora';
  name: string;
  clusterId: string;
  instanceId: string;
  region: string;
  /** The source, by identifier and by its DbClusterResourceId (what its retained backups are found by). */
  source: { clusterId: string; resourceId?: string };
  target: { kind: 'latest' } | { kind: 'time'; time: string };
  expiresAt: string;
  /** When the restore was asked for: NotFound soon after it is eventual consistency. */
  startedAt?: string;
  /** Set by listCopies: when DescribeDBClusters listed it (Describe by its identifier may lag behind). */
  listedAt?: string;
}

/** The instance a copy's cluster gets: the copy's name and `-i1`, so that it carries our prefix too. */
export function auroraInstanceId(copyName: string): string {
  return `${copyName}-i1`;
}

/**
 * The `aurora` provider: RestoreDBClusterToPointInTime (a full copy), then, once the cluster is
 * available, CreateDBInstance into it; the copy is ready when that instance is. The source is only read.
 */
export function auroraProvider(config: AuroraProviderConfig, options: AwsProviderOptions): RestoreProvider<AuroraCopyHandle> {
  const api = new AwsApi(config, options);
  const sourceLabel = `DB cluster "${config.clusterId}"`;

  async function findCluster(id: string): Promise<DBCluster | undefined> {
    try {
      return (await api.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }))).DBClusters?.[0];
    } catch (error) {
      if (isAwsError(error, 'DBClusterNotFoundFault')) return undefined;
      throw explainAwsError(error, api.context('DescribeDBClusters', `DB cluster "${id}"`));
    }
  }

  /** Where to restore from: the live cluster, or (the bad day) the retained automated backups of a deleted one. */
  async function sourceOfBackups(): Promise<{ window: RestoreWindow; resourceId: string; retained: boolean; scaling?: { min: number; max: number } }> {
    const source = await findCluster(config.clusterId);
    if (source) {
      if (config.kmsKeyId && source.StorageEncrypted && source.KmsKeyId && !sameKey(config.kmsKeyId, source.KmsKeyId)) {
        throw new ConfigError(`provider.kmsKeyId is ${config.kmsKeyId}, but ${sourceLabel} is encrypted with ${source.KmsKeyId}: name the source's key, so that the grant to use it (kms:CreateGrant, kms:DescribeKey through RDS) is for the right key`);
      }
      if (!source.EarliestRestorableTime || !source.LatestRestorableTime || !source.DbClusterResourceId) {
        throw new RestoreDrillError('backup', `${sourceLabel} has no restorable window (EarliestRestorableTime/LatestRestorableTime missing): check its backup retention`);
      }
      const scaling = source.ServerlessV2ScalingConfiguration;
      return {
        window: { earliest: source.EarliestRestorableTime, latest: source.LatestRestorableTime },
        resourceId: source.DbClusterResourceId,
        retained: false,
        ...(scaling?.MinCapacity !== undefined && scaling.MaxCapacity !== undefined ? { scaling: { min: scaling.MinCapacity, max: scaling.MaxCapacity } } : {}),
      };
    }
    // The API finds a deleted cluster's retained backups by DbClusterResourceId; without it, in the list of all, by the identifier it had.
    const backups: DBClusterAutomatedBackup[] = [];
    try {
      if (config.sourceResourceId) {
        backups.push(...((await api.rds.send(new DescribeDBClusterAutomatedBackupsCommand({ DbClusterResourceId: config.sourceResourceId }))).DBClusterAutomatedBackups ?? []));
      } else {
        for await (const page of paginateDescribeDBClusterAutomatedBackups({ client: api.rds }, {})) {
          backups.push(...(page.DBClusterAutomatedBackups ?? []).filter((b) => b.DBClusterIdentifier?.toLowerCase() === config.clusterId.toLowerCase()));
        }
      }
    } catch (error) {
      if (!isAwsError(error, 'DBClusterAutomatedBackupNotFoundFault')) throw explainAwsError(error, api.context('DescribeDBClusterAutomatedBackups', sourceLabel));
    }
    const newest = backups
      .filter((b) => b.RestoreWindow?.EarliestTime && b.RestoreWindow.LatestTime && b.DbClusterResourceId)
      .sort((a, b) => b.RestoreWindow!.LatestTime!.getTime() - a.RestoreWindow!.LatestTime!.getTime())[0];
    if (!newest) {
      throw new RestoreDrillError(
        'input',
        `RDS has no ${sourceLabel} in ${config.region}, and no retained automated backups of it${config.sourceResourceId ? ` (DbClusterResourceId ${config.sourceResourceId})` : ''}. Check provider.clusterId${config.sourceResourceId ? ', provider.sourceResourceId' : ''} and provider.region, and that these AWS credentials belong to the account that owns it.`,
      );
    }
    return { window: { earliest: newest.RestoreWindow!.EarliestTime!, latest: newest.RestoreWindow!.LatestTime! }, resourceId: newest.DbClusterResourceId!, retained: true };
  }

  /** A db.serverless copy needs a scaling configuration: the config's, else the source's. */
  function serverlessScaling(source: { scaling?: { min: number; max: number } }): { MinCapacity: number; MaxCapacity: number } | undefined {
    if (config.instanceClass !== 'db.serverless') return undefined;
    const scaling = config.serverlessV2Scaling ? { min: config.serverlessV2Scaling.minCapacity, max: config.serverlessV2Scaling.maxCapacity } : source.scaling;
    if (!scaling) {
      throw new ConfigError(`${sourceLabel} has no Serverless v2 scaling configuration to copy (a provisioned source, or its retained backups): set provider.serverlessV2Scaling { minCapacity, maxCapacity } for a db.serverless copy`);
    }
    return { MinCapacity: scaling.min, MaxCapacity: scaling.max };
  }

  async function destroyCluster(handle: AuroraCopyHandle): Promise<Removal> {
    api.assertCopyName('DB cluster', handle.clusterId);
    const cluster = await findCluster(handle.clusterId);
    if (!cluster) return destroyInstance(api, handle.instanceId, { auroraMember: true });
    await api.assertOurs('DB cluster', handle.clusterId, cluster.DBClusterArn);
    const members = new Set([...(cluster.DBClusterMembers ?? []).map((m) => m.DBInstanceIdentifier ?? ''), handle.instanceId]);
    for (const member of members) await destroyInstance(api, member, { auroraMember: true });
    if (cluster.Status === 'deleting') return 'deleted-meanwhile';
    await api.deleteWhenAllowed(
      'DeleteDBCluster',
      `DB cluster "${handle.clusterId}"`,
      () => api.rds.send(new DeleteDBClusterCommand({ DBClusterIdentifier: handle.clusterId, SkipFinalSnapshot: true, DeleteAutomatedBackups: true })),
      ['InvalidDBClusterStateFault'],
      { goneCodes: ['DBClusterNotFoundFault'], goingAway: async () => ['deleting', undefined].includes((await findCluster(handle.clusterId))?.Status) },
    );
    return undefined;
  }

  return {
    kind: 'aurora',
    pollIntervalMs: POLL_INTERVAL_MS.aurora,

    async window() {
      return (await sourceOfBackups()).window;
    },

    async start({ target, copyName, expiresAt }) {
      const network = requireNetwork(config, 'provider');
      const source = await sourceOfBackups();
      const scaling = serverlessScaling(source);
      const startedAt = new Date().toISOString();
      try {
        await api.rds.send(
          new RestoreDBClusterToPointInTimeCommand({
            ...(source.retained ? { SourceDbClusterResourceId: source.resourceId } : { SourceDBClusterIdentifier: config.clusterId }),
            DBClusterIdentifier: copyName,
            RestoreType: 'full-copy',
            ...(target.kind === 'latest' ? { UseLatestRestorableTime: true } : { RestoreToTime: target.time }),
            DBSubnetGroupName: network.subnetGroup,
            VpcSecurityGroupIds: network.securityGroupIds,
            ...(config.clusterParameterGroup ? { DBClusterParameterGroupName: config.clusterParameterGroup } : {}),
            ...(scaling ? { ServerlessV2ScalingConfiguration: scaling } : {}),
            DeletionProtection: false,
            CopyTagsToSnapshot: false,
            EnableIAMDatabaseAuthentication: 'iam' in config.credentials,
            Tags: copyTags(copyName, options.database, expiresAt),
          }),
        );
      } catch (error) {
        if (!isAwsError(error, 'DBClusterAlreadyExistsFault')) throw explainAwsError(error, api.context('RestoreDBClusterToPointInTime', `${sourceLabel} (copy ${copyName})`));
        // The SDK retried a restore RDS had carried out: go on with the cluster if it is this drill's.
        await api.adoptIfOurs('DB cluster', copyName, error, async () => {
          const existing = await findCluster(copyName);
          return existing?.DBClusterArn ? api.tagsOf(existing.DBClusterArn).catch(() => existing.TagList) : undefined;
        });
      }
      const handle: AuroraCopyHandle = {
        provider: 'aurora',
        name: copyName,
        clusterId: copyName,
        instanceId: auroraInstanceId(copyName),
        region: config.region,
        source: { clusterId: config.clusterId, resourceId: source.resourceId },
        target: target.kind === 'latest' ? { kind: 'latest' } : { kind: 'time', time: target.time.toISOString() },
        expiresAt: expiresAt.toISOString(),
        startedAt,
      };
      api.removeOnSignal(copyName, () => destroyCluster(handle));
      return handle;
    },

    // Each poll looks at what exists, so that a poll in another Lambda (or after a retry) does the same.
    async poll(handle): Promise<CopyPoll> {
      const cluster = await findCluster(handle.clusterId);
      if (!cluster) {
        if (api.withinNotFoundGrace(handle.startedAt)) return { state: 'pending', detail: 'cluster not visible yet (RDS is eventually consistent right after a restore)' };
        return { state: 'failed', reason: `DB cluster ${handle.clusterId} disappeared while it was being restored` };
      }
      const status = cluster.Status ?? 'unknown';
      if (FAILED_CLUSTER_STATUSES.has(status)) return { state: 'failed', reason: failedReason('DB cluster', handle.clusterId, status) };
      if (!USABLE_STATUSES.has(status)) return { state: 'pending', detail: `cluster ${status}` };
      const instance = await api.findInstance(handle.instanceId);
      if (!instance) {
        try {
          await api.rds.send(
            new CreateDBInstanceCommand({
              DBInstanceIdentifier: handle.instanceId,
              DBClusterIdentifier: handle.clusterId,
              Engine: cluster.Engine,
              DBInstanceClass: config.instanceClass,
              ...(config.parameterGroup ? { DBParameterGroupName: config.parameterGroup } : {}),
              PubliclyAccessible: false,
              AutoMinorVersionUpgrade: false,
              Tags: copyTags(handle.name, options.database, new Date(handle.expiresAt)),
            }),
          );
        } catch (error) {
          // An earlier poll's create went through and Describe does not show it yet (eventual consistency);
          // or the cluster flapped out of available since it was read: both are for a later poll.
          if (!isAwsError(error, 'DBInstanceAlreadyExists', 'InvalidDBClusterStateFault')) throw explainAwsError(error, api.context('CreateDBInstance', `DB instance "${handle.instanceId}" in cluster ${handle.clusterId}`));
        }
        return { state: 'pending', detail: 'adding an instance to the cluster' };
      }
      const instanceStatus = instance.DBInstanceStatus ?? 'unknown';
      if (FAILED_INSTANCE_STATUSES.has(instanceStatus)) return { state: 'failed', reason: failedReason('DB instance', handle.instanceId, instanceStatus) };
      if (!USABLE_STATUSES.has(instanceStatus) || !cluster.Endpoint || !cluster.Port) return { state: 'pending', detail: `instance ${instanceStatus}` };
      const steady = await api.confirmedReady(async () => {
        const [again, member] = await Promise.all([findCluster(handle.clusterId), api.findInstance(handle.instanceId)]);
        return USABLE_STATUSES.has(again?.Status ?? '') && USABLE_STATUSES.has(member?.DBInstanceStatus ?? '');
      });
      if (!steady) return { state: 'pending', detail: `cluster ${status}, not yet steady` };
      return { state: 'ready', connection: await api.connectionTo(cluster.Endpoint, cluster.Port), lastReplayedAt: null };
    },

    async destroy(handle) {
      const removed = await api.untilVisible(`DB cluster "${handle.clusterId}"`, handle, () => destroyCluster(handle));
      api.forgetOnSignal(handle.name);
      return removed;
    },

    keep: (handle) => api.forgetOnSignal(handle.name),

    connectionSecrets: (connection) => api.connectionSecrets(connection),

    copyNameOf: (handle) => handle.name,

    async listCopies(): Promise<ListedCopy<AuroraCopyHandle>[]> {
      const copies: ListedCopy<AuroraCopyHandle>[] = [];
      try {
        for await (const page of paginateDescribeDBClusters({ client: api.rds }, {})) {
          for (const cluster of page.DBClusters ?? []) {
            const id = cluster.DBClusterIdentifier ?? '';
            if (!hasCopyName(id) || !isManaged(cluster.TagList)) continue;
            const expiresAt = expiresAtOf(cluster.TagList);
            copies.push({
              name: id,
              expiresAt,
              handle: {
                provider: 'aurora',
                name: id,
                clusterId: id,
                instanceId: auroraInstanceId(id),
                region: config.region,
                source: { clusterId: '' },
                target: { kind: 'latest' },
                expiresAt: expiresAt?.toISOString() ?? '',
                ...(cluster.ClusterCreateTime ? { startedAt: cluster.ClusterCreateTime.toISOString() } : {}),
                listedAt: new Date().toISOString(),
              },
            });
          }
        }
      } catch (error) {
        throw explainAwsError(error, api.context('DescribeDBClusters', 'all DB clusters'));
      }
      return copies;
    },
  };
}
