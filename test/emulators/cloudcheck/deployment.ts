import { createHash } from 'node:crypto';

/**
 * A synthesized template as CloudFormation would have deployed it: physical names in CloudFormation's
 * form (`<stack>-<logical id>-<12 random>`, cut to each service's length limit), intrinsic functions
 * resolved, the outputs as DescribeStacks returns them. What the stand-ins answer comes from here,
 * never from the code under test. An intrinsic or attribute this does not know is refused, not guessed.
 */

export interface Template {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; DependsOn?: unknown }>;
  Outputs?: Record<string, { Value: unknown; Description?: string }>;
}

export interface PolicyDocument {
  Version?: string;
  Statement: Record<string, unknown>[];
}

export interface DeployedRole {
  name: string;
  arn: string;
  policies: { name: string; policy: PolicyDocument }[];
}

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

export interface DeployedAlarm {
  name: string;
  arn: string;
  alarmActions: string[];
  okActions: string[];
  insufficientDataActions: string[];
  actionsEnabled: boolean;
  state: AlarmState;
  stateReason: string;
  stateUpdated: Date;
  description: string;
  namespace: string | undefined;
  metricName: string | undefined;
}

export interface DeployedStack {
  name: string;
  region: string;
  account: string;
  stackId: string;
  status: string;
  outputs: { OutputKey: string; OutputValue: string; Description?: string }[];
  roles: Map<string, DeployedRole>;
  /** By function name. */
  functions: Map<string, { name: string; arn: string; roleArn: string; logicalId: string }>;
  alarms: Map<string, DeployedAlarm>;
  /** By topic ARN: its topic policy (SNS's default when the template sets none). */
  topics: Map<string, { arn: string; policy: PolicyDocument | undefined }>;
  /** Logical id to the Ref value. */
  physical: Map<string, string>;
}

/** AWS managed policies the template attaches, as AWS publishes them. */
const MANAGED_POLICIES: Record<string, PolicyDocument> = {
  'service-role/AWSLambdaBasicExecutionRole': {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], Resource: '*' }],
  },
  'service-role/AWSLambdaVPCAccessExecutionRole': {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
        Resource: '*',
      },
    ],
  },
};

/** Length limits of generated physical names (the services' own). */
const NAME_LIMITS: Record<string, number> = {
  'AWS::Lambda::Function': 64,
  'AWS::IAM::Role': 64,
  'AWS::SNS::Topic': 256,
  'AWS::S3::Bucket': 63,
  'AWS::StepFunctions::StateMachine': 80,
  'AWS::CloudWatch::Alarm': 255,
};

export function deployTemplate(template: Template, options: { stackName: string; region: string; account: string }): DeployedStack {
  const { stackName, region, account } = options;
  const partition = 'aws';
  const suffix = (logicalId: string) => createHash('sha256').update(`${stackName}/${logicalId}`).digest('hex').slice(0, 12).toUpperCase();
  const generated = (logicalId: string, type: string) => {
    const limit = NAME_LIMITS[type] ?? 128;
    const tail = `-${suffix(logicalId)}`;
    return `${stackName}-${logicalId}`.slice(0, limit - tail.length) + tail;
  };
  const physical = new Map<string, string>();
  const attributes = new Map<string, Record<string, string>>();
  for (const [id, resource] of Object.entries(template.Resources)) {
    const props = resource.Properties ?? {};
    const named = (key: string) => (typeof props[key] === 'string' ? (props[key] as string) : generated(id, resource.Type));
    switch (resource.Type) {
      case 'AWS::Lambda::Function': {
        const name = named('FunctionName');
        physical.set(id, name);
        attributes.set(id, { Arn: `arn:${partition}:lambda:${region}:${account}:function:${name}` });
        break;
      }
      case 'AWS::IAM::Role': {
        const name = named('RoleName');
        physical.set(id, name);
        attributes.set(id, { Arn: `arn:${partition}:iam::${account}:role/${name}`, RoleId: `AROA${suffix(id)}` });
        break;
      }
      case 'AWS::SNS::Topic': {
        const arn = `arn:${partition}:sns:${region}:${account}:${named('TopicName')}`;
        physical.set(id, arn);
        attributes.set(id, { TopicArn: arn, TopicName: arn.split(':').pop()! });
        break;
      }
      case 'AWS::S3::Bucket': {
        const name = typeof props.BucketName === 'string' ? props.BucketName : generated(id, resource.Type).toLowerCase();
        physical.set(id, name);
        attributes.set(id, { Arn: `arn:${partition}:s3:::${name}`, DomainName: `${name}.s3.amazonaws.com`, RegionalDomainName: `${name}.s3.${region}.amazonaws.com` });
        break;
      }
      case 'AWS::CloudWatch::Alarm': {
        const name = named('AlarmName');
        physical.set(id, name);
        attributes.set(id, { Arn: `arn:${partition}:cloudwatch:${region}:${account}:alarm:${name}` });
        break;
      }
      case 'AWS::Logs::LogGroup': {
        const name = named('LogGroupName');
        physical.set(id, name);
        attributes.set(id, { Arn: `arn:${partition}:logs:${region}:${account}:log-group:${name}:*` });
        break;
      }
      case 'AWS::StepFunctions::StateMachine': {
        const arn = `arn:${partition}:states:${region}:${account}:stateMachine:${named('StateMachineName')}`;
        physical.set(id, arn);
        attributes.set(id, { Arn: arn, Name: arn.split(':').pop()! });
        break;
      }
      case 'AWS::EC2::SecurityGroup': {
        const groupId = `sg-${suffix(id).toLowerCase().slice(0, 17)}`;
        physical.set(id, groupId);
        attributes.set(id, { GroupId: groupId });
        break;
      }
      case 'AWS::RDS::DBSubnetGroup':
        physical.set(id, named('DBSubnetGroupName').toLowerCase());
        break;
      case 'AWS::Scheduler::Schedule':
        physical.set(id, named('Name'));
        attributes.set(id, { Arn: `arn:${partition}:scheduler:${region}:${account}:schedule/default/${named('Name')}` });
        break;
      default:
        physical.set(id, generated(id, resource.Type));
    }
  }

  const pseudo: Record<string, string> = {
    'AWS::Region': region,
    'AWS::AccountId': account,
    'AWS::Partition': partition,
    'AWS::StackName': stackName,
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::NoValue': '',
  };
  const resolve = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(resolve);
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    const [key, argument] = entries[0] ?? [];
    if (entries.length === 1 && key === 'Ref') {
      const name = String(argument);
      if (name in pseudo) return pseudo[name];
      if (!physical.has(name)) throw new Error(`Ref to ${name}, which the template does not have`);
      return physical.get(name);
    }
    if (entries.length === 1 && key === 'Fn::GetAtt') {
      const [id, attribute] = (Array.isArray(argument) ? argument : String(argument).split('.')) as [string, string];
      const value = attributes.get(id)?.[attribute];
      if (value === undefined) throw new Error(`Fn::GetAtt ${id}.${attribute}: no such attribute in this stand-in (${template.Resources[id]?.Type ?? 'no such resource'})`);
      return value;
    }
    if (entries.length === 1 && key === 'Fn::Join') {
      const [separator, parts] = argument as [string, unknown[]];
      return (resolve(parts) as unknown[]).map(String).join(separator);
    }
    if (entries.length === 1 && key === 'Fn::Select') {
      const [index, list] = argument as [number | string, unknown];
      return (resolve(list) as unknown[])[Number(index)];
    }
    if (entries.length === 1 && key === 'Fn::Split') {
      const [separator, text] = argument as [string, unknown];
      return String(resolve(text)).split(separator);
    }
    if (entries.length === 1 && key === 'Fn::Sub') {
      const [text, variables = {}] = (Array.isArray(argument) ? argument : [argument]) as [string, Record<string, unknown>?];
      return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
        if (name in variables) return String(resolve(variables[name]));
        if (name in pseudo) return pseudo[name]!;
        if (name.includes('.')) return String(resolve({ 'Fn::GetAtt': name.split('.') }));
        return String(resolve({ Ref: name }));
      });
    }
    if (entries.length === 1 && key?.startsWith('Fn::')) throw new Error(`${key} is not handled by this stand-in`);
    return Object.fromEntries(entries.map(([k, v]) => [k, resolve(v)]));
  };

  const roles = new Map<string, DeployedRole>();
  const roleByLogicalId = new Map<string, DeployedRole>();
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::IAM::Role') continue;
    const props = resolve(resource.Properties ?? {}) as { ManagedPolicyArns?: string[]; Policies?: { PolicyName: string; PolicyDocument: PolicyDocument }[] };
    const role: DeployedRole = { name: physical.get(id)!, arn: attributes.get(id)!.Arn!, policies: [] };
    for (const arn of props.ManagedPolicyArns ?? []) {
      const name = arn.replace(/^arn:aws:iam::aws:policy\//, '');
      const policy = MANAGED_POLICIES[name];
      if (!policy) throw new Error(`managed policy ${arn} is not known to this stand-in: add AWS's published document`);
      role.policies.push({ name, policy });
    }
    for (const inline of props.Policies ?? []) role.policies.push({ name: inline.PolicyName, policy: inline.PolicyDocument });
    roles.set(role.arn, role);
    roleByLogicalId.set(id, role);
  }
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    const props = resolve(resource.Properties ?? {}) as { PolicyName: string; PolicyDocument: PolicyDocument; Roles?: string[] };
    for (const roleName of props.Roles ?? []) {
      const role = [...roles.values()].find((candidate) => candidate.name === roleName);
      if (!role) throw new Error(`${id} attaches to role ${roleName}, which the template does not have`);
      role.policies.push({ name: props.PolicyName, policy: props.PolicyDocument });
    }
  }

  const functions: DeployedStack['functions'] = new Map();
  const alarms: DeployedStack['alarms'] = new Map();
  const topics: DeployedStack['topics'] = new Map();
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type === 'AWS::Lambda::Function') {
      const props = resolve(resource.Properties ?? {}) as { Role: string };
      functions.set(physical.get(id)!, { name: physical.get(id)!, arn: attributes.get(id)!.Arn!, roleArn: props.Role, logicalId: id });
    }
    if (resource.Type === 'AWS::SNS::Topic') topics.set(physical.get(id)!, { arn: physical.get(id)!, policy: undefined });
  }
  for (const [, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::SNS::TopicPolicy') continue;
    const props = resolve(resource.Properties ?? {}) as { PolicyDocument: PolicyDocument; Topics: string[] };
    for (const arn of props.Topics) {
      const topic = topics.get(arn);
      if (!topic) throw new Error(`a topic policy names ${arn}, which the template does not have`);
      topic.policy = props.PolicyDocument;
    }
  }
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::CloudWatch::Alarm') continue;
    const props = resolve(resource.Properties ?? {}) as { AlarmActions?: string[]; OKActions?: string[]; InsufficientDataActions?: string[]; ActionsEnabled?: boolean; AlarmDescription?: string; Namespace?: string; MetricName?: string };
    const name = physical.get(id)!;
    alarms.set(name, {
      name,
      arn: attributes.get(id)!.Arn!,
      alarmActions: props.AlarmActions ?? [],
      okActions: props.OKActions ?? [],
      insufficientDataActions: props.InsufficientDataActions ?? [],
      actionsEnabled: props.ActionsEnabled ?? true,
      // A new alarm has no data yet.
      state: 'INSUFFICIENT_DATA',
      stateReason: 'Unchecked: Initial alarm creation',
      stateUpdated: new Date(),
      description: props.AlarmDescription ?? '',
      namespace: props.Namespace,
      metricName: props.MetricName,
    });
  }

  const outputs = Object.entries(template.Outputs ?? {}).map(([key, output]) => ({ OutputKey: key, OutputValue: String(resolve(output.Value)), ...(output.Description ? { Description: output.Description } : {}) }));
  return {
    name: stackName,
    region,
    account,
    stackId: `arn:${partition}:cloudformation:${region}:${account}:stack/${stackName}/${createHash('sha256').update(stackName).digest('hex').slice(0, 8)}-0000-4000-8000-${suffix('stack').toLowerCase()}`,
    status: 'CREATE_COMPLETE',
    outputs,
    roles,
    functions,
    alarms,
    topics,
    physical,
  };
}
