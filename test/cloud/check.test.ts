import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { cloudCheckPolicy } from '../../lib/cloud/callerPolicy.ts';
import { runCloudCheck, type CloudCheckOptions } from '../../lib/cloud/check.ts';
import { FUNCTION_ROLES, OUTPUT } from '../../lib/cloud/deploymentOutputs.ts';
import { formatCloudCheck } from '../../lib/cloud/format.ts';
import { AUTHORISATIONS, actionsOf } from '../../lib/cloud/simulation.ts';
import type { RestoreDrillConfig } from '../../lib/config/schema.ts';
import { drillTasks, type ExecutionInput } from '../../lib/drill/tasks.ts';
import { ConfigError } from '../../lib/errors.ts';
import { addDeploymentOutputs } from '../../lib/infra/outputs.ts';
import { RestoreDrillStack } from '../../lib/infra/restoreDrill.ts';
import { ALL_RDS_ACTIONS, REPORT_BUCKET_ACTIONS } from '../../lib/infra/roleActions.ts';
import type { RestoreProvider } from '../../lib/providers/types.ts';
import { memoryReportStore } from '../../lib/report/s3Store.ts';
import type { Caller } from '../emulators/cloudcheck/auth.ts';
import type { PolicyDocument, Template as CfnTemplate } from '../emulators/cloudcheck/deployment.ts';
import { ACCOUNT, CloudCheckWorld } from '../emulators/cloudcheck/world.ts';
import { runCli, type CliResult } from '../support/cli.ts';
import { loadCloudExample } from '../support/cloudExample.ts';

// The check against stand-ins of CloudFormation, Lambda, IAM and CloudWatch that serve the template
// synthesized from RestoreDrillStack (the example's RDS, Aurora and Neon databases, with Slack), as
// CloudFormation would have deployed it. IAM answers from the template's own policies.

const STACK = 'RestoreDrill';
const REGION = 'eu-west-1';
let config: RestoreDrillConfig;
let synthesized: CfnTemplate;
const outdir = mkdtempSync(join(tmpdir(), 'rd-cloud-check-'));

beforeAll(async () => {
  const example = await loadCloudExample();
  config = example.config;
  const settings = example.settings;
  // No esbuild: the check never runs the bundles, it reads what the stack declares.
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new RestoreDrillStack(app, STACK, { config, settings: settings as never, env: { account: ACCOUNT, region: REGION } });
  addDeploymentOutputs(stack, stack.drill, config);
  synthesized = Template.fromStack(stack).toJSON() as CfnTemplate;
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

let world: CloudCheckWorld;
let user: Caller;
beforeEach(async () => {
  world = await CloudCheckWorld.start();
  // The README's least-privilege policy for the check, and nothing more.
  user = world.addCaller('deployer', cloudCheckPolicy({ stackName: STACK, account: ACCOUNT }) as PolicyDocument);
});
afterEach(() => world.stop());

/** bin/cli.ts from the checkout (Node strips its types), with only the stand-ins' environment for AWS. */
function runSourceCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  // The stand-ins' credentials only: none of this machine's AWS settings.
  return runCli(args, { via: 'source', env, withoutEnv: /^AWS_/ });
}

/** A copy of the template to change for one case. */
const template = (): CfnTemplate => structuredClone(synthesized);

/** Plan as deployed: the real drill tasks over providers that read a window and refuse to create anything. */
function planHandler(now = new Date()) {
  const windowOnly = (kind: string): RestoreProvider => ({
    kind,
    window: async () => ({ earliest: new Date(now.getTime() - 7 * 86_400_000), latest: new Date(now.getTime() - 90_000) }),
    start: () => Promise.reject(new Error('Plan made a copy: the dry run must create nothing')),
    poll: () => Promise.reject(new Error('Plan polled a copy')),
    destroy: () => Promise.reject(new Error('Plan removed a copy')),
    copyNameOf: () => 'none',
  });
  const tasks = drillTasks({ config, store: memoryReportStore(), providerFor: (database) => windowOnly(database.provider.kind), now: () => now });
  return { handler: (event: unknown) => tasks.plan(event as ExecutionInput) };
}

function deploy(changed = template()) {
  const stack = world.deploy(changed, { stackName: STACK, region: REGION });
  for (const [name, fn] of stack.functions) if (fn.logicalId.startsWith('RestoreDrillPlan')) world.lambda.code.set(name, planHandler());
  return stack;
}

function check(options: Partial<CloudCheckOptions> = {}, caller = user) {
  return runCloudCheck({ stackName: STACK, region: REGION, touchAlarms: false, clients: world.clients(caller, REGION), sleep: () => Promise.resolve(), ...options });
}

/** The role of a function of the template, by the function's construct id. */
function roleIdOf(changed: CfnTemplate, functionId: string): string {
  const [, fn] = Object.entries(changed.Resources).find(([id, resource]) => resource.Type === 'AWS::Lambda::Function' && new RegExp(`^RestoreDrill${functionId}[0-9A-F]{8}$`).test(id))!;
  return (fn.Properties!.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
}

/** The policy documents of a function's role in the template (to change in place). */
function policiesOf(changed: CfnTemplate, functionId: string): PolicyDocument[] {
  const role = roleIdOf(changed, functionId);
  return Object.values(changed.Resources)
    .filter((resource) => resource.Type === 'AWS::IAM::Policy' && (resource.Properties!.Roles as { Ref: string }[]).some((ref) => ref.Ref === role))
    .map((resource) => resource.Properties!.PolicyDocument as PolicyDocument);
}

describe('restore-drill cloud check', () => {
  test('a healthy stack: Plan reads every window, every role is allowed its calls, nothing else is invoked; exit 0', async () => {
    // Prepare
    deploy();

    // Act
    const result = await check();

    // Assess
    expect(result.plan.status).toBe('pass');
    expect(result.plan.databases.map((database) => [database.name, database.provider, database.window !== undefined])).toEqual([
      ['orders', 'rds', true],
      ['billing', 'aurora', true],
      ['analytics', 'neon', true],
    ]);
    expect(world.lambda.calls).toEqual([expect.objectContaining({ operation: 'Invoke', status: 200, params: expect.objectContaining({ FunctionName: expect.stringMatching(/^RestoreDrill-RestoreDrillPlan/), Payload: '{"mode":"drill","trigger":"manual"}' }) })]);
    expect(result.roles.simulation).toBe('simulated');
    const byFunction = Object.fromEntries(result.roles.roles.map((role) => [role.function, role]));
    expect(Object.keys(byFunction)).toEqual(['Plan', 'Start', 'Poll', 'Verify', 'VerifyInVpc', 'Cleanup', 'Report', 'Janitor', 'SlackNotifier']);
    for (const role of result.roles.roles.filter((item) => item.role)) expect({ function: role.function, status: role.status, denied: role.denied }).toEqual({ function: role.function, status: 'pass', denied: [] });
    expect(byFunction.Plan!.allowed).toEqual(['rds:DescribeDBClusterAutomatedBackups', 'rds:DescribeDBClusters', 'rds:DescribeDBInstanceAutomatedBackups', 'rds:DescribeDBInstances']);
    expect(byFunction.SlackNotifier!.status).toBe('warn');
    // The restore was simulated on the configured source, a copy with our prefix and its placement, with the copy's tags.
    const restore = world.iam.calls.find((call) => call.params['ActionNames.member.1'] === 'rds:RestoreDBInstanceToPointInTime')!;
    expect(Object.entries(restore.params).filter(([key]) => key.startsWith('ResourceArns')).map(([, value]) => value)).toEqual(
      expect.arrayContaining([`arn:aws:rds:${REGION}:${ACCOUNT}:db:orders-prod`, expect.stringMatching(/:db:rd-/), expect.stringMatching(/:subgrp:/), expect.stringMatching(/:og:/), expect.stringMatching(/:pg:/)]),
    );
    expect(restore.params).toMatchObject({ 'ContextEntries.member.1.ContextKeyName': 'aws:RequestTag/restore-drill:managed', 'ContextEntries.member.1.ContextKeyValues.member.1': 'true' });
    expect(world.cloudWatch.calls).toEqual([]);
    expect(result.humanChecks.join('\n')).toMatch(/KMS[\s\S]*NAT gateway, or VPC endpoints[\s\S]*Slack/);
    expect(result.exitCode).toBe(0);
  });

  test('a Plan that crashes at init: Lambda\'s Runtime.ImportModuleError is shown as it came, exit 1', async () => {
    // Prepare: a handler module whose import fails, as a bundle missing a package does in /var/task.
    const stack = deploy();
    const folder = mkdtempSync(join(tmpdir(), 'rd-plan-crash-'));
    const module = join(folder, 'index.mjs');
    writeFileSync(module, "import '@aws-sdk/client-not-bundled';\nexport const handler = async () => ({});\n");
    const plan = [...stack.functions.values()].find((fn) => fn.logicalId.startsWith('RestoreDrillPlan'))!;
    world.lambda.code.set(plan.name, { module });

    // Act
    const result = await check();
    rmSync(folder, { recursive: true, force: true });

    // Assess
    expect(result.plan.status).toBe('fail');
    expect(result.plan.functionError).toEqual({ errorType: 'Runtime.ImportModuleError', errorMessage: expect.stringContaining("Cannot find package '@aws-sdk/client-not-bundled'") });
    const text = formatCloudCheck(result, { touchAlarms: false });
    expect(text).toContain(`❌ Plan failed (Unhandled): Runtime.ImportModuleError: Error: Cannot find package '@aws-sdk/client-not-bundled'`);
    expect(result.exitCode).toBe(1);
  });

  test('a role missing an action, and a tag grant on a key RDS does not send: each call named, exit 1', async () => {
    // Prepare: Plan's role without the automated-backup read (finding 3 of issue 11); Start's tagging
    // held to rds:CreateAction, a key RDS does not have (finding 2).
    const changed = template();
    for (const policy of policiesOf(changed, 'Plan')) policy.Statement = policy.Statement.filter((statement) => statement.Action !== 'rds:DescribeDBInstanceAutomatedBackups');
    const tagging = policiesOf(changed, 'Start').flatMap((policy) => policy.Statement).find((statement) => statement.Action === 'rds:AddTagsToResource')!;
    tagging.Condition = { StringEquals: { 'aws:RequestTag/restore-drill:managed': 'true' }, 'ForAnyValue:StringEquals': { 'rds:CreateAction': ['RestoreDBInstanceToPointInTime'] } };
    deploy(changed);

    // Act
    const result = await check();

    // Assess
    const denied = result.roles.roles.flatMap((role) => role.denied.map((denial) => ({ function: role.function, ...denial })));
    expect(denied).toEqual([
      // By the source's identifier (a source already gone), and by its backup's ARN.
      { function: 'Plan', action: 'rds:DescribeDBInstanceAutomatedBackups', resource: `arn:aws:rds:${REGION}:${ACCOUNT}:db:orders-prod`, decision: 'implicitDeny', missingContext: [] },
      { function: 'Plan', action: 'rds:DescribeDBInstanceAutomatedBackups', resource: `arn:aws:rds:${REGION}:${ACCOUNT}:auto-backup:ab-cloudcheck`, decision: 'implicitDeny', missingContext: [] },
      // The instance copy, and the Aurora copy (its cluster and its instance): all tagged in their create requests.
      { function: 'Start', action: 'rds:AddTagsToResource', resource: `arn:aws:rds:${REGION}:${ACCOUNT}:db:rd-cloudcheck-20000101000000-test`, decision: 'implicitDeny', missingContext: expect.arrayContaining(['rds:CreateAction']) },
      { function: 'Start', action: 'rds:AddTagsToResource', resource: `arn:aws:rds:${REGION}:${ACCOUNT}:cluster:rd-cloudcheck-20000101000000-test`, decision: 'implicitDeny', missingContext: expect.arrayContaining(['rds:CreateAction']) },
      { function: 'Start', action: 'rds:AddTagsToResource', resource: `arn:aws:rds:${REGION}:${ACCOUNT}:db:rd-cloudcheck-20000101000000-test-i1`, decision: 'implicitDeny', missingContext: expect.arrayContaining(['rds:CreateAction']) },
    ]);
    const text = formatCloudCheck(result, { touchAlarms: false });
    expect(text).toContain(`❌ Plan: rds:DescribeDBInstanceAutomatedBackups denied on arn:aws:rds:${REGION}:${ACCOUNT}:auto-backup:ab-cloudcheck (implicitDeny)`);
    expect(text).toMatch(/❌ Start: rds:AddTagsToResource denied on \S+ \(implicitDeny\); a condition needs rds:CreateAction\b[^;]*, which this call does not send/);
    expect(result.exitCode).toBe(1);
  });

  test('simulation denied to this identity: a warning, not a failure', async () => {
    // Prepare: the README's policy without iam:SimulatePrincipalPolicy.
    deploy();
    const policy = cloudCheckPolicy({ stackName: STACK, account: ACCOUNT });
    const restricted = world.addCaller('no-simulate', { ...policy, Statement: policy.Statement.filter((statement) => statement.Action !== 'iam:SimulatePrincipalPolicy') } as PolicyDocument);

    // Act
    const result = await check({}, restricted);

    // Assess
    expect(result.roles).toEqual({ simulation: 'denied', deniedMessage: expect.stringContaining('is not authorized to perform: iam:SimulatePrincipalPolicy'), roles: [] });
    expect(world.iam.calls.every((call) => call.status === 403)).toBe(true);
    expect(formatCloudCheck(result, { touchAlarms: false })).toContain('⚠️  could not simulate: allow iam:SimulatePrincipalPolicy');
    expect(result.exitCode).toBe(0);
  });

  test('--yes-touch-alarms: each alarm goes to ALARM (OK when in ALARM), its SNS action shows in its history, and it is put back', async () => {
    // Prepare: the stack as synthesized (its topic policy lets the stack's alarms publish), in the first
    // deployment's states (no data yet; "no drill result" in ALARM).
    const changed = template();
    const stack = deploy(changed);
    for (const alarm of stack.alarms.values()) alarm.state = alarm.name.endsWith('no-drill-result') ? 'ALARM' : alarm.name.endsWith('drill-failed') ? 'OK' : 'INSUFFICIENT_DATA';
    const before = new Map([...stack.alarms.values()].map((alarm) => [alarm.name, alarm.state]));

    // Act
    const result = await check({ touchAlarms: true, runId: 'run42' });

    // Assess
    // Five per database (three databases), and the executions' and the janitor's.
    expect(result.alarms!.touched).toHaveLength(17);
    for (const alarm of result.alarms!.touched) {
      expect(alarm).toMatchObject({ previous: before.get(alarm.name), tested: before.get(alarm.name) === 'ALARM' ? 'OK' : 'ALARM', action: 'succeeded', restored: true });
    }
    for (const alarm of stack.alarms.values()) expect(alarm.state).toBe(before.get(alarm.name));
    // Every alarm reached the topic once, with a reason naming the check (what Slack shows).
    const topic = [...stack.topics.keys()][0];
    expect(world.cloudWatch.published.filter((message) => message.reason.startsWith('restore-drill cloud check run42: testing')).map((message) => message.alarm).sort()).toEqual([...before.keys()].sort());
    expect(world.cloudWatch.published.every((message) => message.topic === topic)).toBe(true);
    // The history was read until the action showed (CloudWatch runs it after the change).
    expect(world.cloudWatch.calls.filter((call) => call.operation === 'DescribeAlarmHistory').length).toBeGreaterThan(17);
    const text = formatCloudCheck(result, { touchAlarms: true });
    expect(text).toContain(`✅ ${STACK}-orders-no-drill-result: ALARM -> OK -> ALARM: succeeded; notified ${topic}`);
    expect(text).toContain('Look in Slack for the messages');
    expect(result.exitCode).toBe(0);
  });

  test('--yes-touch-alarms with a topic policy that does not let CloudWatch publish: each failed action named, alarms still put back, exit 1', async () => {
    // Prepare: only the TLS statement CDK writes for enforceSSL: it replaces SNS's default policy (finding 4).
    const changed = template();
    const topicPolicy = Object.values(changed.Resources).find((resource) => resource.Type === 'AWS::SNS::TopicPolicy')!;
    const document = topicPolicy.Properties!.PolicyDocument as PolicyDocument;
    document.Statement = document.Statement.filter((statement) => statement.Effect === 'Deny');
    const stack = deploy(changed);
    for (const alarm of stack.alarms.values()) alarm.state = 'OK';

    // Act
    const result = await check({ touchAlarms: true });

    // Assess
    expect(result.alarms!.touched.map((alarm) => alarm.action)).toEqual(Array(17).fill('failed'));
    expect(result.alarms!.touched[0]!.detail).toContain('not authorized to perform: SNS:Publish');
    expect([...stack.alarms.values()].every((alarm) => alarm.state === 'OK')).toBe(true);
    expect(world.cloudWatch.published).toEqual([]);
    expect(result.exitCode).toBe(1);
  });

  test('a function the stack names that Lambda does not have: ResourceNotFoundException, named, exit 1', async () => {
    // Prepare: deployed, then the Plan function deleted outside CloudFormation.
    const stack = deploy();
    const plan = [...stack.functions.values()].find((fn) => fn.logicalId.startsWith('RestoreDrillPlan'))!;
    world.lambda.code.delete(plan.name);

    // Act
    const result = await check();

    // Assess
    expect(world.lambda.calls).toEqual([expect.objectContaining({ status: 404 })]);
    expect(result.plan).toMatchObject({ status: 'fail', message: expect.stringContaining(`Lambda has no function ${plan.name}, which the stack names`) });
    expect(result.plan.message).toContain('ResourceNotFoundException: Function not found: arn:aws:lambda:');
    expect(result.exitCode).toBe(1);
  });

  test('the CLI on a healthy stack, alarms touched: every section passes, exit 0', async () => {
    // Prepare
    const stack = deploy();
    for (const alarm of stack.alarms.values()) alarm.state = alarm.name.endsWith('no-drill-result') ? 'ALARM' : 'OK';
    // The action shows at the first read: the CLI waits 5 s between reads of the history.
    world.cloudWatch.actionDelayReads = 0;

    // Act
    const cli = await runSourceCli(['cloud', 'check', '--stack', STACK, '--region', REGION, '--yes-touch-alarms'], world.env(user, REGION));

    // Assess
    expect(cli.stdout).toContain(`restore-drill cloud check: stack ${STACK} in ${REGION}, account ${ACCOUNT} (CREATE_COMPLETE)`);
    expect(cli.stdout).toMatch(/✅ orders \(rds\): restorable from \S+ to \S+; RPO \(claimed\) 1m30s \(target 15m00s\)/);
    expect(cli.stdout).toContain('✅ Start: 7 calls allowed (rds:AddTagsToResource, ');
    expect(cli.stdout.match(/✅ RestoreDrill-\S+: (OK -> ALARM -> OK|ALARM -> OK -> ALARM): succeeded/g)).toHaveLength(17);
    expect(cli.stdout).toContain('✅ the deployment passed every check');
    expect(cli.stderr).toContain('restore-drill: invoking RestoreDrill-RestoreDrillPlan');
    expect(cli.code).toBe(0);
    expect([...stack.alarms.values()].map((alarm) => alarm.state)).toEqual([...stack.alarms.values()].map((alarm) => (alarm.name.endsWith('no-drill-result') ? 'ALARM' : 'OK')));
    process.stdout.write(`${cli.stdout}\n`);
  });

  test('an unknown stack, or the stack looked for in another region: bad input naming both, exit 2 from the CLI', async () => {
    // Prepare: someone who may read every stack (the least-privilege user reads only its own: see below).
    deploy();
    const reader = world.addCaller('reader', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'cloudformation:DescribeStacks', Resource: '*' }] });

    // Act
    const elsewhere = await check({ region: 'us-east-1', clients: world.clients(reader, 'us-east-1') }).catch((error: unknown) => error);
    const cli = await runSourceCli(['cloud', 'check', '--stack', 'Nope', '--region', REGION], world.env(reader, REGION));
    const outsideThePolicy = await check({ stackName: 'Nope' }).catch((error: unknown) => error);

    // Assess
    expect(elsewhere).toBeInstanceOf(ConfigError);
    expect((elsewhere as Error).message).toContain(`there is no stack "${STACK}" in us-east-1 (CloudFormation: Stack with id ${STACK} does not exist)`);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain(`there is no stack "Nope" in ${REGION}`);
    expect(cli.stdout).toBe('');
    // A stack the policy does not cover reads as AccessDenied, whether it exists or not: the tool could not finish.
    expect(outsideThePolicy).toMatchObject({ kind: 'tool', message: expect.stringContaining('check --stack too') });
  });
});

describe('the stand-ins refuse what AWS refuses', () => {
  test('an unknown stack, an unknown function, a payload that is not JSON, missing parameters, an unknown alarm', async () => {
    // Prepare
    const stack = deploy();
    const admin = world.addCaller('admin', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] });
    const clients = world.clients(admin, REGION);
    const { DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
    const { InvokeCommand } = await import('@aws-sdk/client-lambda');
    const { SimulatePrincipalPolicyCommand } = await import('@aws-sdk/client-iam');
    const { SetAlarmStateCommand, DescribeAlarmHistoryCommand } = await import('@aws-sdk/client-cloudwatch');
    const plan = [...stack.functions.values()].find((fn) => fn.logicalId.startsWith('RestoreDrillPlan'))!;
    const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (error: Error & { $metadata?: { httpStatusCode?: number } }) => ({ name: error.name, status: error.$metadata?.httpStatusCode, message: error.message }));

    // Act and assess
    expect(await failure(clients.cloudFormation.send(new DescribeStacksCommand({ StackName: 'Nope' })))).toEqual({ name: 'ValidationError', status: 400, message: 'Stack with id Nope does not exist' });
    expect(await failure(clients.lambda.send(new InvokeCommand({ FunctionName: 'nope' })))).toMatchObject({ name: 'ResourceNotFoundException', status: 404, message: `Function not found: arn:aws:lambda:${REGION}:${ACCOUNT}:function:nope` });
    expect(await failure(clients.lambda.send(new InvokeCommand({ FunctionName: plan.name, Payload: new TextEncoder().encode('{not json') })))).toMatchObject({ name: 'InvalidRequestContentException', status: 400 });
    expect(await failure(clients.iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: plan.roleArn, ActionNames: undefined as never })))).toMatchObject({ name: 'ValidationError', status: 400, message: expect.stringContaining("'actionNames' failed to satisfy constraint") });
    expect(await failure(clients.iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: `arn:aws:iam::${ACCOUNT}:role/gone`, ActionNames: ['rds:DescribeDBInstances'] })))).toMatchObject({ name: 'NoSuchEntityException', status: 404, message: 'The role with name gone cannot be found.' });
    // Stricter than IAM, which would evaluate it: a resource the action cannot take means the check asked the wrong question.
    expect(await failure(clients.iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: plan.roleArn, ActionNames: ['rds:DescribeDBInstances'], ResourceArns: [`arn:aws:s3:::bucket`] })))).toMatchObject({ name: 'InvalidInputException', status: 400 });
    expect(await failure(clients.cloudWatch.send(new SetAlarmStateCommand({ AlarmName: 'RestoreDrill-nope', StateValue: 'ALARM', StateReason: 'x' })))).toMatchObject({ name: 'ResourceNotFound', status: 404 });
    expect(await failure(clients.cloudWatch.send(new SetAlarmStateCommand({ AlarmName: [...stack.alarms.keys()][0]!, StateValue: 'ALARM', StateReason: undefined as never })))).toMatchObject({ name: 'MissingRequiredParameterException', status: 400 });
    expect(await failure(clients.cloudWatch.send(new DescribeAlarmHistoryCommand({ MaxRecords: 500 })))).toMatchObject({ name: 'InvalidParameterValueException', status: 400 });
    expect(await failure(clients.cloudWatch.send(new SetAlarmStateCommand({ AlarmName: [...stack.alarms.keys()][0]!, StateValue: 'ALARM', StateReason: 'x' })))).toBeUndefined();
    // The README's policy for the check invokes Plan and nothing else: Start makes copies.
    const start = [...stack.functions.values()].find((fn) => fn.logicalId.startsWith('RestoreDrillStart'))!;
    world.lambda.code.set(start.name, { handler: () => Promise.reject(new Error('Start must not run')) });
    expect(await failure(world.clients(user, REGION).lambda.send(new InvokeCommand({ FunctionName: start.name })))).toMatchObject({ name: 'AccessDeniedException', status: 403 });
  });
});

describe('the deployment outputs and the simulation table', () => {
  test('the stack names each function and its role, the alarm topic, every alarm and the databases', () => {
    const outputs = synthesized.Outputs ?? {};
    for (const id of Object.keys(FUNCTION_ROLES)) {
      expect(outputs[OUTPUT.functionName(id)], id).toBeDefined();
      expect(outputs[OUTPUT.roleArn(id)], id).toBeDefined();
    }
    expect(outputs[OUTPUT.alarmTopicArn]).toBeDefined();
    expect((outputs[OUTPUT.alarmNames]!.Value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1]).toHaveLength(17);
    expect(outputs[OUTPUT.databases]).toBeDefined();
  });

  test('every action of the role table says what AWS authorises it against', () => {
    for (const action of [...ALL_RDS_ACTIONS, ...Object.values(REPORT_BUCKET_ACTIONS).flat()]) expect(AUTHORISATIONS[action], action).toBeDefined();
    expect(actionsOf('report', new Set())).toEqual(['s3:GetObject', 's3:PutObject', 's3:ListBucket']);
  });
});
