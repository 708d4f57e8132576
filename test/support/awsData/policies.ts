import type { PolicyKind } from './cfnSchemas.ts';
import type { CfnResource } from './intrinsics.ts';

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: unknown;
  NotPrincipal?: unknown;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

export interface PolicyDocument {
  Version?: string;
  Id?: string;
  Statement: PolicyStatement | PolicyStatement[];
}

/** One policy document of a template, with where it is (for messages) and what it is attached to. */
export interface TemplatePolicy {
  /** The resource's logical id and the property path, e.g. `RestoreDrillStartServiceRoleDefaultPolicy.PolicyDocument`. */
  where: string;
  kind: PolicyKind;
  /** The logical id of the resource that holds the document. */
  holder: string;
  type: string;
  document: PolicyDocument;
}

type Resolved = Record<string, CfnResource & { Properties: Record<string, unknown> }>;

/** Where each resource type keeps its policy documents, and what kind they are. */
const DOCUMENTS: Record<string, { property: string; kind: PolicyKind }[]> = {
  'AWS::IAM::Policy': [{ property: 'PolicyDocument', kind: 'identity' }],
  'AWS::IAM::ManagedPolicy': [{ property: 'PolicyDocument', kind: 'identity' }],
  'AWS::SNS::TopicPolicy': [{ property: 'PolicyDocument', kind: 'resource' }],
  'AWS::S3::BucketPolicy': [{ property: 'PolicyDocument', kind: 'resource' }],
  'AWS::SQS::QueuePolicy': [{ property: 'PolicyDocument', kind: 'resource' }],
  'AWS::KMS::Key': [{ property: 'KeyPolicy', kind: 'resource' }],
  'AWS::SecretsManager::ResourcePolicy': [{ property: 'ResourcePolicy', kind: 'resource' }],
};

const asDocument = (value: unknown): PolicyDocument => (typeof value === 'string' ? (JSON.parse(value) as PolicyDocument) : (value as PolicyDocument));

/** Every policy document of a (resolved) template: roles' trust and inline policies, policies, resource policies. */
export function policyDocumentsOf(resources: Resolved): TemplatePolicy[] {
  const policies: TemplatePolicy[] = [];
  for (const [id, resource] of Object.entries(resources)) {
    const properties = resource.Properties;
    if (resource.Type === 'AWS::IAM::Role') {
      policies.push({ where: `${id}.AssumeRolePolicyDocument`, kind: 'trust', holder: id, type: resource.Type, document: asDocument(properties.AssumeRolePolicyDocument) });
      for (const [index, inline] of ((properties.Policies as { PolicyName: string; PolicyDocument: unknown }[] | undefined) ?? []).entries()) {
        policies.push({ where: `${id}.Policies[${index}] (${inline.PolicyName})`, kind: 'identity', holder: id, type: resource.Type, document: asDocument(inline.PolicyDocument) });
      }
    }
    for (const { property, kind } of DOCUMENTS[resource.Type] ?? []) {
      if (properties[property] !== undefined) policies.push({ where: `${id}.${property}`, kind, holder: id, type: resource.Type, document: asDocument(properties[property]) });
    }
  }
  return policies;
}

export const statementsOf = (document: PolicyDocument): PolicyStatement[] => (Array.isArray(document.Statement) ? document.Statement : [document.Statement]);

export const listOf = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** A statement's name in a message: its index, and its Sid when it has one. */
export const statementName = (index: number, statement: PolicyStatement) => `Statement[${index}]${statement.Sid ? ` (${statement.Sid})` : ''}`;

/**
 * The identity policies of a role: its inline Policies and every AWS::IAM::Policy / ManagedPolicy
 * whose Roles name it. Its ManagedPolicyArns are not followed (AWS's managed policies are not in the
 * template; the stack's own are attached through Roles).
 */
export function identityPoliciesOfRole(resources: Resolved, roleId: string, roleName: string): { name: string; policy: PolicyDocument }[] {
  const found: { name: string; policy: PolicyDocument }[] = [];
  const role = resources[roleId];
  for (const [index, inline] of ((role?.Properties.Policies as { PolicyName: string; PolicyDocument: unknown }[] | undefined) ?? []).entries()) {
    found.push({ name: `${roleId}.Policies[${index}]`, policy: asDocument(inline.PolicyDocument) });
  }
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::IAM::Policy' && resource.Type !== 'AWS::IAM::ManagedPolicy') continue;
    if (((resource.Properties.Roles as string[] | undefined) ?? []).includes(roleName)) found.push({ name: id, policy: asDocument(resource.Properties.PolicyDocument) });
  }
  return found;
}

/**
 * The statement Lambda adds to a function's resource policy for an AWS::Lambda::Permission
 * (AddPermission): the principal, the action, and SourceArn as ArnLike, SourceAccount as StringEquals.
 */
export function lambdaPermissionStatement(permission: Record<string, unknown>, functionArn: string): PolicyStatement {
  const principal = String(permission.Principal);
  const condition: Record<string, Record<string, unknown>> = {};
  if (permission.SourceArn) condition.ArnLike = { 'aws:SourceArn': permission.SourceArn };
  if (permission.SourceAccount) condition.StringEquals = { 'aws:SourceAccount': permission.SourceAccount };
  if (permission.PrincipalOrgID) condition.StringEquals = { ...condition.StringEquals, 'aws:PrincipalOrgID': permission.PrincipalOrgID };
  return {
    Effect: 'Allow',
    Principal: principal.endsWith('.amazonaws.com') ? { Service: principal } : principal === '*' ? '*' : { AWS: principal },
    Action: String(permission.Action),
    Resource: functionArn,
    ...(Object.keys(condition).length ? { Condition: condition } : {}),
  };
}
