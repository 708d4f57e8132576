import { createHash } from 'node:crypto';

/** A synthesized template, as far as these checks read it. */
export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Parameters?: Record<string, { Type: string; Default?: unknown }>;
  Conditions?: Record<string, unknown>;
  Mappings?: Record<string, Record<string, Record<string, unknown>>>;
}

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  [attribute: string]: unknown;
}

/** Where the stack is deployed: the values of the pseudo parameters. */
export interface DeployEnv {
  account: string;
  region: string;
  partition: string;
  stackName: string;
}

/** What CloudFormation would return for a resource: its Ref and its attributes (GetAtt). */
export interface StandIn {
  ref: string;
  attributes: Record<string, string>;
}

const NO_VALUE = Symbol('AWS::NoValue');

/** A value CloudFormation makes up, stable per logical id: the same template resolves the same way. */
function made(seed: string, length: number, alphabet = '0123456789abcdef'): string {
  const digest = createHash('sha256').update(seed).digest();
  return Array.from({ length }, (_, i) => alphabet[digest[i % digest.length]! % alphabet.length]).join('');
}

/** The name CloudFormation generates when a template gives none: stack name, logical id, a random suffix. */
function physicalName(env: DeployEnv, id: string, max: number, lowercase = false): string {
  const suffix = made(id, 12, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789');
  const name = `${`${env.stackName}-${id}`.slice(0, max - suffix.length - 1)}-${suffix}`;
  return lowercase ? name.toLowerCase() : name;
}

/**
 * Resolves the intrinsic functions of a template to plausible deployed values: Ref and Fn::GetAtt of
 * every resource as CloudFormation returns them (names, ARNs and ids of the right shape), the pseudo
 * parameters from `env`, Fn::Join, Fn::Sub, Fn::Select, Fn::Split, Fn::GetAZs, Fn::Base64 and
 * Fn::FindInMap. What it cannot resolve (a condition, an import) throws, naming the value.
 */
export class TemplateResolver {
  private readonly standIns = new Map<string, StandIn>();
  private readonly resolving = new Set<string>();

  readonly template: CfnTemplate;
  readonly env: DeployEnv;

  constructor(template: CfnTemplate, env: DeployEnv) {
    this.template = template;
    this.env = env;
  }

  /** Every resource with its Properties resolved. */
  resources(): Record<string, CfnResource & { Properties: Record<string, unknown> }> {
    return Object.fromEntries(Object.entries(this.template.Resources).map(([id, resource]) => [id, { ...resource, Properties: this.resolve(resource.Properties ?? {}, `${id}.Properties`) as Record<string, unknown> }]));
  }

  resolve(value: unknown, at = '(value)'): unknown {
    const resolved = this.resolveValue(value, at);
    return resolved === NO_VALUE ? undefined : resolved;
  }

  /** The Ref and attributes of a resource, as deployed. */
  standIn(id: string): StandIn {
    const known = this.standIns.get(id);
    if (known) return known;
    const resource = this.template.Resources[id];
    if (!resource) throw new Error(`no resource ${id} in the template`);
    if (this.resolving.has(id)) throw new Error(`${id}'s Ref or attributes depend on themselves`);
    this.resolving.add(id);
    try {
      const standIn = this.makeStandIn(id, resource);
      this.standIns.set(id, standIn);
      return standIn;
    } finally {
      this.resolving.delete(id);
    }
  }

  /** The logical id a resolved value stands for (a Ref or an attribute), if any. */
  idOf(value: string): string | undefined {
    for (const id of Object.keys(this.template.Resources)) {
      const standIn = this.standIn(id);
      if (standIn.ref === value || Object.values(standIn.attributes).includes(value)) return id;
    }
    return undefined;
  }

  private property(id: string, name: string): string | undefined {
    const value = this.template.Resources[id]?.Properties?.[name];
    return value === undefined ? undefined : String(this.resolve(value, `${id}.Properties.${name}`));
  }

  private makeStandIn(id: string, resource: CfnResource): StandIn {
    const { account, region, partition } = this.env;
    const arn = (service: string, rest: string, regional = true, withAccount = true) => `arn:${partition}:${service}:${regional ? region : ''}:${withAccount ? account : ''}:${rest}`;
    const named = (property: string, max: number, lowercase = false) => this.property(id, property) ?? physicalName(this.env, id, max, lowercase);
    switch (resource.Type) {
      case 'AWS::S3::Bucket': {
        const name = named('BucketName', 63, true);
        return {
          ref: name,
          attributes: {
            Arn: arn('s3', name, false, false),
            DomainName: `${name}.s3.amazonaws.com`,
            RegionalDomainName: `${name}.s3.${region}.amazonaws.com`,
            DualStackDomainName: `${name}.s3.dualstack.${region}.amazonaws.com`,
            WebsiteURL: `http://${name}.s3-website-${region}.amazonaws.com`,
          },
        };
      }
      case 'AWS::SNS::Topic': {
        const name = named('TopicName', 256);
        return { ref: arn('sns', name), attributes: { TopicArn: arn('sns', name), TopicName: name } };
      }
      case 'AWS::SNS::Subscription': {
        const topic = this.property(id, 'TopicArn') ?? arn('sns', 'topic');
        const subscription = `${topic}:${made(id, 8)}-${made(`${id}1`, 4)}-${made(`${id}2`, 4)}-${made(`${id}3`, 4)}-${made(`${id}4`, 12)}`;
        return { ref: subscription, attributes: { Arn: subscription } };
      }
      case 'AWS::SQS::Queue': {
        const name = named('QueueName', 80);
        return { ref: `https://sqs.${region}.amazonaws.com/${account}/${name}`, attributes: { Arn: arn('sqs', name), QueueName: name, QueueUrl: `https://sqs.${region}.amazonaws.com/${account}/${name}` } };
      }
      case 'AWS::Lambda::Function': {
        const name = named('FunctionName', 64);
        return { ref: name, attributes: { Arn: arn('lambda', `function:${name}`), 'SnapStartResponse.ApplyOn': 'None' } };
      }
      case 'AWS::IAM::Role': {
        const name = named('RoleName', 64);
        const path = this.property(id, 'Path') ?? '/';
        return { ref: name, attributes: { Arn: arn('iam', `role${path}${name}`, false), RoleId: `AROA${made(id, 17, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')}` } };
      }
      case 'AWS::IAM::ManagedPolicy': {
        const name = named('ManagedPolicyName', 128);
        const policyArn = arn('iam', `policy${this.property(id, 'Path') ?? '/'}${name}`, false);
        return { ref: policyArn, attributes: { PolicyArn: policyArn } };
      }
      case 'AWS::StepFunctions::StateMachine': {
        const name = this.property(id, 'StateMachineName') ?? `${id.slice(0, 60)}-${made(id, 12, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789')}`;
        const machine = arn('states', `stateMachine:${name}`);
        return { ref: machine, attributes: { Arn: machine, Name: name, StateMachineRevisionId: made(id, 32) } };
      }
      case 'AWS::Logs::LogGroup': {
        const name = named('LogGroupName', 512);
        // GetAtt Arn of a log group ends in :* (the log group's streams), as CloudFormation documents it.
        return { ref: name, attributes: { Arn: arn('logs', `log-group:${name}:*`) } };
      }
      case 'AWS::EC2::SecurityGroup': {
        const groupId = `sg-${made(id, 17)}`;
        return { ref: groupId, attributes: { GroupId: groupId, Id: groupId, VpcId: this.property(id, 'VpcId') ?? `vpc-${made('vpc', 17)}` } };
      }
      case 'AWS::EC2::SecurityGroupIngress':
      case 'AWS::EC2::SecurityGroupEgress':
        return { ref: `sgr-${made(id, 17)}`, attributes: { Id: `sgr-${made(id, 17)}` } };
      case 'AWS::RDS::DBSubnetGroup':
        return { ref: named('DBSubnetGroupName', 255, true), attributes: {} };
      case 'AWS::CloudWatch::Alarm': {
        const name = named('AlarmName', 255);
        return { ref: name, attributes: { Arn: arn('cloudwatch', `alarm:${name}`) } };
      }
      case 'AWS::CloudWatch::Dashboard':
        return { ref: named('DashboardName', 255), attributes: {} };
      case 'AWS::Scheduler::Schedule': {
        const name = named('Name', 64);
        const group = this.property(id, 'GroupName') ?? 'default';
        return { ref: name, attributes: { Arn: arn('scheduler', `schedule/${group}/${name}`) } };
      }
      case 'AWS::Scheduler::ScheduleGroup': {
        const name = named('Name', 64);
        return { ref: name, attributes: { Arn: arn('scheduler', `schedule-group/${name}`) } };
      }
      case 'AWS::SecretsManager::Secret': {
        const secret = arn('secretsmanager', `secret:${named('Name', 500)}-${made(id, 6, 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ')}`);
        return { ref: secret, attributes: { Id: secret } };
      }
      case 'AWS::KMS::Key': {
        const keyId = `${made(id, 8)}-${made(`${id}1`, 4)}-${made(`${id}2`, 4)}-${made(`${id}3`, 4)}-${made(`${id}4`, 12)}`;
        return { ref: keyId, attributes: { KeyId: keyId, Arn: arn('kms', `key/${keyId}`) } };
      }
      case 'AWS::IAM::Policy':
      case 'AWS::SNS::TopicPolicy':
      case 'AWS::S3::BucketPolicy':
      case 'AWS::SQS::QueuePolicy':
      case 'AWS::Lambda::Permission':
      case 'AWS::CDK::Metadata':
        return { ref: physicalName(this.env, id, 128), attributes: { Id: physicalName(this.env, id, 128) } };
      default:
        throw new Error(`no stand-in for the Ref and attributes of ${id} (${resource.Type}): add its type to test/support/awsData/intrinsics.ts`);
    }
  }

  private pseudo(name: string): string | typeof NO_VALUE | undefined {
    const { account, region, partition, stackName } = this.env;
    switch (name) {
      case 'AWS::AccountId':
        return account;
      case 'AWS::Region':
        return region;
      case 'AWS::Partition':
        return partition;
      case 'AWS::URLSuffix':
        return partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
      case 'AWS::StackName':
        return stackName;
      case 'AWS::StackId':
        return `arn:${partition}:cloudformation:${region}:${account}:stack/${stackName}/${made(stackName, 8)}-0000-0000-0000-${made(stackName, 12)}`;
      case 'AWS::NoValue':
        return NO_VALUE;
      default:
        return undefined;
    }
  }

  private ref(name: string, at: string): string | typeof NO_VALUE {
    const pseudo = this.pseudo(name);
    if (pseudo !== undefined) return pseudo;
    if (this.template.Resources[name]) return this.standIn(name).ref;
    const parameter = this.template.Parameters?.[name];
    if (parameter?.Default !== undefined) return String(parameter.Default);
    throw new Error(`${at}: Ref ${name} names no resource, pseudo parameter or parameter with a default`);
  }

  private getAtt(id: string, attribute: string, at: string): string {
    const resource = this.template.Resources[id];
    if (!resource) throw new Error(`${at}: Fn::GetAtt ${id}.${attribute} names no resource`);
    const value = this.standIn(id).attributes[attribute];
    if (value === undefined) throw new Error(`${at}: no stand-in for Fn::GetAtt ${id}.${attribute} (${resource.Type}): add the attribute to test/support/awsData/intrinsics.ts`);
    return value;
  }

  private sub(text: string, variables: Record<string, unknown>, at: string): string {
    return text.replace(/\$\{(!?)([^}]+)\}/g, (whole, literal: string, name: string) => {
      if (literal) return `\${${name}}`;
      if (name in variables) return String(this.resolveValue(variables[name], at));
      if (name.includes('.') && !name.startsWith('AWS::')) {
        const [id, ...attribute] = name.split('.');
        return this.getAtt(id!, attribute.join('.'), at);
      }
      const value = this.ref(name, at);
      if (value === NO_VALUE) throw new Error(`${at}: \${AWS::NoValue} inside Fn::Sub ${JSON.stringify(whole)}`);
      return value;
    });
  }

  private resolveValue(value: unknown, at: string): unknown {
    if (Array.isArray(value)) return value.map((item, i) => this.resolveValue(item, `${at}[${i}]`)).filter((item) => item !== NO_VALUE);
    if (!value || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    const [first] = entries;
    if (entries.length === 1 && first && (first[0] === 'Ref' || first[0].startsWith('Fn::') || first[0] === 'Condition')) return this.intrinsic(first[0], first[1], at);
    const out: Record<string, unknown> = {};
    for (const [key, item] of entries) {
      const resolved = this.resolveValue(item, `${at}.${key}`);
      if (resolved !== NO_VALUE) out[key] = resolved;
    }
    return out;
  }

  private intrinsic(name: string, argument: unknown, at: string): unknown {
    const args = (count: number) => {
      if (!Array.isArray(argument) || argument.length !== count) throw new Error(`${at}: ${name} takes ${count} arguments, got ${JSON.stringify(argument)}`);
      return argument as unknown[];
    };
    switch (name) {
      case 'Ref':
        return this.ref(String(argument), at);
      case 'Fn::GetAtt': {
        const [id, attribute] = typeof argument === 'string' ? [argument.split('.')[0]!, argument.split('.').slice(1).join('.')] : (args(2) as [string, string]);
        return this.getAtt(String(this.resolveValue(id, at)), String(this.resolveValue(attribute, at)), at);
      }
      case 'Fn::Join': {
        const [delimiter, list] = args(2);
        return (this.resolveValue(list, at) as unknown[]).map(String).join(String(delimiter));
      }
      case 'Fn::Sub': {
        const [text, variables] = typeof argument === 'string' ? [argument, {}] : (args(2) as [string, Record<string, unknown>]);
        return this.sub(text, variables, at);
      }
      case 'Fn::Select': {
        const [index, list] = args(2);
        const items = this.resolveValue(list, at) as unknown[];
        const item = items[Number(this.resolveValue(index, at))];
        if (item === undefined) throw new Error(`${at}: Fn::Select ${String(index)} of ${items.length} items`);
        return item;
      }
      case 'Fn::Split': {
        const [delimiter, text] = args(2);
        return String(this.resolveValue(text, at)).split(String(delimiter));
      }
      case 'Fn::GetAZs':
        return ['a', 'b', 'c'].map((zone) => `${this.env.region}${zone}`);
      case 'Fn::Base64':
        return Buffer.from(String(this.resolveValue(argument, at))).toString('base64');
      case 'Fn::FindInMap': {
        const [map, top, second] = (args(3) as unknown[]).map((part) => String(this.resolveValue(part, at)));
        const found = this.template.Mappings?.[map!]?.[top!]?.[second!];
        if (found === undefined) throw new Error(`${at}: Fn::FindInMap ${map}.${top}.${second} is not in the template's Mappings`);
        return found;
      }
      default:
        throw new Error(`${at}: ${name} ${JSON.stringify(argument)} is not resolved by test/support/awsData/intrinsics.ts (conditions and imports need a value chosen by the test)`);
    }
  }
}
