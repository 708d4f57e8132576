import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { DatabaseConfig, RestoreDrillConfig } from '../config/schema.ts';
import { EVIDENCE_KEY } from '../evidence/publish.ts';
import { COPY_TAG_KEYS, MANAGED_TAG } from '../providers/rds/tags.ts';
import { AUTHORISATIONS, KMS_AUTHORISATIONS, kmsActionsOf, rdsActionsOf, REPORT_BUCKET_ACTIONS, signingKeyActionsOf, verifyRoleOf, type AwsDatabaseKind, type DrillRole, type Requirement, type ResourceKind } from './roleActions.ts';
import { secretResources } from './secretArns.ts';

/** Copies are named rd-<database>-...: every permission to create, tag or delete is held to this prefix. */
const COPY_PREFIX = 'rd-';

/** The databases a role works on: each verify function checks only its own kinds. */
function databasesOf(role: DrillRole, databases: readonly DatabaseConfig[]): DatabaseConfig[] {
  if (role === 'report') return [];
  if (role === 'verify' || role === 'verifyInVpc') return databases.filter((database) => verifyRoleOf(database.provider.kind) === role);
  return [...databases];
}

/**
 * RDS: one statement per action the role calls (roleActions.ts), each on the resources RDS authorises
 * that action against. A create request is also authorised as rds:AddTagsToResource on the new
 * resource; RDS has no key that limits tagging to creation, so the guard is our name prefix plus the
 * request's tags: restore-drill:managed=true and no tag keys but ours.
 */
export function grantRds(f: lambda.IFunction, role: DrillRole, allDatabases: readonly DatabaseConfig[], stack: Stack): string[] {
  const databases = databasesOf(role, allDatabases).filter((database) => database.provider.kind === 'rds' || database.provider.kind === 'aurora');
  const wildcards: string[] = [];
  if (role === 'verifyInVpc') wildcards.push(...grantIamAuth(f, databases, stack));
  const actions = rdsActionsOf(role, new Set(databases.map((database) => database.provider.kind as AwsDatabaseKind)));
  if (!actions.length) return wildcards;
  grantKms(f, role, databases);
  const regions = [...new Set(databases.map((database) => ('region' in database.provider ? database.provider.region : stack.region)))];
  const arns = (type: string, name: string) => regions.map((region) => `arn:${stack.partition}:rds:${region}:${stack.account}:${type}:${name}`);
  const resources: Partial<Record<ResourceKind, string[]>> = {
    any: ['*'],
    sourceInstance: databases.flatMap((database) => (database.provider.kind === 'rds' ? arns('db', database.provider.instanceId) : [])),
    sourceCluster: databases.flatMap((database) => (database.provider.kind === 'aurora' ? arns('cluster', database.provider.clusterId) : [])),
    autoBackup: arns('auto-backup', '*'),
    clusterAutoBackup: arns('cluster-auto-backup', '*'),
    copyInstance: arns('db', `${COPY_PREFIX}*`),
    copyMember: arns('db', `${COPY_PREFIX}*`),
    copyCluster: arns('cluster', `${COPY_PREFIX}*`),
    // Any group: a copy's are named by RDS (the defaults) or by the stack at deploy time.
    subnetGroup: arns('subgrp', '*'),
    optionGroup: arns('og', '*'),
    parameterGroup: arns('pg', '*'),
    clusterParameterGroup: arns('cluster-pg', '*'),
  };
  const createdAsOurs = {
    StringEquals: { [`aws:RequestTag/${MANAGED_TAG}`]: 'true' },
    'ForAllValues:StringEquals': { 'aws:TagKeys': [...COPY_TAG_KEYS] },
  };
  const conditions: Partial<Record<Requirement, Record<string, unknown>>> = {
    createdAsOurs,
    // An instance copy is never public (the request says so, and IAM holds it to that).
    createdAsOursPrivately: { ...createdAsOurs, Bool: { 'rds:PubliclyAccessible': 'false' } },
    ownedByUs: { StringEquals: { [`aws:ResourceTag/${MANAGED_TAG}`]: 'true' } },
  };
  const kinds = new Set(databases.map((database) => database.provider.kind as AwsDatabaseKind));
  for (const action of actions) {
    const authorisation = AUTHORISATIONS[action];
    if (!authorisation) throw new Error(`no authorisation for ${action}: say what AWS authorises it against in AUTHORISATIONS (lib/infra/roleActions.ts)`);
    const on = [...new Set(authorisation.on(kinds).flatMap((kind) => resources[kind] ?? []))];
    const condition = authorisation.requires ? conditions[authorisation.requires] : undefined;
    f.addToRolePolicy(new iam.PolicyStatement({ actions: [action], resources: on, ...(condition ? { conditions: condition } : {}) }));
    wildcards.push(...on.filter((resource) => resource !== '*' && resource.includes('*')));
  }
  return wildcards.map((resource) => nagForm(stack, resource));
}

/**
 * KMS through RDS: a restore of a source encrypted with a customer-managed key needs the caller to hold
 * kms:CreateGrant and kms:DescribeKey on that key (provider.kmsKeyId), one statement per action, only as
 * RDS uses them (kms:ViaService rds.<region>.amazonaws.com), the grant only for an AWS resource.
 */
function grantKms(f: lambda.IFunction, role: DrillRole, databases: readonly DatabaseConfig[]): void {
  const keyed = databases.flatMap((database) => ('kmsKeyId' in database.provider && database.provider.kmsKeyId ? [{ key: database.provider.kmsKeyId, region: database.provider.region }] : []));
  const sourceKey = [...new Set(keyed.map((entry) => entry.key))];
  const services = [...new Set(keyed.map((entry) => `rds.${entry.region}.amazonaws.com`))];
  const viaRds = { StringEquals: { 'kms:ViaService': services.length === 1 ? services[0]! : services } };
  const conditions = { viaRds, viaRdsForAwsResource: { ...viaRds, Bool: { 'kms:GrantIsForAWSResource': 'true' } } };
  for (const action of kmsActionsOf(role, sourceKey.length > 0)) {
    const authorisation = KMS_AUTHORISATIONS[action];
    if (!authorisation) throw new Error(`no authorisation for ${action}: say what KMS authorises it against in KMS_AUTHORISATIONS (lib/infra/roleActions.ts)`);
    f.addToRolePolicy(new iam.PolicyStatement({ actions: [action], resources: { sourceKey }[authorisation.on], conditions: conditions[authorisation.requires] }));
  }
}

/** IAM auth tokens: a copy's resource id is not known before it exists, so the grant is scoped by user name. */
function grantIamAuth(f: lambda.IFunction, databases: readonly DatabaseConfig[], stack: Stack): string[] {
  const iamUsers = databases.filter((database) => 'credentials' in database.provider && 'iam' in database.provider.credentials);
  if (!iamUsers.length) return [];
  const resources = iamUsers.map((database) => `arn:${stack.partition}:rds-db:${'region' in database.provider ? database.provider.region : stack.region}:${stack.account}:dbuser:*/${database.connection.user}`);
  f.addToRolePolicy(new iam.PolicyStatement({ actions: ['rds-db:connect'], resources }));
  return resources.map((resource) => nagForm(stack, resource));
}

/**
 * Secrets: each function reads only what its own calls need. The Neon API key by every function that
 * calls Neon, a Neon checks role's password by Start and Verify; the RDS credentials by Poll (the user name) and the verify function in the VPC (the
 * password); a source's read-only password by the verify function of that database; Slack's by Report.
 */
export function grantSecrets(f: lambda.IFunction, role: DrillRole, config: RestoreDrillConfig, slackWebhookSecretArn: string | undefined): string[] {
  const arns = new Set<string>();
  for (const database of databasesOf(role, config.databases)) {
    const provider = database.provider;
    if (provider.kind === 'neon' && 'secretArn' in provider.apiKey) arns.add(provider.apiKey.secretArn);
    // The checks role's password: Start proves the copy can be logged into before branching, Verify logs in.
    if (provider.kind === 'neon' && provider.password && 'secretArn' in provider.password && (role === 'start' || role === 'verify')) arns.add(provider.password.secretArn);
    if ((provider.kind === 'rds' || provider.kind === 'aurora') && 'secretArn' in provider.credentials && (role === 'poll' || role === 'verifyInVpc')) arns.add(provider.credentials.secretArn);
    if (database.source?.passwordSecretArn && role === verifyRoleOf(provider.kind)) arns.add(database.source.passwordSecretArn);
  }
  if (role === 'report' && slackWebhookSecretArn) arns.add(slackWebhookSecretArn);
  if (!arns.size) return [];
  const resources = [...arns].flatMap(secretResources);
  f.addToRolePolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources }));
  return resources.filter((resource) => resource.endsWith('-??????'));
}

/**
 * The report signing key: each function that writes reports (roleActions.ts SIGNING_ROLES) reads that
 * one secret, and, for a secret encrypted with a customer managed key, may decrypt with the key only
 * as Secrets Manager does for that secret (kms:ViaService, and the SecretARN encryption context).
 */
export function grantSigningKey(f: lambda.IFunction, role: DrillRole, key: { secretArn?: string | undefined; kmsKeyArn?: string | undefined }): string[] {
  const actions = signingKeyActionsOf(role, { secret: key.secretArn !== undefined, customerManagedKey: key.kmsKeyArn !== undefined });
  if (!key.secretArn || !actions.length) return [];
  const secret = secretResources(key.secretArn);
  const region = key.secretArn.split(':')[3];
  const resources: Partial<Record<ResourceKind, string[]>> = { signingKeySecret: secret, signingKeyCmk: key.kmsKeyArn ? [key.kmsKeyArn] : [] };
  const complete = secret[0] === key.secretArn;
  const conditions: Partial<Record<Requirement, Record<string, unknown>>> = {
    viaSecretsManagerForSigningKey: complete
      ? { StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com`, 'kms:EncryptionContext:SecretARN': key.secretArn } }
      : { StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` }, StringLike: { 'kms:EncryptionContext:SecretARN': secret[0] } },
  };
  for (const action of actions) {
    const authorisation = AUTHORISATIONS[action]!;
    const condition = authorisation.requires ? conditions[authorisation.requires] : undefined;
    f.addToRolePolicy(new iam.PolicyStatement({ actions: [action], resources: authorisation.on(new Set()).flatMap((kind) => resources[kind] ?? []), ...(condition ? { conditions: condition } : {}) }));
  }
  return secret.filter((resource) => resource.endsWith('-??????'));
}

/** The reports bucket: only the calls each role makes (roleActions.ts), only under reports/. */
export function grantReports(f: lambda.IFunction, role: DrillRole, bucket: s3.IBucket): string[] {
  const actions = REPORT_BUCKET_ACTIONS[role];
  const objects = bucket.arnForObjects('reports/*');
  const onObjects = actions.filter((action) => action !== 's3:ListBucket');
  if (onObjects.length) f.addToRolePolicy(new iam.PolicyStatement({ actions: [...onObjects], resources: [objects] }));
  if (actions.includes('s3:ListBucket')) {
    f.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn], conditions: { StringLike: { 's3:prefix': 'reports/*' } } }));
  }
  // Report writes the evidence page beside the reports, and only that one object.
  if (role === 'report') f.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [bucket.arnForObjects(EVIDENCE_KEY)] }));
  return onObjects.length ? [nagForm(Stack.of(f), objects)] : [];
}

/** How cdk-nag writes a resource in a finding's id: tokens as <Logical.Attr> and <AWS::Pseudo>. */
export function nagForm(stack: Stack, value: unknown): string {
  const resolved = stack.resolve(value) as unknown;
  const part = (item: unknown): string => {
    if (typeof item === 'string') return item;
    const object = item as { Ref?: string; 'Fn::GetAtt'?: [string, string]; 'Fn::Join'?: [string, unknown[]] };
    if (object.Ref) return `<${object.Ref}>`;
    if (object['Fn::GetAtt']) return `<${object['Fn::GetAtt'][0]}.${object['Fn::GetAtt'][1]}>`;
    if (object['Fn::Join']) return object['Fn::Join'][1].map(part).join(object['Fn::Join'][0]);
    return JSON.stringify(item);
  };
  return part(resolved);
}
