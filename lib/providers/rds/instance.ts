import type { DBInstanceAutomatedBackup } from '@aws-sdk/client-rds';
import type { RdsProviderConfig } from '../../config/schema.ts';
import { ConfigError, RestoreDrillError } from '../../errors.ts';
import { POLL_INTERVAL_MS } from '../pollInterval.ts';
import type { CopyPoll, CopyTarget, ListedCopy, RestoreProvider, RestoreWindow } from '../types.ts';
import { AwsApi, failedReason, FAILED_INSTANCE_STATUSES, requireNetwork, sameKey, USABLE_STATUSES, type AwsProviderOptions, type Removal } from './api.ts';
import { explainAwsError, isAwsError } from './errors.ts';
import { DeleteDBInstanceCommand, DescribeDBInstanceAutomatedBackupsCommand, paginateDescribeDBInstanceAutomatedBackups, paginateDescribeDBInstances, RestoreDBInstanceToPointInTimeCommand } from './sdk.ts';
import { copyTags, expiresAtOf, hasCopyName, isManaged } from './tags.ts';

/** An RDS instance copy, as plain JSON. */
export interface RdsCopyHandle {
  provider: 'rds';
  name: string;
  instanceId: string;
  region: string;
  /** The source, by identifier and by its DbiResourceId (what its retained backups are found by, the bad day). */
  source: { instanceId: string; resourceId?: string };
  target: { kind: 'latest' } | { kind: 'time'; time: string };
  expiresAt: string;
  /** When the restore was asked for: NotFound soon after it is eventual consistency. */
  startedAt?: string;
  /** Set by listCopies: when DescribeDBInstances listed it (Describe by its identifier may lag behind). */
  listedAt?: string;
}

/** Where to restore from: the live instance, or (the bad day) the retained automated backups of a deleted one. */
interface SourceOfBackups {
  window: RestoreWindow;
  /** The source's DbiResourceId, live or gone. */
  resourceId: string;
  /** Set when the instance is gone and only its retained backups are left. */
  retained: boolean;
}

/** The `rds` provider: point-in-time copies of one RDS DB instance. The source is only ever read. */
export function rdsInstanceProvider(config: RdsProviderConfig, options: AwsProviderOptions): RestoreProvider<RdsCopyHandle> {
  const api = new AwsApi(config, options);
  const sourceLabel = `DB instance "${config.instanceId}"`;
  const backupsOff = (retention: number | undefined) =>
    new RestoreDrillError('backup', `${sourceLabel} has no restorable window: its backup retention period is ${retention ?? 0} (automated backups off). Point-in-time restore needs them: turn on automated backups (BackupRetentionPeriod 1 to 35).`);

  async function sourceOfBackups(): Promise<SourceOfBackups> {
    const instance = await api.findInstance(config.instanceId);
    if (instance) {
      checkKey(instance.KmsKeyId, instance.StorageEncrypted);
      const latest = instance.LatestRestorableTime;
      if (!instance.BackupRetentionPeriod || !latest || !instance.DbiResourceId) throw backupsOff(instance.BackupRetentionPeriod);
      // DescribeDBInstances names only the latest restorable time; the earliest is on the automated backup.
      let backups: DBInstanceAutomatedBackup[];
      try {
        backups = (await api.rds.send(new DescribeDBInstanceAutomatedBackupsCommand({ DbiResourceId: instance.DbiResourceId }))).DBInstanceAutomatedBackups ?? [];
      } catch (error) {
        if (isAwsError(error, 'DBInstanceAutomatedBackupNotFound')) throw backupsOff(instance.BackupRetentionPeriod);
        throw explainAwsError(error, api.context('DescribeDBInstanceAutomatedBackups', sourceLabel));
      }
      const earliest = backups[0]?.RestoreWindow?.EarliestTime;
      if (!earliest) throw backupsOff(instance.BackupRetentionPeriod);
      return { window: { earliest, latest }, resourceId: instance.DbiResourceId, retained: false };
    }
    const retained = await retainedBackup();
    return { window: { earliest: retained.RestoreWindow!.EarliestTime!, latest: retained.RestoreWindow!.LatestTime! }, resourceId: retained.DbiResourceId!, retained: true };
  }

  /** The key the config names for the grant must be the one the source is encrypted with. */
  function checkKey(sourceKey: string | undefined, encrypted: boolean | undefined): void {
    if (!config.kmsKeyId || !encrypted || !sourceKey || sameKey(config.kmsKeyId, sourceKey)) return;
    throw new ConfigError(`provider.kmsKeyId is ${config.kmsKeyId}, but ${sourceLabel} is encrypted with ${sourceKey}: name the source's key, so that the grant to use it (kms:CreateGrant, kms:DescribeKey through RDS) is for the right key`);
  }

  /**
   * The retained automated backups of a deleted instance. The API finds them by DbiResourceId (the
   * config's sourceResourceId, recorded in every drill's copy handle); without it, in the list of all
   * automated backups, page by page, by the identifier the instance had.
   */
  async function retainedBackup(): Promise<DBInstanceAutomatedBackup> {
    const backups: DBInstanceAutomatedBackup[] = [];
    try {
      if (config.sourceResourceId) {
        backups.push(...((await api.rds.send(new DescribeDBInstanceAutomatedBackupsCommand({ DbiResourceId: config.sourceResourceId }))).DBInstanceAutomatedBackups ?? []));
      } else {
        for await (const page of paginateDescribeDBInstanceAutomatedBackups({ client: api.rds }, {})) {
          backups.push(...(page.DBInstanceAutomatedBackups ?? []).filter((b) => b.DBInstanceIdentifier?.toLowerCase() === config.instanceId.toLowerCase()));
        }
      }
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
        `RDS has no ${sourceLabel} in ${config.region}, and no retained automated backups of it${config.sourceResourceId ? ` (DbiResourceId ${config.sourceResourceId})` : ''}. Check provider.instanceId${config.sourceResourceId ? ', provider.sourceResourceId' : ''} and provider.region, and that these AWS credentials belong to the account that owns it.`,
      );
    }
    return usable[0];
  }

  async function usable(instanceId: string): Promise<boolean> {
    const instance = await api.findInstance(instanceId);
    return USABLE_STATUSES.has(instance?.DBInstanceStatus ?? '') && Boolean(instance?.Endpoint?.Address && instance.Endpoint.Port);
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
      const startedAt = new Date().toISOString();
      try {
        await api.rds.send(
          new RestoreDBInstanceToPointInTimeCommand({
            ...(source.retained ? { SourceDbiResourceId: source.resourceId } : { SourceDBInstanceIdentifier: config.instanceId }),
            TargetDBInstanceIdentifier: copyName,
            ...restoreTime(target),
            DBInstanceClass: config.instanceClass,
            DBSubnetGroupName: network.subnetGroup,
            VpcSecurityGroupIds: network.securityGroupIds,
            ...(config.parameterGroup ? { DBParameterGroupName: config.parameterGroup } : {}),
            PubliclyAccessible: false,
            MultiAZ: false,
            DeletionProtection: false,
            BackupRetentionPeriod: 0,
            AutoMinorVersionUpgrade: false,
            CopyTagsToSnapshot: false,
            EnableIAMDatabaseAuthentication: 'iam' in config.credentials,
            Tags: copyTags(copyName, options.database, expiresAt),
          }),
        );
      } catch (error) {
        if (!isAwsError(error, 'DBInstanceAlreadyExists')) throw explainAwsError(error, api.context('RestoreDBInstanceToPointInTime', `${sourceLabel} (copy ${copyName})`));
        // The SDK retried a restore RDS had carried out: go on with the copy if it is this drill's.
        await api.adoptIfOurs('DB instance', copyName, error, async () => {
          const existing = await api.findInstance(copyName);
          return existing?.DBInstanceArn ? api.tagsOf(existing.DBInstanceArn).catch(() => existing.TagList) : undefined;
        });
      }
      api.removeOnSignal(copyName, () => destroyInstance(api, copyName));
      return {
        provider: 'rds',
        name: copyName,
        instanceId: copyName,
        region: config.region,
        source: { instanceId: config.instanceId, resourceId: source.resourceId },
        target: target.kind === 'latest' ? { kind: 'latest' } : { kind: 'time', time: target.time.toISOString() },
        expiresAt: expiresAt.toISOString(),
        startedAt,
      };
    },

    async poll(handle): Promise<CopyPoll> {
      const instance = await api.findInstance(handle.instanceId);
      if (!instance) {
        if (api.withinNotFoundGrace(handle.startedAt)) return { state: 'pending', detail: 'not visible yet (RDS is eventually consistent right after a restore)' };
        return { state: 'failed', reason: `DB instance ${handle.instanceId} disappeared while it was being restored` };
      }
      const status = instance.DBInstanceStatus ?? 'unknown';
      if (FAILED_INSTANCE_STATUSES.has(status)) return { state: 'failed', reason: failedReason('DB instance', handle.instanceId, status) };
      if (!USABLE_STATUSES.has(status) || !instance.Endpoint?.Address || !instance.Endpoint.Port) return { state: 'pending', detail: status };
      // One `available` is not ready: a restore can go on to modifying or rebooting right after it.
      if (!(await api.confirmedReady(() => usable(handle.instanceId)))) return { state: 'pending', detail: `${status}, not yet steady` };
      return { state: 'ready', connection: await api.connectionTo(instance.Endpoint.Address, instance.Endpoint.Port), lastReplayedAt: null };
    },

    async destroy(handle) {
      const removed = await api.untilVisible(`DB instance "${handle.instanceId}"`, handle, () => destroyInstance(api, handle.instanceId));
      api.forgetOnSignal(handle.name);
      return removed;
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
              handle: {
                provider: 'rds', name: id, instanceId: id, region: config.region, source: { instanceId: '' }, target: { kind: 'latest' }, expiresAt: expiresAt?.toISOString() ?? '',
                ...(instance.InstanceCreateTime ? { startedAt: instance.InstanceCreateTime.toISOString() } : {}),
                listedAt: new Date().toISOString(),
              },
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

/** Deletes a copy instance of ours (tag read back first), retrying while RDS refuses it for its state; a copy already gone or going is done. */
export async function destroyInstance(api: AwsApi, instanceId: string, options: { auroraMember?: boolean } = {}): Promise<Removal> {
  api.assertCopyName('DB instance', instanceId);
  const instance = await api.findInstance(instanceId);
  if (!instance) return 'not-found';
  try {
    await api.assertOurs('DB instance', instanceId, instance.DBInstanceArn);
  } catch (error) {
    // Deleted by another destroy between the two reads.
    const cause = (error as { cause?: unknown }).cause;
    if (cause !== undefined && isAwsError(cause, 'DBInstanceNotFound')) return 'deleted-meanwhile';
    throw error;
  }
  if (instance.DBInstanceStatus === 'deleting') return 'deleted-meanwhile';
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
    // A member of a cluster that is busy (modifying, backing up) is refused with the cluster's state.
    options.auroraMember ? ['InvalidDBInstanceState', 'InvalidDBInstanceStateFault', 'InvalidDBClusterStateFault'] : ['InvalidDBInstanceState', 'InvalidDBInstanceStateFault'],
    { goneCodes: ['DBInstanceNotFound'], goingAway: async () => ['deleting', undefined].includes((await api.findInstance(instanceId))?.DBInstanceStatus) },
  );
  return undefined;
}
