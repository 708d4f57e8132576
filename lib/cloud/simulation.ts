import type { ContextEntry } from '@aws-sdk/client-iam';
import { COPY_TAG_KEYS, copyTags } from '../providers/rds/tags.ts';
import { rdsActionsOf, REPORT_BUCKET_ACTIONS, type AwsDatabaseKind, type DrillRole } from '../infra/roleActions.ts';

/**
 * How AWS authorises the calls the role table (lib/infra/roleActions.ts) lists: against which
 * resources, with which request context. That table says which actions each function calls; this
 * says what AWS evaluates when it does, so that `iam:SimulatePrincipalPolicy` answers the question
 * AWS will ask at the call. The policy simulator matches resources literally: an action granted only
 * on `rd-*` is denied on `*`, so every resource-scoped call is simulated on a resource of the kind the
 * call touches (a copy name with our prefix; the configured source). Simulated resources need not exist.
 */

export interface SimulationScope {
  partition: string;
  region: string;
  account: string;
  /** The database kinds the function works on. */
  kinds: ReadonlySet<AwsDatabaseKind>;
  /** The sources' ARNs (the stack's Databases output); empty when the stack has none. */
  sources: { rds: readonly string[]; aurora: readonly string[] };
  reportsBucket: string | undefined;
}

/** One SimulatePrincipalPolicy call: one action on the resources AWS authorises it against. */
export interface SimulationRequest {
  action: string;
  resources: string[];
  context: ContextEntry[];
  /** What could not be simulated as AWS would ask it, for the reader. */
  notes: string[];
}

/** Names in the shape of a copy (rd-<database>-<time>-<4>), so that grants held to our prefix apply. */
const COPY = 'rd-cloudcheck-20000101000000-test';
const COPY_MEMBER = `${COPY}-i1`;
const CHECK_DATABASE = 'cloudcheck';

type Kind = 'copyInstance' | 'copyCluster' | 'copyMember' | 'sourceInstance' | 'sourceCluster' | 'autoBackup' | 'clusterAutoBackup' | 'subnetGroup' | 'optionGroup' | 'parameterGroup' | 'clusterParameterGroup' | 'reportObject' | 'reportsBucket' | 'any';
type Context = 'createTags' | 'ourTags' | 'reportsPrefix';

interface Authorisation {
  on: (kinds: ReadonlySet<AwsDatabaseKind>) => Kind[];
  context?: Context;
}

const byKind = (rds: Kind[], aurora: Kind[]) => (kinds: ReadonlySet<AwsDatabaseKind>): Kind[] => [...(kinds.has('rds') ? rds : []), ...(kinds.has('aurora') ? aurora : [])];
const always = (resources: Kind[]) => (): Kind[] => resources;

/** What each action of the role table is authorised against (the Service Authorization Reference, and RDS's extra authorisations). */
export const AUTHORISATIONS: Readonly<Record<string, Authorisation>> = {
  'rds:DescribeDBInstances': { on: always(['any']) },
  'rds:DescribeDBClusters': { on: always(['any']) },
  'rds:DescribeDBInstanceAutomatedBackups': { on: always(['autoBackup']) },
  'rds:DescribeDBClusterAutomatedBackups': { on: always(['clusterAutoBackup']) },
  // The live source or (the bad day) its retained backups, the new copy, and what it is placed into.
  'rds:RestoreDBInstanceToPointInTime': { on: always(['sourceInstance', 'autoBackup', 'copyInstance', 'subnetGroup', 'optionGroup', 'parameterGroup']), context: 'createTags' },
  'rds:RestoreDBClusterToPointInTime': { on: always(['sourceCluster', 'clusterAutoBackup', 'copyCluster', 'subnetGroup', 'optionGroup', 'clusterParameterGroup']), context: 'createTags' },
  // Aurora's instance, added to the restored cluster with the default groups.
  'rds:CreateDBInstance': { on: always(['copyMember', 'copyCluster', 'optionGroup', 'parameterGroup']), context: 'createTags' },
  // RDS authorises the Tags of a create request as AddTagsToResource on the new resource.
  'rds:AddTagsToResource': { on: byKind(['copyInstance'], ['copyCluster', 'copyMember']), context: 'createTags' },
  'rds:ListTagsForResource': { on: byKind(['copyInstance'], ['copyCluster', 'copyMember']), context: 'ourTags' },
  'rds:DeleteDBInstance': { on: byKind(['copyInstance'], ['copyMember']), context: 'ourTags' },
  'rds:DeleteDBCluster': { on: always(['copyCluster']), context: 'ourTags' },
  's3:GetObject': { on: always(['reportObject']) },
  's3:PutObject': { on: always(['reportObject']) },
  's3:ListBucket': { on: always(['reportsBucket']), context: 'reportsPrefix' },
};

/** The actions a function's role must be allowed, from the role table. */
export function actionsOf(role: DrillRole, kinds: ReadonlySet<AwsDatabaseKind>): string[] {
  return [...rdsActionsOf(role, kinds), ...REPORT_BUCKET_ACTIONS[role]];
}

/** The SimulatePrincipalPolicy calls for a role: one per action of the role table (none on resources it cannot name: see notes). */
export function simulationRequests(role: DrillRole, scope: SimulationScope): SimulationRequest[] {
  return actionsOf(role, scope.kinds).map((action) => {
    const authorisation = AUTHORISATIONS[action];
    if (!authorisation) {
      return { action, resources: ['*'], context: [], notes: [`simulated on *: lib/cloud/simulation.ts does not say what AWS authorises ${action} against`] };
    }
    const notes: string[] = [];
    const resources = authorisation.on(scope.kinds).flatMap((kind) => {
      const arns = resourcesOf(kind, scope);
      if (!arns.length) notes.push(notSimulated(kind));
      return arns;
    });
    return { action, resources: [...new Set(resources)], context: authorisation.context ? contextOf(authorisation.context) : [], notes };
  });
}

function notSimulated(kind: Kind): string {
  if (kind === 'sourceInstance' || kind === 'sourceCluster') return 'the source itself was not simulated: the stack has no Databases output (redeploy with a restore-drill that writes it)';
  return 'the reports bucket was not simulated: the stack has no ReportsBucketName output';
}

function resourcesOf(kind: Kind, scope: SimulationScope): string[] {
  const rds = (type: string, name: string) => `arn:${scope.partition}:rds:${scope.region}:${scope.account}:${type}:${name}`;
  switch (kind) {
    case 'any': return ['*'];
    case 'copyInstance': return [rds('db', COPY)];
    case 'copyCluster': return [rds('cluster', COPY)];
    case 'copyMember': return [rds('db', COPY_MEMBER)];
    case 'sourceInstance': return [...scope.sources.rds];
    case 'sourceCluster': return [...scope.sources.aurora];
    // Any backup, group or parameter group: the copy's are named by RDS or by the stack at deploy time.
    case 'autoBackup': return [rds('auto-backup', 'ab-cloudcheck')];
    case 'clusterAutoBackup': return [rds('cluster-auto-backup', 'cluster-cloudcheck')];
    case 'subnetGroup': return [rds('subgrp', 'restore-drill-cloudcheck')];
    case 'optionGroup': return [rds('og', 'default:postgres-16')];
    case 'parameterGroup': return [rds('pg', 'default.postgres16')];
    case 'clusterParameterGroup': return [rds('cluster-pg', 'default.aurora-postgresql16')];
    case 'reportObject': return scope.reportsBucket ? [`arn:${scope.partition}:s3:::${scope.reportsBucket}/reports/${CHECK_DATABASE}/20000101T000000Z.json`] : [];
    case 'reportsBucket': return scope.reportsBucket ? [`arn:${scope.partition}:s3:::${scope.reportsBucket}`] : [];
  }
}

/** The request context AWS evaluates with: the copy's own tags (lib/providers/rds/tags.ts), as the providers send them. */
function contextOf(context: Context): ContextEntry[] {
  if (context === 'reportsPrefix') return [{ ContextKeyName: 's3:prefix', ContextKeyType: 'string', ContextKeyValues: [`reports/${CHECK_DATABASE}/`] }];
  const tags = copyTags(COPY, CHECK_DATABASE, new Date('2000-01-02T00:00:00Z'));
  const each = (prefix: string): ContextEntry[] => tags.map((tag) => ({ ContextKeyName: `${prefix}${tag.Key}`, ContextKeyType: 'string', ContextKeyValues: [tag.Value ?? ''] }));
  if (context === 'createTags') {
    return [...each('aws:RequestTag/'), ...each('rds:req-tag/'), { ContextKeyName: 'aws:TagKeys', ContextKeyType: 'stringList', ContextKeyValues: [...COPY_TAG_KEYS] }];
  }
  return [...each('aws:ResourceTag/'), ...each('rds:db-tag/'), ...each('rds:cluster-tag/')];
}
