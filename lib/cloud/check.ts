import { DescribeStacksCommand, type CloudFormationClient, type Stack } from '@aws-sdk/client-cloudformation';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { ConfigError, RestoreDrillError } from '../errors.ts';
import { verifyRoleOf, type DrillRole } from '../infra/roleActions.ts';
import { touchAlarms, type AlarmChecks } from './alarmCheck.ts';
import { awsErrorName, awsErrorText, isAccessDenied } from './awsErrors.ts';
import { readDeployment, type DeployedFunction, type Deployment } from './deploymentOutputs.ts';
import { checkPlan, type PlanCheck } from './planCheck.ts';
import { checkRoles, kindsOf, type RoleChecks } from './roleCheck.ts';
import type { SimulationScope } from './simulation.ts';

/** The AWS clients the check talks to, built by the caller (the CLI: the SDK's usual credentials; tests: the stand-ins). */
export interface CloudCheckClients {
  cloudFormation: CloudFormationClient;
  lambda: LambdaClient;
  iam: IAMClient;
  cloudWatch: CloudWatchClient;
}

export interface CloudCheckOptions {
  stackName: string;
  /** The region the clients talk to, for messages. */
  region: string;
  /** Put each alarm in ALARM and back (--yes-touch-alarms): Slack receives a message per alarm. */
  touchAlarms: boolean;
  clients: CloudCheckClients;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  /** How long to wait for an alarm's action in its history. @default 120000 */
  alarmActionTimeoutMs?: number;
  /** @default 5000 */
  alarmActionPollMs?: number;
  onProgress?: (line: string) => void;
  /** Marks this run's alarm changes. @default a random id */
  runId?: string;
}

export type CheckOutcome = 'passed' | 'failed' | 'incomplete';

export interface CloudCheckResult {
  stack: { name: string; region: string; account: string; status: string; statusProblem?: { status: 'fail' | 'warn'; message: string } };
  /** Outputs the check expected and the stack lacks (it was deployed by an older restore-drill). */
  missingOutputs: string[];
  plan: PlanCheck;
  roles: RoleChecks;
  alarms: AlarmChecks | undefined;
  functions: DeployedFunction[];
  alarmCount: number;
  /** What only a person can check, for this stack. */
  humanChecks: string[];
  outcome: CheckOutcome;
  /** 0 all good, 1 a check failed, 3 the check could not finish (2, bad input, is thrown as a ConfigError). */
  exitCode: 0 | 1 | 3;
}

const HEALTHY = new Set(['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'IMPORT_COMPLETE']);

/**
 * The deployment smoke check, after `cdk deploy`: reads the stack's outputs, invokes Plan's dry run,
 * simulates each function's role against the calls it makes, optionally fires each alarm's action,
 * and lists what a person must still look at. Creates nothing; touches alarms only when asked.
 */
export async function runCloudCheck(options: CloudCheckOptions): Promise<CloudCheckResult> {
  const now = options.now ?? (() => new Date());
  const progress = options.onProgress ?? (() => undefined);
  const stack = await describeStack(options.clients.cloudFormation, options.stackName, options.region);
  const arn = parseArn(stack.StackId ?? '');
  const { deployment, missing } = readDeployment(stack.Outputs ?? []);

  progress(`invoking ${deployment.functions.find((f) => f.id === 'Plan')?.name ?? 'Plan'} (dry run)`);
  const plan = await checkPlan(options.clients.lambda, deployment.functions.find((f) => f.id === 'Plan')?.name);

  progress('simulating the roles with iam:SimulatePrincipalPolicy');
  const providers = deployment.databases?.map((database) => database.provider) ?? (plan.databases.length ? plan.databases.map((database) => database.provider) : undefined);
  const roles = await checkRoles(options.clients.iam, deployment.functions, (f, role) => scopeOf(f, role, deployment, providers, arn));

  let alarms: AlarmChecks | undefined;
  if (options.touchAlarms) {
    alarms = await touchAlarms(options.clients.cloudWatch, deployment.alarmNames, {
      topicArn: deployment.alarmTopicArn,
      now,
      sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      runId: options.runId ?? Math.random().toString(36).slice(2, 10),
      onProgress: progress,
      ...(options.alarmActionTimeoutMs !== undefined ? { actionTimeoutMs: options.alarmActionTimeoutMs } : {}),
      ...(options.alarmActionPollMs !== undefined ? { actionPollMs: options.alarmActionPollMs } : {}),
    });
  }

  const status = stack.StackStatus ?? 'UNKNOWN';
  const statusProblem = HEALTHY.has(status)
    ? undefined
    : status.endsWith('_IN_PROGRESS') || status === 'UPDATE_ROLLBACK_COMPLETE'
      ? { status: 'warn' as const, message: status === 'UPDATE_ROLLBACK_COMPLETE' ? 'the last update was rolled back: the stack runs the deployment before it' : 'a deployment is in progress: run the check again when it is done' }
      : { status: 'fail' as const, message: 'the deployment failed: see the stack\'s events in the CloudFormation console' };

  const outcomeOf = (status: string): CheckOutcome => (status === 'fail' ? 'failed' : status === 'incomplete' ? 'incomplete' : 'passed');
  const parts: CheckOutcome[] = [
    outcomeOf(plan.status),
    ...roles.roles.map((role) => outcomeOf(role.status)),
    ...(alarms ? [outcomeOf(alarms.status)] : []),
    statusProblem?.status === 'fail' || missing.length ? 'failed' : 'passed',
  ];
  // As the rest of the CLI: a check that could not finish outranks one that failed.
  const outcome: CheckOutcome = parts.includes('incomplete') ? 'incomplete' : parts.includes('failed') ? 'failed' : 'passed';
  return {
    stack: { name: stack.StackName ?? options.stackName, region: arn.region || options.region, account: arn.account, status, ...(statusProblem ? { statusProblem } : {}) },
    missingOutputs: missing,
    plan,
    roles,
    alarms,
    functions: deployment.functions,
    alarmCount: deployment.alarmNames.length,
    humanChecks: humanChecks(deployment, plan, options.touchAlarms),
    outcome,
    exitCode: outcome === 'incomplete' ? 3 : outcome === 'failed' ? 1 : 0,
  };
}

async function describeStack(cloudFormation: CloudFormationClient, stackName: string, region: string): Promise<Stack> {
  try {
    const output = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = output.Stacks?.[0];
    if (stack) return stack;
  } catch (error) {
    if (awsErrorName(error) === 'ValidationError' && /does not exist/.test((error as Error).message)) {
      throw new ConfigError(
        `there is no stack "${stackName}" in ${region} (CloudFormation: ${(error as Error).message}): name the stack with --stack (the cdk.json context key restore-drill:stackName, default RestoreDrill) and its region with --region`,
      );
    }
    const hint = isAccessDenied(error)
      ? ': allow this identity cloudformation:DescribeStacks on the stack (see the README\'s policy for cloud check); a stack outside that policy reads as AccessDenied whether it exists or not, so check --stack too'
      : '';
    throw new RestoreDrillError('tool', `could not read the stack "${stackName}" in ${region}: ${awsErrorText(error)}${hint}`, { cause: error });
  }
  throw new ConfigError(`there is no stack "${stackName}" in ${region}: name the stack with --stack and its region with --region`);
}

function parseArn(arn: string): { partition: string; region: string; account: string } {
  const [, partition = 'aws', , region = '', account = ''] = arn.split(':');
  return { partition, region, account };
}

function scopeOf(f: DeployedFunction, role: DrillRole, deployment: Deployment, providers: readonly string[] | undefined, stack: { partition: string; region: string; account: string }): SimulationScope {
  // Without the Databases output nor a Plan answer, the VPC function says there are RDS or Aurora databases.
  const known = providers ?? (deployment.functions.some((item) => item.id === 'VerifyInVpc') ? ['rds', 'aurora'] : []);
  const served = role === 'verify' || role === 'verifyInVpc' ? known.filter((kind) => verifyRoleOf(kind) === role) : [...known];
  const roleArn = parseArn(f.roleArn ?? '');
  const sources = (kind: string) => (deployment.databases ?? []).filter((database) => database.provider === kind && database.source).map((database) => database.source!);
  return {
    partition: stack.partition,
    region: stack.region,
    account: stack.account || roleArn.account,
    kinds: kindsOf(served),
    sources: { rds: sources('rds'), aurora: sources('aurora') },
    reportsBucket: deployment.reportsBucketName,
    signingKeySecret: deployment.signingKeySecretArn,
    signingKeyKmsKey: deployment.signingKeyKmsKeyArn,
  };
}

function humanChecks(deployment: Deployment, plan: PlanCheck, touchedAlarms: boolean): string[] {
  const role = (id: string) => deployment.functions.find((f) => f.id === id)?.roleArn ?? `the ${id} role`;
  const kinds = new Set([...(deployment.databases ?? []).map((database) => database.provider), ...plan.databases.map((database) => database.provider)]);
  const hasVpc = deployment.functions.some((f) => f.id === 'VerifyInVpc');
  const notifier = deployment.functions.find((f) => f.id === 'SlackNotifier');
  return [
    `KMS: key policies are not IAM policies, and the simulation above does not read them. A source encrypted with a customer managed key restores only if its key policy lets ${role('Start')} use it (kms:CreateGrant, kms:DescribeKey); a secret encrypted with one needs kms:Decrypt for the functions that read it; an alarm topic encrypted with one needs kms:GenerateDataKey and kms:Decrypt for cloudwatch.amazonaws.com.`,
    ...(hasVpc || kinds.has('rds') || kinds.has('aurora')
      ? [`Network: VerifyInVpc (${deployment.functions.find((f) => f.id === 'VerifyInVpc')?.name ?? 'the verify function in the VPC'}) runs in your private subnets and reads Secrets Manager and S3: they need a NAT gateway, or VPC endpoints for Secrets Manager (interface, private DNS on) and S3 (gateway, in the subnets' route tables). Nothing here can test that route: the first drill's Verify shows it (a timeout reading the secret or the bucket).`]
      : []),
    notifier
      ? touchedAlarms
        ? `Slack: each alarm above sent a message through ${notifier.name}: look in the webhook's channel for them (each names "restore-drill cloud check" in its reason). None there: read ${notifier.name}'s logs.`
        : `Slack: run again with --yes-touch-alarms to send one message per alarm through ${notifier.name}, and look for them in the webhook's channel.`
      : 'Slack: the stack has no Slack notifier (no slackWebhookSecretArn): subscribe to the alarm topic yourself, or nobody hears the alarms.',
    'The first drill: until each database has drilled once, its "no drill result" alarm is in ALARM. Start one by hand (README, "A manual restore", with {"mode": "drill"}) and read its report in the bucket.',
  ];
}
