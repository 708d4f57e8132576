import type { CfnResource, TemplateResolver } from './intrinsics.ts';
import { identityPoliciesOfRole, lambdaPermissionStatement, type PolicyDocument } from './policies.ts';
import type { SimulatedRequest } from './simulate.ts';

type Resolved = Record<string, CfnResource & { Properties: Record<string, unknown> }>;

/** A request some AWS service makes on the stack's behalf, and what should come of it. */
export interface ServiceRequest {
  /** In words, for the test's name and messages: who does what to what. */
  what: string;
  request: SimulatedRequest;
  /** Why the request cannot even be simulated (no policy where one must be), if so. */
  missing?: string;
}

const ofType = (resources: Resolved, type: string) => Object.entries(resources).filter(([, resource]) => resource.Type === type);

/** A role's session as the service that assumed it signs with. */
export const roleSession = (resolver: TemplateResolver, roleId: string, session: string) => `arn:${resolver.env.partition}:sts::${resolver.env.account}:assumed-role/${resolver.standIn(roleId).ref}/${session}`;

/** The role a resource's Role / RoleArn property names, by logical id. */
export function roleIdOf(resolver: TemplateResolver, roleArn: string, holder: string): string {
  const id = resolver.idOf(roleArn);
  if (!id || resolver.template.Resources[id]?.Type !== 'AWS::IAM::Role') throw new Error(`${holder}: its role ${roleArn} is not a role of the template`);
  return id;
}

export function identityPoliciesOf(resolver: TemplateResolver, resources: Resolved, roleId: string) {
  return identityPoliciesOfRole(resources, roleId, resolver.standIn(roleId).ref);
}

/**
 * CloudWatch publishing each alarm's state changes to each SNS topic among its actions: the
 * cloudwatch.amazonaws.com principal, aws:SourceArn the alarm, aws:SourceAccount its account, over
 * TLS, under the topic's AWS::SNS::TopicPolicy (which replaces SNS's default policy).
 */
export function alarmPublishRequests(resolver: TemplateResolver, resources: Resolved): ServiceRequest[] {
  const { account } = resolver.env;
  const requests: ServiceRequest[] = [];
  const topicPolicies = ofType(resources, 'AWS::SNS::TopicPolicy');
  for (const [alarmId, alarm] of ofType(resources, 'AWS::CloudWatch::Alarm')) {
    const actions = new Set(['AlarmActions', 'OKActions', 'InsufficientDataActions'].flatMap((key) => (alarm.Properties[key] as string[] | undefined) ?? []));
    for (const topicArn of [...actions].filter((arn) => arn.split(':')[2] === 'sns')) {
      const policies = topicPolicies.filter(([, policy]) => ((policy.Properties.Topics as string[] | undefined) ?? []).includes(topicArn));
      const topicId = resolver.idOf(topicArn) ?? topicArn;
      requests.push({
        what: `alarm ${alarmId} publishes to topic ${topicId}`,
        request: {
          principal: 'cloudwatch.amazonaws.com',
          action: 'sns:Publish',
          resource: topicArn,
          resourceAccount: topicArn.split(':')[4]!,
          context: { 'aws:SourceArn': resolver.standIn(alarmId).attributes.Arn!, 'aws:SourceAccount': account, 'aws:SecureTransport': 'true' },
          ...(policies.length === 1 ? { resourcePolicy: policies[0]![1].Properties.PolicyDocument as PolicyDocument } : {}),
        },
        ...(policies.length !== 1
          ? { missing: policies.length ? `topic ${topicId} has ${policies.length} AWS::SNS::TopicPolicy resources (${policies.map(([id]) => id).join(', ')}): each replaces the others` : `topic ${topicId} has no AWS::SNS::TopicPolicy in the template` }
          : {}),
      });
    }
  }
  return requests;
}

/** SNS invoking each Lambda subscribed to a topic: sns.amazonaws.com, aws:SourceArn the topic, under the function's AWS::Lambda::Permission statements. */
export function topicInvokeRequests(resolver: TemplateResolver, resources: Resolved): ServiceRequest[] {
  const requests: ServiceRequest[] = [];
  for (const [subscriptionId, subscription] of ofType(resources, 'AWS::SNS::Subscription')) {
    if (subscription.Properties.Protocol !== 'lambda') continue;
    const functionArn = String(subscription.Properties.Endpoint);
    const topicArn = String(subscription.Properties.TopicArn);
    const functionId = resolver.idOf(functionArn);
    const names = functionId ? [functionArn, resolver.standIn(functionId).ref] : [functionArn];
    const statements = ofType(resources, 'AWS::Lambda::Permission')
      .filter(([, permission]) => names.includes(String(permission.Properties.FunctionName)))
      .map(([, permission]) => lambdaPermissionStatement(permission.Properties, functionArn));
    requests.push({
      what: `topic ${resolver.idOf(topicArn) ?? topicArn} invokes ${functionId ?? functionArn} (subscription ${subscriptionId})`,
      request: {
        principal: 'sns.amazonaws.com',
        action: 'lambda:InvokeFunction',
        resource: functionArn,
        resourceAccount: functionArn.split(':')[4]!,
        context: { 'aws:SourceArn': topicArn, 'aws:SourceAccount': topicArn.split(':')[4]! },
        ...(statements.length ? { resourcePolicy: { Version: '2012-10-17', Statement: statements } } : {}),
      },
      ...(statements.length ? {} : { missing: `no AWS::Lambda::Permission lets SNS invoke ${functionId ?? functionArn}` }),
    });
  }
  return requests;
}

/** The API call a schedule's target stands for, by the target ARN's service. */
function targetAction(arn: string): string {
  const service = arn.split(':')[2];
  if (service === 'states' && arn.split(':')[5] === 'stateMachine') return 'states:StartExecution';
  if (service === 'lambda') return 'lambda:InvokeFunction';
  throw new Error(`no target action known for schedule target ${arn}: add it to test/support/awsData/resourcePolicies.ts`);
}

/**
 * Each EventBridge Scheduler schedule: the scheduler assuming its role (scheduler.amazonaws.com,
 * aws:SourceAccount the account, aws:SourceArn the schedule's group), then that role calling the target.
 */
export function scheduleRequests(resolver: TemplateResolver, resources: Resolved): { schedule: string; assume: ServiceRequest; call: ServiceRequest }[] {
  const { account, region, partition } = resolver.env;
  return ofType(resources, 'AWS::Scheduler::Schedule').map(([scheduleId, schedule]) => {
    const target = schedule.Properties.Target as { Arn: string; RoleArn: string };
    const roleId = roleIdOf(resolver, target.RoleArn, scheduleId);
    const group = String(schedule.Properties.GroupName ?? 'default');
    const action = targetAction(target.Arn);
    return {
      schedule: scheduleId,
      assume: {
        what: `the scheduler assumes ${roleId} for ${scheduleId}`,
        request: {
          principal: 'scheduler.amazonaws.com',
          action: 'sts:AssumeRole',
          resource: target.RoleArn,
          resourceAccount: account,
          context: { 'aws:SourceAccount': account, 'aws:SourceArn': `arn:${partition}:scheduler:${region}:${account}:schedule-group/${group}` },
          resourcePolicy: resources[roleId]!.Properties.AssumeRolePolicyDocument as PolicyDocument,
        },
      },
      call: {
        what: `${scheduleId}'s role ${roleId} calls ${action} on ${resolver.idOf(target.Arn) ?? target.Arn}`,
        request: {
          principal: roleSession(resolver, roleId, scheduleId.slice(0, 64)),
          action,
          resource: target.Arn,
          resourceAccount: target.Arn.split(':')[4]!,
          context: { 'aws:SecureTransport': 'true' },
          identityPolicies: identityPoliciesOf(resolver, resources, roleId),
        },
      },
    };
  });
}
