import type { ContextEntry } from '@aws-sdk/client-iam';
import { COPY_TAG_KEYS, copyTags } from '../providers/rds/tags.ts';
import { AUTHORISATIONS, rdsActionsOf, REPORT_BUCKET_ACTIONS, signingKeyActionsOf, type AwsDatabaseKind, type DrillRole, type Requirement, type ResourceKind } from '../infra/roleActions.ts';

export { AUTHORISATIONS };

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
  /** The report signing key's secret (the stack's SigningKeySecretArn output), when reports are signed. */
  signingKeySecret?: string | undefined;
  /** The customer managed key that secret is encrypted with (SigningKeyKmsKeyArn). */
  signingKeyKmsKey?: string | undefined;
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

/** The actions a function's role must be allowed, from the role table. */
export function actionsOf(role: DrillRole, kinds: ReadonlySet<AwsDatabaseKind>): string[] {
  return [...rdsActionsOf(role, kinds), ...REPORT_BUCKET_ACTIONS[role]];
}

/** The SimulatePrincipalPolicy calls for a role: one per action of the role table (none on resources it cannot name: see notes). */
export function simulationRequests(role: DrillRole, scope: SimulationScope): SimulationRequest[] {
  const signing = signingKeyActionsOf(role, { secret: scope.signingKeySecret !== undefined, customerManagedKey: scope.signingKeyKmsKey !== undefined });
  return [...actionsOf(role, scope.kinds), ...signing].map((action) => {
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
    return { action, resources: [...new Set(resources)], context: authorisation.requires ? contextOf(authorisation.requires, scope) : [], notes };
  });
}

/** A secret's ARN as AWS evaluates it, with the six characters Secrets Manager adds (a partial ARN from the settings gets stand-ins). */
function completeSecretArn(arn: string): string {
  return /-[A-Za-z0-9]{6}$/.test(arn) ? arn : `${arn}-RdChek`;
}

function notSimulated(kind: ResourceKind): string {
  if (kind === 'sourceInstance' || kind === 'sourceCluster') return 'the source itself was not simulated: the stack has no Databases output (redeploy with a restore-drill that writes it)';
  return 'the reports bucket was not simulated: the stack has no ReportsBucketName output';
}

function resourcesOf(kind: ResourceKind, scope: SimulationScope): string[] {
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
    case 'signingKeySecret': return scope.signingKeySecret ? [completeSecretArn(scope.signingKeySecret)] : [];
    case 'signingKeyCmk': return scope.signingKeyKmsKey ? [scope.signingKeyKmsKey] : [];
  }
}

/** The request context that meets a grant's requirement: the copy's own tags (lib/providers/rds/tags.ts), as the providers send them. */
function contextOf(requirement: Requirement, scope: SimulationScope): ContextEntry[] {
  if (requirement === 'viaSecretsManagerForSigningKey') {
    // As Secrets Manager calls KMS for GetSecretValue: through the service of the secret's region, for that secret.
    const secret = completeSecretArn(scope.signingKeySecret ?? '');
    return [
      { ContextKeyName: 'kms:ViaService', ContextKeyType: 'string', ContextKeyValues: [`secretsmanager.${secret.split(':')[3] || scope.region}.amazonaws.com`] },
      { ContextKeyName: 'kms:EncryptionContext:SecretARN', ContextKeyType: 'string', ContextKeyValues: [secret] },
    ];
  }
  if (requirement === 'underReports') return [{ ContextKeyName: 's3:prefix', ContextKeyType: 'string', ContextKeyValues: [`reports/${CHECK_DATABASE}/`] }];
  const tags = copyTags(COPY, CHECK_DATABASE, new Date('2000-01-02T00:00:00Z'));
  const each = (prefix: string): ContextEntry[] => tags.map((tag) => ({ ContextKeyName: `${prefix}${tag.Key}`, ContextKeyType: 'string', ContextKeyValues: [tag.Value ?? ''] }));
  if (requirement === 'createdAsOurs' || requirement === 'createdAsOursPrivately') {
    const created: ContextEntry[] = [...each('aws:RequestTag/'), ...each('rds:req-tag/'), { ContextKeyName: 'aws:TagKeys', ContextKeyType: 'stringList', ContextKeyValues: [...COPY_TAG_KEYS] }];
    return requirement === 'createdAsOurs' ? created : [...created, { ContextKeyName: 'rds:PubliclyAccessible', ContextKeyType: 'boolean', ContextKeyValues: ['false'] }];
  }
  return [...each('aws:ResourceTag/'), ...each('rds:db-tag/'), ...each('rds:cluster-tag/')];
}
