import type { QueryParams } from '../../emulators/rds/wire.ts';
import type { AuthorizationRequest } from './types.ts';

export interface RdsTag {
  Key: string;
  Value: string;
}

/** What RDS knows when it authorises a call: the resources that exist, their tags, engines and groups. */
export interface RdsInventory {
  region: string;
  accountId: string;
  partition?: string;
  instance(id: string): { arn: string; tags: readonly RdsTag[]; engine: string; engineVersion: string; subnetGroup?: string | undefined } | undefined;
  cluster(id: string): { arn: string; tags: readonly RdsTag[]; engine: string; engineVersion: string; subnetGroup?: string | undefined } | undefined;
  /** A live or retained automated backup of an instance, by the instance's DbiResourceId. */
  instanceBackup(resourceId: string): { arn: string; engineVersion: string } | undefined;
  clusterBackup(resourceId: string): { arn: string; engineVersion: string } | undefined;
  /** The tags of any resource by ARN (instances, clusters). */
  tagsOf(arn: string): readonly RdsTag[] | undefined;
}

type Context = Record<string, string | string[]>;

/**
 * Every authorisation RDS makes for one Query API call, with the context it sends, per the Service
 * Authorization Reference and the RDS user guide:
 * - a create (restore, CreateDBInstance) is authorised against each resource it involves: the source
 *   (or its automated backup), the new db/cluster, the subnet group, the option group and the
 *   parameter group the copy gets (the engine's default groups unless the request names others);
 * - the Tags of a create are authorised once more as rds:AddTagsToResource on the new resource;
 * - the request's tags are aws:RequestTag/*, aws:TagKeys and rds:req-tag/* on all of them; an existing
 *   resource adds its own tags as aws:ResourceTag/* and rds:db-tag/* (instances) or rds:cluster-tag/*;
 * - a Describe that names nothing is authorised against the type's wildcard ARN (`...:db:*`).
 * RDS has no key that tells a create's tagging from a later AddTagsToResource (no rds:CreateAction).
 */
export function rdsAuthorizations(action: string, params: QueryParams, inventory: RdsInventory): AuthorizationRequest[] {
  const arn = (type: string, name: string) => `arn:${inventory.partition ?? 'aws'}:rds:${inventory.region}:${inventory.accountId}:${type}:${name}`;
  const request = (name: string, resource: string, context: Context = {}): AuthorizationRequest => ({ action: `rds:${name}`, resource, context });
  const tags = requestTags(params);
  const tagContext = tagsContext(tags);
  const existing = (type: 'db' | 'cluster', id: string | undefined): Context => {
    const record = id ? (type === 'db' ? inventory.instance(id) : inventory.cluster(id)) : undefined;
    return record ? resourceTagContext(type, record.tags) : {};
  };
  const withTags = (create: AuthorizationRequest[], newResource: string): AuthorizationRequest[] =>
    tags.length ? [...create, request('AddTagsToResource', newResource, tagContext)] : create;

  switch (action) {
    case 'DescribeDBInstances': {
      const id = params.string('DBInstanceIdentifier');
      return [request(action, arn('db', id ?? '*'), existing('db', id))];
    }
    case 'DescribeDBClusters': {
      const id = params.string('DBClusterIdentifier');
      return [request(action, arn('cluster', id ?? '*'), existing('cluster', id))];
    }
    case 'DescribeDBInstanceAutomatedBackups': {
      // Authorised against what the request names: the instance, or the automated backup.
      const id = params.string('DBInstanceIdentifier');
      if (id) return [request(action, arn('db', id), existing('db', id))];
      const named = params.string('DBInstanceAutomatedBackupsArn') ?? inventory.instanceBackup(params.string('DbiResourceId') ?? '')?.arn;
      return [request(action, named ?? arn('auto-backup', '*'))];
    }
    case 'DescribeDBClusterAutomatedBackups': {
      const id = params.string('DBClusterIdentifier');
      if (id) return [request(action, arn('cluster', id), existing('cluster', id))];
      const named = inventory.clusterBackup(params.string('DbClusterResourceId') ?? '')?.arn;
      return [request(action, named ?? arn('cluster-auto-backup', '*'))];
    }
    case 'ListTagsForResource': {
      const resource = params.string('ResourceName') ?? '';
      return [request(action, resource, resourceTagContextOfArn(resource, inventory))];
    }
    case 'AddTagsToResource': {
      const resource = params.string('ResourceName') ?? '';
      return [request(action, resource, { ...tagContext, ...resourceTagContextOfArn(resource, inventory) })];
    }
    case 'RestoreDBInstanceToPointInTime': {
      const context = { ...tagContext, ...createContext(params) };
      const sourceId = params.string('SourceDBInstanceIdentifier');
      const source = sourceId ? inventory.instance(sourceId) : undefined;
      const backup = inventory.instanceBackup(params.string('SourceDbiResourceId') ?? '');
      const backupArn = params.string('SourceDBInstanceAutomatedBackupsArn') ?? backup?.arn;
      const major = majorOf(source?.engineVersion ?? backup?.engineVersion);
      const engine = params.string('Engine') ?? source?.engine ?? 'postgres';
      const target = arn('db', params.string('TargetDBInstanceIdentifier') ?? '');
      return withTags(
        [
          sourceId ? request(action, arn('db', sourceId), { ...context, ...existing('db', sourceId) }) : request(action, backupArn ?? arn('auto-backup', '*'), context),
          request(action, target, context),
          request(action, arn('subgrp', params.string('DBSubnetGroupName') ?? 'default'), context),
          request(action, arn('og', params.string('OptionGroupName') ?? defaultOptionGroup(engine, major)), context),
          request(action, arn('pg', params.string('DBParameterGroupName') ?? defaultParameterGroup(engine, major)), context),
        ],
        target,
      );
    }
    case 'RestoreDBClusterToPointInTime': {
      const context = { ...tagContext, ...createContext(params) };
      const sourceId = params.string('SourceDBClusterIdentifier');
      const source = sourceId ? inventory.cluster(sourceId) : undefined;
      const backup = inventory.clusterBackup(params.string('SourceDbClusterResourceId') ?? '');
      const major = majorOf(source?.engineVersion ?? backup?.engineVersion);
      const engine = source?.engine ?? 'aurora-postgresql';
      const target = arn('cluster', params.string('DBClusterIdentifier') ?? '');
      return withTags(
        [
          sourceId ? request(action, arn('cluster', sourceId), { ...context, ...existing('cluster', sourceId) }) : request(action, backup?.arn ?? arn('cluster-auto-backup', '*'), context),
          request(action, target, context),
          request(action, arn('subgrp', params.string('DBSubnetGroupName') ?? 'default'), context),
          request(action, arn('og', params.string('OptionGroupName') ?? defaultOptionGroup(engine, major)), context),
          request(action, arn('cluster-pg', params.string('DBClusterParameterGroupName') ?? defaultParameterGroup(engine, major)), context),
        ],
        target,
      );
    }
    case 'CreateDBInstance': {
      const context = { ...tagContext, ...createContext(params) };
      const clusterId = params.string('DBClusterIdentifier');
      const cluster = clusterId ? inventory.cluster(clusterId) : undefined;
      const engine = params.string('Engine') ?? cluster?.engine ?? 'postgres';
      const major = majorOf(params.string('EngineVersion') ?? cluster?.engineVersion);
      const target = arn('db', params.string('DBInstanceIdentifier') ?? '');
      const subnetGroup = params.string('DBSubnetGroupName') ?? cluster?.subnetGroup ?? 'default';
      return withTags(
        [
          request(action, target, context),
          ...(clusterId ? [request(action, arn('cluster', clusterId), { ...context, ...existing('cluster', clusterId) })] : []),
          request(action, arn('subgrp', subnetGroup), context),
          request(action, arn('og', params.string('OptionGroupName') ?? defaultOptionGroup(engine, major)), context),
          request(action, arn('pg', params.string('DBParameterGroupName') ?? defaultParameterGroup(engine, major)), context),
        ],
        target,
      );
    }
    case 'DeleteDBInstance': {
      const id = params.string('DBInstanceIdentifier') ?? '';
      return [request(action, arn('db', id), existing('db', id))];
    }
    case 'DeleteDBCluster': {
      const id = params.string('DBClusterIdentifier') ?? '';
      const final = params.string('FinalDBSnapshotIdentifier');
      return [request(action, arn('cluster', id), existing('cluster', id)), ...(final ? [request(action, arn('cluster-snapshot', final))] : [])];
    }
    default:
      throw new Error(`no IAM model for rds:${action}: add the resources RDS authorises it against to test/support/iam/rds.ts`);
  }
}

function requestTags(params: QueryParams): RdsTag[] {
  return params.structures('Tags').map((fields) => ({ Key: fields.get('Key') ?? '', Value: fields.get('Value') ?? '' }));
}

/** The keys RDS documents for a request's tags. */
export function tagsContext(tags: readonly RdsTag[]): Context {
  if (!tags.length) return {};
  const context: Context = { 'aws:TagKeys': tags.map((tag) => tag.Key) };
  for (const tag of tags) {
    context[`aws:RequestTag/${tag.Key}`] = tag.Value;
    context[`rds:req-tag/${tag.Key}`] = tag.Value;
  }
  return context;
}

/** Request values the create actions' own keys describe, only where the request sets them. */
function createContext(params: QueryParams): Context {
  const context: Context = {};
  const set = (key: string, name: string) => {
    const value = params.string(name);
    if (value !== undefined) context[key] = value;
  };
  const action = params.string('Action');
  if (action === 'RestoreDBClusterToPointInTime') {
    set('rds:DatabaseClass', 'DBClusterInstanceClass');
    set('rds:StorageSize', 'AllocatedStorage');
    set('rds:Piops', 'Iops');
  } else {
    set('rds:PubliclyAccessible', 'PubliclyAccessible');
    set('rds:ManageMasterUserPassword', 'ManageMasterUserPassword');
    set('rds:BackupTarget', 'BackupTarget');
  }
  return context;
}

function resourceTagContext(type: 'db' | 'cluster', tags: readonly RdsTag[]): Context {
  const context: Context = {};
  for (const tag of tags) {
    context[`aws:ResourceTag/${tag.Key}`] = tag.Value;
    context[`rds:${type}-tag/${tag.Key}`] = tag.Value;
  }
  return context;
}

function resourceTagContextOfArn(resource: string, inventory: RdsInventory): Context {
  const type = resource.split(':')[5];
  const tags = inventory.tagsOf(resource);
  if (!tags || (type !== 'db' && type !== 'cluster')) return {};
  return resourceTagContext(type, tags);
}

function majorOf(version: string | undefined): string {
  return (version ?? '15').split('.')[0]!;
}

/** RDS's default parameter group of an engine's family: default.postgres15, default.aurora-postgresql15. */
export function defaultParameterGroup(engine: string, major: string): string {
  return `default.${engine}${major}`;
}

/** RDS's default option group: default:postgres-15, default:aurora-postgresql-15. */
export function defaultOptionGroup(engine: string, major: string): string {
  return `default:${engine}-${major}`;
}
