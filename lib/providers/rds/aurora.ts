import type { DBCluster, DBClusterAutomatedBackup } from '@aws-sdk/client-rds';
import type { AuroraProviderConfig } from '../../config/schema.ts';
import { RestoreDrillError } from '../../errors.ts';
import { POLL_INTERVAL_MS } from '../pollInterval.ts';
import type { CopyPoll, ListedCopy, RestoreProvider, RestoreWindow } from '../types.ts';
import { AwsApi, failedReason, FAILED_STATUSES, requireNetwork, type AwsProviderOptions } from './api.ts';
import { explainAwsError, isAwsError } from './errors.ts';
import { CreateDBInstanceCommand, DeleteDBClusterCommand, DescribeDBClusterAutomatedBackupsCommand, DescribeDBClustersCommand, paginateDescribeDBClusters, RestoreDBClusterToPointInTimeCommand } from './sdk.ts';
import { destroyInstance } from './instance.ts';
import { copyTags, expiresAtOf, hasCopyName, isManaged } from './tags.ts';

/** An Aurora copy, as plain JSON: the restored cluster and the one instance added to it. */
export interface AuroraCopyHandle {
  provider: 'aurora';
  name: string;
  clusterId: string;
  instanceId: string;
  region: string;
  source: { clusterId: string; resourceId?: string };
  target: { kind: 'latest' } | { kind: 'time'; time: string };
  expiresAt: string;
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
  async function sourceOfBackups(): Promise<{ window: RestoreWindow; retainedResourceId?: string }> {
    const source = await findCluster(config.clusterId);
    if (source) {
      if (!source.EarliestRestorableTime || !source.LatestRestorableTime) {
        throw new RestoreDrillError('backup', `${sourceLabel} has no restorable window (EarliestRestorableTime/LatestRestorableTime missing): check its backup retention`);
      }
      return { window: { earliest: source.EarliestRestorableTime, latest: source.LatestRestorableTime } };
    }
    let backups: DBClusterAutomatedBackup[] = [];
    try {
      backups = (await api.rds.send(new DescribeDBClusterAutomatedBackupsCommand({ DBClusterIdentifier: config.clusterId }))).DBClusterAutomatedBackups ?? [];
    } catch (error) {
      if (!isAwsError(error, 'DBClusterAutomatedBackupNotFoundFault')) throw explainAwsError(error, api.context('DescribeDBClusterAutomatedBackups', sourceLabel));
    }
    const newest = backups
      .filter((b) => b.RestoreWindow?.EarliestTime && b.RestoreWindow.LatestTime && b.DbClusterResourceId)
      .sort((a, b) => b.RestoreWindow!.LatestTime!.getTime() - a.RestoreWindow!.LatestTime!.getTime())[0];
    if (!newest) {
      throw new RestoreDrillError(
        'input',
        `RDS has no ${sourceLabel} in ${config.region}, and no retained automated backups of it. Check provider.clusterId and provider.region, and that these AWS credentials belong to the account that owns it.`,
      );
    }
    return { window: { earliest: newest.RestoreWindow!.EarliestTime!, latest: newest.RestoreWindow!.LatestTime! }, retainedResourceId: newest.DbClusterResourceId! };
  }

  async function destroyCluster(handle: AuroraCopyHandle): Promise<void> {
    api.assertCopyName('DB cluster', handle.clusterId);
    const cluster = await findCluster(handle.clusterId);
    if (!cluster) {
      await destroyInstance(api, handle.instanceId, { auroraMember: true });
      return;
    }
    await api.assertOurs('DB cluster', handle.clusterId, cluster.DBClusterArn);
    const members = new Set([...(cluster.DBClusterMembers ?? []).map((m) => m.DBInstanceIdentifier ?? ''), handle.instanceId]);
    for (const member of members) await destroyInstance(api, member, { auroraMember: true });
    if (cluster.Status === 'deleting') return;
    await api.deleteWhenAllowed(
      'DeleteDBCluster',
      `DB cluster "${handle.clusterId}"`,
      () => api.rds.send(new DeleteDBClusterCommand({ DBClusterIdentifier: handle.clusterId, SkipFinalSnapshot: true, DeleteAutomatedBackups: true })),
      ['InvalidDBClusterStateFault'],
    );
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
      await api.call('RestoreDBClusterToPointInTime', `${sourceLabel} (copy ${copyName})`, (rds) =>
        rds.send(
          new RestoreDBClusterToPointInTimeCommand({
            ...(source.retainedResourceId ? { SourceDbClusterResourceId: source.retainedResourceId } : { SourceDBClusterIdentifier: config.clusterId }),
            DBClusterIdentifier: copyName,
            RestoreType: 'full-copy',
            ...(target.kind === 'latest' ? { UseLatestRestorableTime: true } : { RestoreToTime: target.time }),
            DBSubnetGroupName: network.subnetGroup,
            VpcSecurityGroupIds: network.securityGroupIds,
            DeletionProtection: false,
            CopyTagsToSnapshot: false,
            EnableIAMDatabaseAuthentication: 'iam' in config.credentials,
            Tags: copyTags(copyName, options.database, expiresAt),
          }),
        ),
      );
      const handle: AuroraCopyHandle = {
        provider: 'aurora',
        name: copyName,
        clusterId: copyName,
        instanceId: auroraInstanceId(copyName),
        region: config.region,
        source: { clusterId: config.clusterId, ...(source.retainedResourceId ? { resourceId: source.retainedResourceId } : {}) },
        target: target.kind === 'latest' ? { kind: 'latest' } : { kind: 'time', time: target.time.toISOString() },
        expiresAt: expiresAt.toISOString(),
      };
      api.removeOnSignal(copyName, () => destroyCluster(handle));
      return handle;
    },

    // Each poll looks at what exists, so that a poll in another Lambda (or after a retry) does the same.
    async poll(handle): Promise<CopyPoll> {
      const cluster = await findCluster(handle.clusterId);
      if (!cluster) return { state: 'failed', reason: `DB cluster ${handle.clusterId} disappeared while it was being restored` };
      const status = cluster.Status ?? 'unknown';
      if (FAILED_STATUSES.has(status)) return { state: 'failed', reason: failedReason('DB cluster', handle.clusterId, status) };
      if (status !== 'available') return { state: 'pending', detail: `cluster ${status}` };
      const instance = await api.findInstance(handle.instanceId);
      if (!instance) {
        await api.call('CreateDBInstance', `DB instance "${handle.instanceId}" in cluster ${handle.clusterId}`, (rds) =>
          rds.send(
            new CreateDBInstanceCommand({
              DBInstanceIdentifier: handle.instanceId,
              DBClusterIdentifier: handle.clusterId,
              Engine: cluster.Engine,
              DBInstanceClass: config.instanceClass,
              PubliclyAccessible: false,
              AutoMinorVersionUpgrade: false,
              Tags: copyTags(handle.name, options.database, new Date(handle.expiresAt)),
            }),
          ),
        );
        return { state: 'pending', detail: 'adding an instance to the cluster' };
      }
      const instanceStatus = instance.DBInstanceStatus ?? 'unknown';
      if (FAILED_STATUSES.has(instanceStatus)) return { state: 'failed', reason: failedReason('DB instance', handle.instanceId, instanceStatus) };
      if (instanceStatus !== 'available' || !cluster.Endpoint || !cluster.Port) return { state: 'pending', detail: `instance ${instanceStatus}` };
      return { state: 'ready', connection: await api.connectionTo(cluster.Endpoint, cluster.Port), lastReplayedAt: null };
    },

    async destroy(handle) {
      await destroyCluster(handle);
      api.forgetOnSignal(handle.name);
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
