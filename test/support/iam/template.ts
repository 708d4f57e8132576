import { accessKeyIdFor, secretAccessKeyFor } from './accessKeys.ts';
import type { PolicyDocument, Principal } from './types.ts';

export interface TemplateResource {
  Type: string;
  Properties?: Record<string, unknown>;
}

export interface PrincipalsFromTemplateOptions {
  accountId: string;
  region: string;
  /** @default 'aws' */
  partition?: string;
  /**
   * A deploy-time value the template cannot give (a `Ref` or `Fn::GetAtt` of one of its resources:
   * the bucket's name, the subnet group's name), as the emulators know it; undefined when unknown.
   */
  resolve: (token: unknown) => string | undefined;
}

const LAMBDA_LOGS = ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'];
/** The AWS managed policies our roles attach, as AWS publishes them (aws-managed-policy reference). */
const MANAGED_POLICIES: Record<string, PolicyDocument> = {
  'service-role/AWSLambdaBasicExecutionRole': { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: LAMBDA_LOGS, Resource: '*' }] },
  'service-role/AWSLambdaVPCAccessExecutionRole': {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AWSLambdaVPCAccessExecutionPermissions',
        Effect: 'Allow',
        Action: [...LAMBDA_LOGS, 'ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
        Resource: '*',
      },
    ],
  },
};

/**
 * The principal each AWS::Lambda::Function of a synthesised template runs as: its role's session,
 * with every policy attached to the role (AWS::IAM::Policy and AWS::IAM::ManagedPolicy resources that
 * name it in Roles, its inline Policies, its ManagedPolicyArns), CloudFormation's intrinsics resolved.
 * By the function's logical id; each has its own access key id (accessKeyIdFor(logical id)).
 */
export function principalsFromTemplate(template: { Resources: Record<string, TemplateResource> }, options: PrincipalsFromTemplateOptions): Map<string, Principal> {
  const resources = template.Resources;
  const partition = options.partition ?? 'aws';
  const resolver = new Intrinsics(resources, { ...options, partition });
  const principals = new Map<string, Principal>();
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const roleId = logicalIdOf(resource.Properties?.Role);
    const role = roleId ? resources[roleId] : undefined;
    if (!roleId || role?.Type !== 'AWS::IAM::Role') {
      throw new Error(`function ${id}: its Role ${JSON.stringify(resource.Properties?.Role)} is not a role of this template (Fn::GetAtt [<role>, Arn]); an imported role's policies are not known here`);
    }
    const roleName = resolver.string(role.Properties?.RoleName ?? roleId, `${roleId}.RoleName`);
    const functionName = resolver.string(resource.Properties?.FunctionName ?? id, `${id}.FunctionName`);
    principals.set(id, {
      name: id,
      arn: `arn:${partition}:sts::${options.accountId}:assumed-role/${roleName}/${functionName}`,
      accountId: options.accountId,
      accessKeyId: accessKeyIdFor(id),
      secretAccessKey: secretAccessKeyFor(id),
      identityPolicies: rolePolicies(roleId, resources, resolver),
    });
  }
  return principals;
}

function rolePolicies(roleId: string, resources: Record<string, TemplateResource>, resolver: Intrinsics): PolicyDocument[] {
  const role = resources[roleId]!.Properties ?? {};
  const documents: PolicyDocument[] = [];
  for (const inline of (role.Policies as { PolicyName: unknown; PolicyDocument: unknown }[] | undefined) ?? []) {
    documents.push(resolver.value(inline.PolicyDocument, `${roleId}.Policies`) as PolicyDocument);
  }
  for (const reference of (role.ManagedPolicyArns as unknown[] | undefined) ?? []) {
    const managedId = typeof reference === 'object' && reference !== null && 'Ref' in reference ? String((reference as { Ref: unknown }).Ref) : undefined;
    const managed = managedId ? resources[managedId] : undefined;
    if (managed?.Type === 'AWS::IAM::ManagedPolicy') {
      documents.push(resolver.value(managed.Properties?.PolicyDocument, `${managedId}.PolicyDocument`) as PolicyDocument);
      continue;
    }
    const arn = resolver.string(reference, `${roleId}.ManagedPolicyArns`);
    const name = /^arn:[^:]+:iam::aws:policy\/(.+)$/.exec(arn)?.[1];
    const known = name ? MANAGED_POLICIES[name] : undefined;
    if (!known) throw new Error(`role ${roleId} attaches ${arn}: no model of that managed policy (add it to MANAGED_POLICIES in test/support/iam/template.ts)`);
    documents.push(known);
  }
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::IAM::Policy' && resource.Type !== 'AWS::IAM::ManagedPolicy') continue;
    const roles = (resource.Properties?.Roles as unknown[] | undefined) ?? [];
    if (!roles.some((entry) => logicalIdOf(entry) === roleId)) continue;
    documents.push(resolver.value(resource.Properties?.PolicyDocument, `${id}.PolicyDocument`) as PolicyDocument);
  }
  return documents;
}

/** A `{Ref: id}` or `{Fn::GetAtt: [id, ...]}` of one of the template's resources. */
function logicalIdOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if ('Ref' in value) return String((value as { Ref: unknown }).Ref);
  const getAtt = (value as { 'Fn::GetAtt'?: unknown })['Fn::GetAtt'];
  if (Array.isArray(getAtt)) return String(getAtt[0]);
  if (typeof getAtt === 'string') return getAtt.split('.')[0];
  return undefined;
}

/** CloudFormation's intrinsic functions, as CloudFormation resolves them at deploy time. */
class Intrinsics {
  private readonly resources: Record<string, TemplateResource>;
  private readonly options: PrincipalsFromTemplateOptions & { partition: string };

  constructor(resources: Record<string, TemplateResource>, options: PrincipalsFromTemplateOptions & { partition: string }) {
    this.resources = resources;
    this.options = options;
  }

  string(value: unknown, where: string): string {
    const resolved = this.value(value, where);
    if (typeof resolved !== 'string') throw new Error(`${where}: ${JSON.stringify(value)} does not resolve to a string`);
    return resolved;
  }

  value(value: unknown, where: string): unknown {
    if (Array.isArray(value)) return value.map((item) => this.value(item, where));
    if (typeof value !== 'object' || value === null) return value;
    const entries = Object.entries(value);
    const [name, argument] = entries[0] ?? [];
    if (entries.length === 1 && name && (name === 'Ref' || name.startsWith('Fn::'))) return this.intrinsic(name, argument, where);
    return Object.fromEntries(entries.map(([key, item]) => [key, this.value(item, where)]));
  }

  private intrinsic(name: string, argument: unknown, where: string): unknown {
    switch (name) {
      case 'Ref':
        return this.ref(String(argument), where);
      case 'Fn::GetAtt': {
        const [id, attribute] = Array.isArray(argument) ? argument.map(String) : String(argument).split(/\.(.*)/);
        return this.getAtt(id!, attribute!, where);
      }
      case 'Fn::Join': {
        const [separator, parts] = argument as [string, unknown[]];
        return (this.value(parts, where) as unknown[]).map((part) => this.asString(part, where)).join(separator);
      }
      case 'Fn::Select': {
        const [index, list] = argument as [unknown, unknown];
        const items = this.value(list, where) as unknown[];
        const at = Number(this.value(index, where));
        if (!Array.isArray(items) || !(at in items)) throw new Error(`${where}: Fn::Select ${at} of ${JSON.stringify(items)}`);
        return items[at];
      }
      case 'Fn::Split': {
        const [separator, text] = argument as [string, unknown];
        return this.asString(this.value(text, where), where).split(separator);
      }
      case 'Fn::Sub': {
        const [text, variables] = typeof argument === 'string' ? [argument, {}] : (argument as [string, Record<string, unknown>]);
        return text.replace(/\$\{([^}!][^}]*)\}/g, (_match, variable: string) => {
          if (variable in variables) return this.asString(this.value(variables[variable], where), where);
          const [id, attribute] = variable.split(/\.(.*)/);
          return this.asString(attribute ? this.getAtt(id!, attribute, where) : this.ref(id!, where), where);
        }).replace(/\$\{!/g, '${');
      }
      default:
        throw new Error(`${where}: the intrinsic ${name} is not resolved here (test/support/iam/template.ts)`);
    }
  }

  private ref(id: string, where: string): unknown {
    switch (id) {
      case 'AWS::Partition':
        return this.options.partition;
      case 'AWS::Region':
        return this.options.region;
      case 'AWS::AccountId':
        return this.options.accountId;
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::NoValue':
        return undefined;
    }
    return this.fromCaller({ Ref: id }, where);
  }

  private getAtt(id: string, attribute: string, where: string): unknown {
    const token = { 'Fn::GetAtt': [id, attribute] };
    const given = this.options.resolve(token);
    if (given !== undefined) return given;
    // ARNs CloudFormation builds from a name the caller gave for the Ref.
    const type = this.resources[id]?.Type;
    const name = () => this.asString(this.fromCaller({ Ref: id }, where), where);
    const { partition, region, accountId } = this.options;
    if (attribute === 'Arn' && type === 'AWS::S3::Bucket') return `arn:${partition}:s3:::${name()}`;
    if (attribute === 'Arn' && type === 'AWS::IAM::Role') return `arn:${partition}:iam::${accountId}:role/${name()}`;
    if (attribute === 'Arn' && type === 'AWS::Lambda::Function') return `arn:${partition}:lambda:${region}:${accountId}:function:${name()}`;
    if (attribute === 'Arn' && type === 'AWS::Logs::LogGroup') return `arn:${partition}:logs:${region}:${accountId}:log-group:${name()}:*`;
    throw new Error(`${where}: no value for ${JSON.stringify(token)}: give it in options.resolve`);
  }

  private fromCaller(token: unknown, where: string): unknown {
    const given = this.options.resolve(token);
    if (given !== undefined) return given;
    const id = (token as { Ref: string }).Ref;
    // A role, function or policy without a name given: CloudFormation names it; its logical id stands in.
    const type = this.resources[id]?.Type;
    if (type === 'AWS::IAM::Role' || type === 'AWS::Lambda::Function' || type === 'AWS::Logs::LogGroup') return id;
    throw new Error(`${where}: no value for ${JSON.stringify(token)}: give it in options.resolve`);
  }

  private asString(value: unknown, where: string): string {
    if (typeof value === 'string' || typeof value === 'number') return String(value);
    throw new Error(`${where}: ${JSON.stringify(value)} is not a string`);
  }
}
