/**
 * Which AWS actions each drill function's code calls, by the kind of database it works on. The stack
 * grants exactly these (restoreDrill.ts builds one statement per action), the deployment check
 * simulates them (restore-drill cloud check), and test/infra/roleActions.test.ts holds the code to
 * them: a new SDK call that is not listed here fails a test.
 */
export type DrillRole = 'plan' | 'start' | 'poll' | 'verify' | 'verifyInVpc' | 'cleanup' | 'janitor' | 'report';
export type AwsDatabaseKind = 'rds' | 'aurora';

/** The provider's calls by what it does (lib/providers/rds/instance.ts and aurora.ts). */
const PROVIDER_CALLS: Record<AwsDatabaseKind, Record<'window' | 'start' | 'poll' | 'connect' | 'destroy' | 'list', readonly string[]>> = {
  rds: {
    // The live instance's latest restorable time, its automated backup's earliest; a deleted one's retained backups.
    window: ['rds:DescribeDBInstances', 'rds:DescribeDBInstanceAutomatedBackups'],
    // RDS authorises the Tags of a create request as AddTagsToResource on the new resource.
    start: ['rds:DescribeDBInstances', 'rds:DescribeDBInstanceAutomatedBackups', 'rds:RestoreDBInstanceToPointInTime', 'rds:AddTagsToResource'],
    poll: ['rds:DescribeDBInstances'],
    connect: [],
    destroy: ['rds:DescribeDBInstances', 'rds:ListTagsForResource', 'rds:DeleteDBInstance'],
    list: ['rds:DescribeDBInstances'],
  },
  aurora: {
    window: ['rds:DescribeDBClusters', 'rds:DescribeDBClusterAutomatedBackups'],
    start: ['rds:DescribeDBClusters', 'rds:DescribeDBClusterAutomatedBackups', 'rds:RestoreDBClusterToPointInTime', 'rds:AddTagsToResource'],
    // Poll adds the cluster's instance once the restored cluster is available.
    poll: ['rds:DescribeDBClusters', 'rds:DescribeDBInstances', 'rds:CreateDBInstance', 'rds:AddTagsToResource'],
    connect: [],
    destroy: ['rds:DescribeDBClusters', 'rds:DescribeDBInstances', 'rds:ListTagsForResource', 'rds:DeleteDBInstance', 'rds:DeleteDBCluster'],
    list: ['rds:DescribeDBClusters'],
  },
};

/** What each function does with a database (lib/drill/tasks.ts, lib/janitor.ts). */
const ROLE_OPERATIONS: Record<DrillRole, readonly (keyof (typeof PROVIDER_CALLS)['rds'])[]> = {
  plan: ['window'],
  start: ['start'],
  poll: ['poll'],
  verify: ['connect'],
  verifyInVpc: ['connect'],
  cleanup: ['destroy'],
  janitor: ['list', 'destroy'],
  report: [],
};

/** The RDS actions a role calls for databases of these kinds, sorted. */
export function rdsActionsOf(role: DrillRole, kinds: Iterable<AwsDatabaseKind>): string[] {
  const actions = new Set<string>();
  for (const kind of kinds) for (const operation of ROLE_OPERATIONS[role]) for (const action of PROVIDER_CALLS[kind][operation]) actions.add(action);
  return [...actions].sort();
}

/**
 * Calls RDS makes to KMS on the caller's behalf, which the caller must therefore hold: a restore of a
 * source encrypted with a customer-managed key (provider.kmsKeyId) creates a grant on that key for the
 * copy's storage and describes the key. Only Start restores; Aurora's CreateDBInstance (Poll) joins a
 * cluster RDS already holds the grant for.
 */
const KMS_VIA_RDS: Record<DrillRole, readonly string[]> = {
  plan: [],
  start: ['kms:CreateGrant', 'kms:DescribeKey'],
  poll: [],
  verify: [],
  verifyInVpc: [],
  cleanup: [],
  janitor: [],
  report: [],
};

/** The KMS actions a role needs for databases whose sources are encrypted with a key of their own, sorted. */
export function kmsActionsOf(role: DrillRole, anyKey: boolean): string[] {
  return anyKey ? [...KMS_VIA_RDS[role]].sort() : [];
}

/**
 * What KMS authorises those calls against, and what the grant requires: the configured keys of the
 * sources (provider.kmsKeyId), only through RDS (kms:ViaService), a grant only for an AWS resource
 * (kms:GrantIsForAWSResource: the copy's storage). Apart from AUTHORISATIONS because the deployment
 * check does not simulate KMS (its keys' policies are the account's, not the stack's).
 */
export const KMS_AUTHORISATIONS: Readonly<Record<string, { on: 'sourceKey'; requires: 'viaRds' | 'viaRdsForAwsResource' }>> = {
  'kms:CreateGrant': { on: 'sourceKey', requires: 'viaRdsForAwsResource' },
  'kms:DescribeKey': { on: 'sourceKey', requires: 'viaRds' },
};

/** Every RDS action the providers call, for any role. */
export const ALL_RDS_ACTIONS: readonly string[] = [...new Set(Object.values(PROVIDER_CALLS).flatMap((calls) => Object.values(calls).flat()))].sort();

/** The reports bucket (lib/report/s3Store.ts): which object calls each function makes. */
export const REPORT_BUCKET_ACTIONS: Record<DrillRole, readonly ('s3:GetObject' | 's3:PutObject' | 's3:ListBucket')[]> = {
  plan: [],
  start: [],
  poll: [],
  // The previous report (row-count drops); a state over Step Functions' budget is saved with its checks.
  verify: ['s3:GetObject', 's3:ListBucket', 's3:PutObject'],
  verifyInVpc: ['s3:GetObject', 's3:ListBucket', 's3:PutObject'],
  // Takes the saved checks back, saves the report.
  cleanup: ['s3:GetObject', 's3:PutObject'],
  janitor: [],
  // Reads the run's reports; lists the last 90 days of them for the evidence page (written under evidence/: EVIDENCE_KEY).
  report: ['s3:GetObject', 's3:PutObject', 's3:ListBucket'],
};

/** Which verify function checks a database: copies in the VPC (RDS, Aurora) are reached only from inside it. */
export function verifyRoleOf(kind: string): 'verify' | 'verifyInVpc' {
  return kind === 'rds' || kind === 'aurora' ? 'verifyInVpc' : 'verify';
}

/** Secrets Manager: every function that reads a secret (which ones: grantSecrets in grants.ts). */
export const SECRET_ACTIONS: readonly string[] = ['secretsmanager:GetSecretValue'];

/**
 * The functions that sign reports: every one that writes them (s3:PutObject under reports/), so that no
 * report the stack stores goes unsigned. Each reads the signing key's secret (settings.signingKeySecretArn).
 */
export const SIGNING_ROLES: readonly DrillRole[] = (Object.keys(REPORT_BUCKET_ACTIONS) as DrillRole[]).filter((role) => REPORT_BUCKET_ACTIONS[role].includes('s3:PutObject'));

/**
 * What a signing function calls for the key: the secret, and (a secret encrypted with a customer managed
 * key) kms:Decrypt, which Secrets Manager calls on the caller's behalf.
 */
export function signingKeyActionsOf(role: DrillRole, key: { secret: boolean; customerManagedKey: boolean }): string[] {
  if (!key.secret || !SIGNING_ROLES.includes(role)) return [];
  return ['secretsmanager:GetSecretValue', ...(key.customerManagedKey ? ['kms:Decrypt'] : [])];
}

/** Calls only the CLI makes (its `cloudwatch` metrics sink); the functions write metrics as EMF lines to their logs. */
export const CLI_ONLY_ACTIONS: readonly string[] = ['cloudwatch:PutMetricData'];

/** What AWS authorises a call against, by kind: the stack grants on these (grants.ts), the deployment check simulates on them (lib/cloud/simulation.ts). */
export type ResourceKind =
  | 'any'
  | 'sourceInstance'
  | 'sourceCluster'
  | 'autoBackup'
  | 'clusterAutoBackup'
  | 'copyInstance'
  | 'copyCluster'
  | 'copyMember'
  | 'subnetGroup'
  | 'optionGroup'
  | 'parameterGroup'
  | 'clusterParameterGroup'
  | 'reportObject'
  | 'reportsBucket'
  | 'signingKeySecret'
  | 'signingKeyCmk';

/**
 * What a grant requires of the request (and so what the request must carry): a copy created with our
 * tags and only our tag keys (an instance also not public), a copy that carries our tag, a listing
 * under reports/.
 */
export type Requirement = 'createdAsOurs' | 'createdAsOursPrivately' | 'ownedByUs' | 'underReports' | 'viaSecretsManagerForSigningKey';

export interface Authorisation {
  on: (kinds: ReadonlySet<AwsDatabaseKind>) => ResourceKind[];
  requires?: Requirement;
}

const byKind = (rds: ResourceKind[], aurora: ResourceKind[]) => (kinds: ReadonlySet<AwsDatabaseKind>): ResourceKind[] => [...(kinds.has('rds') ? rds : []), ...(kinds.has('aurora') ? aurora : [])];
const always = (resources: ResourceKind[]) => (): ResourceKind[] => resources;

/** Each action of the table above, with what AWS authorises it against (the Service Authorization Reference, and RDS's extra authorisations). */
export const AUTHORISATIONS: Readonly<Record<string, Authorisation>> = {
  // Describe calls read metadata only; the janitor lists every instance and cluster to find ours.
  'rds:DescribeDBInstances': { on: always(['any']) },
  'rds:DescribeDBClusters': { on: always(['any']) },
  // By the live source's resource id (its backup), or by the identifier of a source already gone.
  'rds:DescribeDBInstanceAutomatedBackups': { on: always(['sourceInstance', 'autoBackup']) },
  'rds:DescribeDBClusterAutomatedBackups': { on: always(['sourceCluster', 'clusterAutoBackup']) },
  // The source (or, the bad day, its retained backups), the new copy, and what the copy is placed into.
  'rds:RestoreDBInstanceToPointInTime': { on: always(['sourceInstance', 'autoBackup', 'copyInstance', 'subnetGroup', 'optionGroup', 'parameterGroup']), requires: 'createdAsOursPrivately' },
  'rds:RestoreDBClusterToPointInTime': { on: always(['sourceCluster', 'clusterAutoBackup', 'copyCluster', 'subnetGroup', 'optionGroup', 'clusterParameterGroup']), requires: 'createdAsOurs' },
  // The Aurora copy's instance, in our cluster (and its subnet group), with the default parameter and option groups.
  'rds:CreateDBInstance': { on: always(['copyMember', 'copyCluster', 'subnetGroup', 'optionGroup', 'parameterGroup']), requires: 'createdAsOursPrivately' },
  // RDS authorises the Tags of a create request as AddTagsToResource on the new resource.
  'rds:AddTagsToResource': { on: byKind(['copyInstance'], ['copyCluster', 'copyMember']), requires: 'createdAsOurs' },
  'rds:ListTagsForResource': { on: byKind(['copyInstance'], ['copyCluster', 'copyMember']) },
  'rds:DeleteDBInstance': { on: byKind(['copyInstance'], ['copyMember']), requires: 'ownedByUs' },
  'rds:DeleteDBCluster': { on: always(['copyCluster']), requires: 'ownedByUs' },
  's3:GetObject': { on: always(['reportObject']) },
  's3:PutObject': { on: always(['reportObject']) },
  's3:ListBucket': { on: always(['reportsBucket']), requires: 'underReports' },
  // The signing key (the only secret the table grants; the others are grantSecrets' in grants.ts).
  'secretsmanager:GetSecretValue': { on: always(['signingKeySecret']) },
  // Secrets Manager decrypts the secret as the caller: only through it, only for that secret (its encryption context).
  'kms:Decrypt': { on: always(['signingKeyCmk']), requires: 'viaSecretsManagerForSigningKey' },
};
