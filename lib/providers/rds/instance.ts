import type { DBInstanceAutomatedBackup } from '@aws-sdk/client-rds';
import type { RdsProviderConfig } from '../../config/schema.ts';
import { RestoreDrillError } from '../../errors.ts';
import { POLL_INTERVAL_MS } from '../pollInterval.ts';
import type { CopyPoll, CopyTarget, ListedCopy, RestoreProvider, RestoreWindow } from '../types.ts';
import { AwsApi, failedReason, FAILED_STATUSES, requireNetwork, type AwsProviderOptions } from './api.ts';
import { explainAwsError, isAwsError } from './errors.ts';
import { DeleteDBInstanceCommand, DescribeDBInstanceAutomatedBackupsCommand, paginateDescribeDBInstances, RestoreDBInstanceToPointInTimeCommand } from './sdk.ts';
import { copyTags, expiresAtOf, hasCopyName, isManaged } from './tags.ts';

/** An RDS instance copy, as plain JSON. */
export interface RdsCopyHandle {
  provider: 'rds';
  name: string;
  instanceId: string;
  region: string;
  source: { instanceId: string; resourceId?: string };
  target: { kind: 'latest' } | { kind: 'time'; time: string };
  expiresAt: string;
}

/** Where to restore from: the live instance, or (the bad day) the retained automated backups of a deleted one. */
interface SourceOfBackups {
  window: RestoreWindow;
  /** Set when the instance is gone and only its retained backups are left. */
  retainedResourceId?: string;
}

/** The `rds` provider: point-in-time copies of one RDS DB instance. The source is only ever read. */
export function rdsInstanceProvider(config: RdsProviderConfig, options: AwsProviderOptions): RestoreProvider<RdsCopyHandle> {
  const api = new AwsApi(config, options);
  const sourceLabel = `DB instance "${config.instanceId}"`;

  async function sourceOfBackups(): Promise<SourceOfBackups> {
    const instance = await api.findInstance(config.instanceId);
    if (instance) {
      const latest = instance.LatestRestorableTime;
      // DescribeDBInstances names only the latest restorable time; the earliest is on the automated backup.
      const backups = await api.call('DescribeDBInstanceAutomatedBackups', sourceLabel, (rds) =>
        rds.send(new DescribeDBInstanceAutomatedBackupsCommand({ DbiResourceId: instance.DbiResourceId })),
      );
      const earliest = backups.DBInstanceAutomatedBackups?.[0]?.RestoreWindow?.EarliestTime;
      if (!latest || !earliest) {
        throw new RestoreDrillError('backup', `${sourceLabel} has no restorable window (automated backups off? BackupRetentionPeriod ${instance.BackupRetentionPeriod ?? 0}): turn on automated backups`);
      }
      return { window: { earliest, latest } };
    }
    const retained = await retainedBackup();
    return { window: { earliest: retained.RestoreWindow!.EarliestTime!, latest: retained.RestoreWindow!.LatestTime! }, retainedResourceId: retained.DbiResourceId! };
  }

  async function retainedBackup(): Promise<DBInstanceAutomatedBackup> {
    let backups: DBInstanceAutomatedBackup[] = [];
    try {
      const output = await api.rds.send(new DescribeDBInstanceAutomatedBackupsCommand({ DBInstanceIdentifier: config.instanceId }));
      backups = output.DBInstanceAutomatedBackups ?? [];
    } catch (error) {
      if (!isAwsError(error, 'DBInstanceAutomatedBackupNotFound')) {
        throw explainAwsError(error, api.context('DescribeDBInstanceAutomatedBackups', sourceLabel));
      }
    }
    const usable = backups
      .filter((b) => b.RestoreWindow?.EarliestTime && b.RestoreWindow.LatestTime && b.DbiResourceId)
      .sort((a, b) => b.RestoreWindow!.LatestTime!.getTime() - a.RestoreWindow!.LatestTime!.getTime());
    if (!usable[0]) {
      throw new RestoreDrillError(
        'input',
        `RDS has no ${sourceLabel} in ${config.region}, and no retained automated backups of it. Check provider.instanceId and provider.region, and that these AWS credentials belong to the account that owns it.`,
      );
    }
    return usable[0];
  }

  return {
    kind: 'rds',
    pollIntervalMs: POLL_INTERVAL_MS.rds,

    async window() {
      return (await sourceOfBackups()).window;
    },

    async start({ target, copyName, expiresAt }) {
      const network = requireNetwork(config, 'provider');
      const source = await sourceOfBackups();
      await api.call('RestoreDBInstanceToPointInTime', `${sourceLabel} (copy ${copyName})`, (rds) =>
        rds.send(
          new RestoreDBInstanceToPointInTimeCommand({
            ...(source.retainedResourceId ? { SourceDbiResourceId: source.retainedResourceId } : { SourceDBInstanceIdentifier: config.instanceId }),
            TargetDBInstanceIdentifier: copyName,
            ...restoreTime(target),
            DBInstanceClass: config.instanceClass,
            DBSubnetGroupName: network.subnetGroup,
            VpcSecurityGroupIds: network.securityGroupIds,
            PubliclyAccessible: false,
            MultiAZ: false,
            DeletionProtection: false,
            BackupRetentionPeriod: 0,
            AutoMinorVersionUpgrade: false,
            CopyTagsToSnapshot: false,
            EnableIAMDatabaseAuthentication: 'iam' in config.credentials,
            Tags: copyTags(copyName, options.database, expiresAt),
          }),
        ),
      );
      api.removeOnSignal(copyName, () => destroyInstance(api, copyName));
      return {
        provider: 'rds',
        name: copyName,
        instanceId: copyName,
        region: config.region,
        source: { instanceId: config.instanceId, ...(source.retainedResourceId ? { resourceId: source.retainedResourceId } : {}) },
        target: target.kind === 'latest' ? { kind: 'latest' } : { kind: 'time', time: target.time.toISOString() },
        expiresAt: expiresAt.toISOString(),
      };
    },

    async poll(handle): Promise<CopyPoll> {
      const instance = await api.findInstance(handle.instanceId);
      if (!instance) return { state: 'failed', reason: `DB instance ${handle.instanceId} disappeared while it was being restored` };
      const status = instance.DBInstanceStatus ?? 'unknown';
      if (FAILED_STATUSES.has(status)) return { state: 'failed', reason: failedReason('DB instance', handle.instanceId, status) };
      if (status !== 'available' || !instance.Endpoint?.Address || !instance.Endpoint.Port) return { state: 'pending', detail: status };
      return { state: 'ready', connection: await api.connectionTo(instance.Endpoint.Address, instance.Endpoint.Port), lastReplayedAt: null };
    },

    async destroy(handle) {
      await destroyInstance(api, handle.instanceId);
      api.forgetOnSignal(handle.name);
    },

    keep: (handle) => api.forgetOnSignal(handle.name),

    connectionSecrets: (connection) => api.connectionSecrets(connection),

    copyNameOf: (handle) => handle.name,

    async listCopies(): Promise<ListedCopy<RdsCopyHandle>[]> {
      const copies: ListedCopy<RdsCopyHandle>[] = [];
      try {
        for await (const page of paginateDescribeDBInstances({ client: api.rds }, {})) {
          for (const instance of page.DBInstances ?? []) {
            const id = instance.DBInstanceIdentifier ?? '';
            if (instance.DBClusterIdentifier || !hasCopyName(id) || !isManaged(instance.TagList)) continue;
            const expiresAt = expiresAtOf(instance.TagList);
            copies.push({
              name: id,
              expiresAt,
              handle: { provider: 'rds', name: id, instanceId: id, region: config.region, source: { instanceId: '' }, target: { kind: 'latest' }, expiresAt: expiresAt?.toISOString() ?? '' },
            });
          }
        }
      } catch (error) {
        throw explainAwsError(error, api.context('DescribeDBInstances', 'all DB instances'));
      }
      return copies;
    },
  };
}

function restoreTime(target: CopyTarget): { RestoreTime: Date } | { UseLatestRestorableTime: true } {
  return target.kind === 'latest' ? { UseLatestRestorableTime: true } : { RestoreTime: target.time };
}

/** Deletes a copy instance of ours (tag read back first), retrying while RDS refuses it for its state. */
export async function destroyInstance(api: AwsApi, instanceId: string, options: { auroraMember?: boolean } = {}): Promise<void> {
  api.assertCopyName('DB instance', instanceId);
  const instance = await api.findInstance(instanceId);
  if (!instance) return;
  await api.assertOurs('DB instance', instanceId, instance.DBInstanceArn);
  if (instance.DBInstanceStatus === 'deleting') return;
  await api.deleteWhenAllowed(
    'DeleteDBInstance',
    `DB instance "${instanceId}"`,
    () =>
      api.rds.send(
        new DeleteDBInstanceCommand(
          options.auroraMember
            ? { DBInstanceIdentifier: instanceId }
            : { DBInstanceIdentifier: instanceId, SkipFinalSnapshot: true, DeleteAutomatedBackups: true },
        ),
      ),
    ['InvalidDBInstanceState', 'InvalidDBInstanceStateFault'],
  );
}
