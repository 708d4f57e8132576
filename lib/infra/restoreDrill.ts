import { fileURLToPath } from 'node:url';
import { Annotations, CfnOutput, Duration, RemovalPolicy, Stack, TimeZone, Validations, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { DatabaseConfig, RestoreDrillConfig } from '../config/schema.ts';
import { ConfigError } from '../errors.ts';
import { CLEANUP_REMOVAL_WAIT_MS, COPY_SECURITY_GROUPS_ENV, COPY_SUBNET_GROUP_ENV, REPORTS_BUCKET_ENV, SLACK_SECRET_ENV } from '../drill/lambdaDependencies.ts';
import { deploymentModules } from './deploymentModule.ts';
import { lambdaBundling, schemaKitLayouts } from './bundling.ts';
import { addDeploymentOutputs } from './outputs.ts';
import { SIGNING_KEY_SECRET_ENV } from '../evidence/secretSigning.ts';
import { grantRds, grantReports, grantSecrets, grantSigningKey, nagForm } from './grants.ts';
import { SIGNING_ROLES, type DrillRole } from './roleActions.ts';
import { importSecret } from './secretArns.ts';
import { cloudProblems, drillPeriodsOf, VERIFY_TIMEOUT_SECONDS, type CloudSettings, type CloudSettingsInput } from './cloudSettings.ts';
import { monitoredDatabasesOf, RestoreDrillMonitoring } from './monitoring.ts';

export { lambdaBundling } from './bundling.ts';

const FUNCTIONS = fileURLToPath(new URL('../../functions/', import.meta.url));

export interface RestoreDrillProps {
  /** The validated config file, the same one the CLI reads. */
  readonly config: RestoreDrillConfig;
  /** Schedules, VPC, secrets, timings: see cloudSettingsSchema. */
  readonly settings: CloudSettingsInput;
}

/** Scheduled restore drills in the account: state machine, functions, schedules, reports bucket, alarms. */
export class RestoreDrill extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly reportsBucket: s3.Bucket;
  readonly functions: Readonly<Record<string, nodejs.NodejsFunction>>;
  readonly copySecurityGroup?: ec2.SecurityGroup;
  readonly monitoring: RestoreDrillMonitoring;
  /** The secret (and its customer managed key) the functions sign reports with, when reports are signed. */
  readonly signingKey?: { readonly secretArn: string; readonly kmsKeyArn?: string };

  constructor(scope: Construct, id: string, props: RestoreDrillProps) {
    super(scope, id);
    const { settings, problems } = cloudProblems(props.config, props.settings);
    if (problems.length || !settings) {
      throw new ConfigError(`RestoreDrill ${this.node.path}: ${problems.length} problem(s) in the config or cloud settings:\n- ${problems.join('\n- ')}`);
    }
    const stack = Stack.of(this);
    if (settings.signingKeySecretArn) this.signingKey = { secretArn: settings.signingKeySecretArn, ...(settings.signingKeyKmsKeyArn ? { kmsKeyArn: settings.signingKeyKmsKeyArn } : {}) };
    const awsDatabases = props.config.databases.filter((database) => database.provider.kind === 'rds' || database.provider.kind === 'aurora');

    const retention = Duration.days(settings.reportRetentionDays);
    const lock = settings.reportObjectLock;
    this.reportsBucket = new s3.Bucket(this, 'Reports', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // Object Lock needs versioning, which a locked bucket can never suspend.
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      removalPolicy: RemovalPolicy.RETAIN,
      ...(lock
        ? { objectLockEnabled: true, objectLockDefaultRetention: lock.mode === 'compliance' ? s3.ObjectLockRetention.compliance(retention) : s3.ObjectLockRetention.governance(retention) }
        : {}),
      // A locked version replaced on the day it was written becomes noncurrent then, but is retained for
      // reportRetentionDays from its writing: expiring noncurrent versions sooner would ask S3 to delete locked ones.
      lifecycleRules: [{ expiration: retention, noncurrentVersionExpiration: lock ? retention : Duration.days(30) }],
    });

    let vpc: ec2.IVpc | undefined;
    let verifySecurityGroup: ec2.SecurityGroup | undefined;
    const network: Record<string, string> = {};
    if (awsDatabases.length && settings.vpc) {
      vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', { vpcId: settings.vpc.vpcId, availabilityZones: settings.vpc.availabilityZones, privateSubnetIds: settings.vpc.subnetIds });
      // Route tables are not needed: nothing here adds routes to the imported subnets.
      Annotations.of(this).acknowledgeWarning('@aws-cdk/aws-ec2:noSubnetRouteTableId', 'the stack adds no routes to the imported subnets');
      const subnetGroup = new rds.SubnetGroup(this, 'CopySubnetGroup', {
        vpc,
        description: 'restore-drill copies',
        vpcSubnets: { subnets: vpc.privateSubnets },
        removalPolicy: RemovalPolicy.DESTROY,
      });
      const copySecurityGroup = new ec2.SecurityGroup(this, 'CopySecurityGroup', { vpc, description: 'restore-drill copies: reached by the verify function only', allowAllOutbound: false });
      verifySecurityGroup = new ec2.SecurityGroup(this, 'VerifySecurityGroup', { vpc, description: 'restore-drill verify function', allowAllOutbound: true });
      copySecurityGroup.addIngressRule(verifySecurityGroup, ec2.Port.tcp(5432), 'verify function to the copies');
      this.copySecurityGroup = copySecurityGroup;
      // Copies go into our subnet group and security group unless the config names its own.
      network[COPY_SUBNET_GROUP_ENV] = subnetGroup.subnetGroupName;
      network[COPY_SECURITY_GROUPS_ENV] = copySecurityGroup.securityGroupId;
    }
    // The config (and the files it names) is compiled into each function: no size limit, unlike the environment's 4 KB.
    const deployment = deploymentModules(this, props.config);
    // drizzle-kit goes beside the Verify bundle only for the layouts of the databases that set checks.schema.
    const schemaKit = schemaKitLayouts(props.config);

    const functions: Record<string, nodejs.NodejsFunction> = {};
    const fn = (name: string, entry: string, role: DrillRole, options: { timeout: Duration; inVpc?: boolean; memorySize?: number }) => {
      const verifies = role === 'verify' || role === 'verifyInVpc';
      const logGroup = new logs.LogGroup(this, `${name}Logs`, { retention: retentionOf(settings.logRetentionDays), removalPolicy: RemovalPolicy.DESTROY });
      const environment: Record<string, string> = { ...network, [REPORTS_BUCKET_ENV]: this.reportsBucket.bucketName, NODE_OPTIONS: '--enable-source-maps' };
      if (role === 'report' && settings.slackWebhookSecretArn) environment[SLACK_SECRET_ENV] = settings.slackWebhookSecretArn;
      // Every function that writes a report signs it.
      if (settings.signingKeySecretArn && SIGNING_ROLES.includes(role)) environment[SIGNING_KEY_SECRET_ENV] = settings.signingKeySecretArn;
      const f = new nodejs.NodejsFunction(this, name, {
        entry: `${FUNCTIONS}${entry}`,
        handler: 'handler',
        runtime: lambda.Runtime.NODEJS_24_X,
        architecture: lambda.Architecture.ARM_64,
        timeout: options.timeout,
        memorySize: options.memorySize ?? 512,
        logGroup,
        tracing: lambda.Tracing.ACTIVE,
        environment,
        bundling: verifies ? { ...lambdaBundling({ schemaKit }), inject: [deployment.withMigrations] } : { ...lambdaBundling(), inject: [deployment.withoutMigrations] },
        ...(options.inVpc && vpc && verifySecurityGroup ? { vpc, vpcSubnets: { subnets: vpc.privateSubnets }, securityGroups: [verifySecurityGroup] } : {}),
      });
      const wildcards = [...grantRds(f, role, props.config.databases, stack), ...grantSecrets(f, role, props.config, settings.slackWebhookSecretArn), ...grantReports(f, role, this.reportsBucket), ...grantSigningKey(f, role, { secretArn: settings.signingKeySecretArn, kmsKeyArn: settings.signingKeyKmsKeyArn })];
      acknowledgeFunctionFindings(f, wildcards, options.inVpc === true);
      functions[name] = f;
      return f;
    };

    const plan = fn('Plan', 'plan.ts', 'plan', { timeout: Duration.minutes(1) });
    const start = fn('Start', 'start.ts', 'start', { timeout: Duration.minutes(2) });
    const poll = fn('Poll', 'poll.ts', 'poll', { timeout: Duration.minutes(1) });
    // Each check query is bounded by statement_timeout (cloudProblems keeps it under this limit), and the
    // checks as a whole stop before the limit so that Verify returns what it found (lib/checks/runChecks.ts).
    const verifyTimeout = Duration.seconds(VERIFY_TIMEOUT_SECONDS);
    const verify = fn('Verify', 'verify.ts', 'verify', { timeout: verifyTimeout, memorySize: 1024 });
    const verifyInVpc = vpc ? fn('VerifyInVpc', 'verify.ts', 'verifyInVpc', { timeout: verifyTimeout, memorySize: 1024, inVpc: true }) : undefined;
    // Cleanup waits at most CLEANUP_REMOVAL_WAIT_MS for a delete RDS refuses in the copy's state, then leaves it to the janitor.
    const cleanup = fn('Cleanup', 'cleanup.ts', 'cleanup', { timeout: Duration.millis(CLEANUP_REMOVAL_WAIT_MS).plus(Duration.minutes(2)) });
    // Report also reads 90 days of reports for the evidence page (thousands of objects for many databases).
    const report = fn('Report', 'report.ts', 'report', { timeout: Duration.minutes(5), memorySize: 1024 });
    const janitor = fn('Janitor', 'janitor.ts', 'janitor', { timeout: Duration.minutes(10) });
    this.functions = functions;

    const mapConcurrency = settings.mapConcurrency ?? props.config.concurrency;
    const restoreTimeoutSeconds = Math.max(props.config.restoreTimeoutSeconds, ...props.config.databases.map((database) => database.restoreTimeoutSeconds ?? 0));
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(drillDefinition(new Construct(this, 'Definition'), { plan, start, poll, verify, verifyInVpc, cleanup, report }, settings.pollIntervalSeconds, mapConcurrency)),
      timeout: executionTimeout(restoreTimeoutSeconds, props.config.databases.length, mapConcurrency, settings.pollIntervalSeconds, {
        plan: plan.timeout!, start: start.timeout!, poll: poll.timeout!, verify: verifyTimeout, cleanup: cleanup.timeout!, report: report.timeout!,
      }),
      tracingEnabled: true,
      logs: {
        destination: new logs.LogGroup(this, 'StateMachineLogs', { retention: retentionOf(settings.logRetentionDays), removalPolicy: RemovalPolicy.DESTROY }),
        level: sfn.LogLevel.ALL,
        includeExecutionData: true,
      },
    });

    for (const schedule of settings.schedules) {
      new scheduler.Schedule(this, `Schedule-${schedule.name}`, {
        description: `restore drill ${schedule.name}`,
        schedule: scheduler.ScheduleExpression.expression(schedule.expression, TimeZone.of(schedule.timeZone)),
        target: new schedulerTargets.StepFunctionsStartExecution(this.stateMachine, {
          input: scheduler.ScheduleTargetInput.fromObject({ mode: 'drill', trigger: 'schedule', ...(schedule.databases ? { databases: schedule.databases } : {}) }),
        }),
      });
    }
    // Only this account's schedules may act as the role (the confused-deputy guard Scheduler documents).
    const janitorSchedulerRole = new iam.Role(this, 'JanitorSchedulerRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': stack.account } } }),
    });
    Validations.of(janitorSchedulerRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagForm(stack, `${janitor.functionArn}:*`)}]`,
      reason: 'The scheduler invokes any version of the janitor function (the LambdaInvoke target grant).',
    });
    new scheduler.Schedule(this, 'JanitorSchedule', {
      description: 'restore-drill janitor: removes our copies past their expiry',
      schedule: scheduler.ScheduleExpression.expression(settings.janitorExpression),
      target: new schedulerTargets.LambdaInvoke(janitor, { role: janitorSchedulerRole }),
    });

    const slackSecret = settings.slackWebhookSecretArn ? importSecret(this, 'SlackWebhook', settings.slackWebhookSecretArn) : undefined;
    const periods = drillPeriodsOf(props.config, settings);
    this.monitoring = new RestoreDrillMonitoring(this, 'Monitoring', {
      databases: monitoredDatabasesOf(props.config).map((database) => ({ ...database, schedulePeriod: Duration.seconds(periods.get(database.name)!) })),
      schedulePeriod: Duration.seconds(Math.max(...periods.values())),
      stateMachine: this.stateMachine,
      janitor,
      ...(slackSecret ? { slackNotifier: { entry: `${FUNCTIONS}notifier.ts`, webhookSecret: slackSecret, logRetention: retentionOf(settings.logRetentionDays), ...(props.config.slack?.runbookUrl ? { runbookUrl: props.config.slack.runbookUrl } : {}) } } : {}),
    });
    if (this.monitoring.notifier) {
      Validations.of(this.monitoring.notifier).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'The Slack notifier only writes its own logs and reads the webhook secret.',
      });
    }
    Validations.of(this.reportsBucket).acknowledge({ id: 'AwsSolutions-S1', reason: 'Reports are written only by the drill functions; CloudTrail data events can audit the bucket where required.' });
    const stateMachinePolicy = this.stateMachine.role.node.tryFindChild('DefaultPolicy');
    Validations.of(stateMachinePolicy ?? this.stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray tracing and CloudWatch Logs log delivery (logs:CreateLogDelivery and friends) take no narrower resource.',
    });
    // The distributed Map starts, watches and stops its child executions: their names are Step Functions'.
    const mapPolicy = this.stateMachine.node.tryFindChild('DistributedMapPolicy') as iam.Policy | undefined;
    for (const statement of mapPolicy ? (stack.resolve(mapPolicy.document.toJSON()) as { Statement: { Resource: unknown }[] }).Statement : []) {
      for (const resource of [statement.Resource].flat().map((value) => nagForm(stack, value)).filter((value) => value.includes('*'))) {
        Validations.of(mapPolicy!).acknowledge({ id: `AwsSolutions-IAM5[Resource::${resource}]`, reason: "The distributed Map's child executions of this state machine: Step Functions names them." });
      }
    }
    for (const f of Object.values(functions)) {
      Validations.of(stateMachinePolicy ?? this.stateMachine).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagForm(stack, `${f.functionArn}:*`)}]`,
        reason: 'Step Functions invokes any version of the drill functions (the LambdaInvoke task grant).',
      });
    }
  }
}

/** cdk-nag findings of a function that are by design: each names its reason. */
function acknowledgeFunctionFindings(f: nodejs.NodejsFunction, wildcards: readonly string[], inVpc: boolean): void {
  const validations = Validations.of(f);
  validations.acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    reason: 'Writes only to its own log group, which the stack creates with a retention.',
  });
  if (inVpc) {
    validations.acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
      reason: 'The verify function runs in the VPC to reach RDS and Aurora copies; Lambda manages its network interfaces.',
    });
  }
  validations.acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason: 'X-Ray PutTraceSegments and RDS DescribeDBInstances/DescribeDBClusters take no narrower resource; they only read or trace.',
  });
  for (const resource of new Set(wildcards)) {
    validations.acknowledge({
      id: `AwsSolutions-IAM5[Resource::${resource}]`,
      reason: 'Copies get generated names with the rd- prefix (creation also needs the request tag restore-drill:managed=true, deletion the resource tag); reports are keyed by database and time under reports/.',
    });
  }
}

function retentionOf(days: number): logs.RetentionDays {
  const allowed = Object.values(logs.RetentionDays).filter((value): value is logs.RetentionDays => typeof value === 'number' && value > 0).sort((a, b) => a - b);
  return allowed.find((value) => value >= days) ?? logs.RetentionDays.TEN_YEARS;
}

interface DrillFunctions {
  plan: lambda.IFunction;
  start: lambda.IFunction;
  poll: lambda.IFunction;
  verify: lambda.IFunction;
  verifyInVpc: lambda.IFunction | undefined;
  cleanup: lambda.IFunction;
  report: lambda.IFunction;
}

/**
 * Plan; Map over the drills of Start, Wait, Poll, Ready? (loop), Verify, Cleanup, every failure
 * of an item caught into Cleanup, so that a failing database never fails the others; then Report.
 */
export function drillDefinition(scope: Construct, f: DrillFunctions, pollIntervalSeconds: number, maxConcurrency: number): sfn.IChainable {
  const invoke = (id: string, fn: lambda.IFunction, extra: Partial<tasks.LambdaInvokeProps> = {}) => {
    const task = new tasks.LambdaInvoke(scope, id, { lambdaFunction: fn, payloadResponseOnly: true, retryOnServiceExceptions: true, ...extra });
    // Lambda's concurrency limit answers 429; the Map's drills (and other stacks) share it.
    task.addRetry({ errors: ['Lambda.TooManyRequestsException'], interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 6, jitterStrategy: sfn.JitterType.FULL });
    return task;
  };

  const cleanup = invoke('Cleanup', f.cleanup);
  const cleanupFailed = new sfn.Pass(scope, 'CleanupFailed', {
    parameters: { 'database.$': '$.report.database', status: 'error', reportKey: null, 'copy.$': '$.report.copy.name', kept: false, 'error.$': '$.cleanupFailure.Cause' },
  });
  cleanup.addCatch(cleanupFailed, { errors: ['States.ALL'], resultPath: '$.cleanupFailure' });
  // Our own failures come back in the state (report.error); a Catch sees only the function's own (a time limit, a crash).
  const catchIntoCleanup = (task: tasks.LambdaInvoke) => task.addCatch(cleanup, { errors: ['States.ALL'], resultPath: '$.failure' });
  const failed = sfn.Condition.isPresent('$.report.error');

  const start = catchIntoCleanup(invoke('Start', f.start));
  const poll = catchIntoCleanup(invoke('Poll', f.poll));
  const verify = catchIntoCleanup(invoke('Verify', f.verify));
  // Start and Poll say how long to wait (half the restore's time so far, from 1 s): capped here at the interval.
  const wait = new sfn.Wait(scope, 'WaitForCopy', { time: sfn.WaitTime.secondsPath('$.poll.waitSeconds') });
  const atInterval = new sfn.Pass(scope, 'WaitAtInterval', { result: sfn.Result.fromNumber(pollIntervalSeconds), resultPath: '$.poll.waitSeconds' });
  atInterval.next(wait);
  const nextPoll = new sfn.Choice(scope, 'NextPoll')
    .when(sfn.Condition.and(sfn.Condition.isPresent('$.poll.waitSeconds'), sfn.Condition.numberLessThanEquals('$.poll.waitSeconds', pollIntervalSeconds)), wait)
    .otherwise(atInterval);
  verify.next(cleanup);
  let verifyStep: sfn.IChainable = verify;
  if (f.verifyInVpc) {
    const verifyInVpc = catchIntoCleanup(invoke('VerifyInVpc', f.verifyInVpc));
    verifyInVpc.next(cleanup);
    verifyStep = new sfn.Choice(scope, 'VerifyWhere')
      .when(sfn.Condition.or(sfn.Condition.stringEquals('$.report.provider', 'rds'), sfn.Condition.stringEquals('$.report.provider', 'aurora')), verifyInVpc)
      .otherwise(verify);
  }
  const ready = new sfn.Choice(scope, 'CopyReady').when(failed, cleanup).when(sfn.Condition.stringEquals('$.poll.state', 'ready'), verifyStep).otherwise(nextPoll);
  wait.next(poll).next(ready);
  const started = new sfn.Choice(scope, 'Started').when(failed, cleanup).otherwise(nextPoll);

  const planned = new sfn.Choice(scope, 'Planned').when(failed, cleanup).otherwise(start.next(started));

  // Each database's drill runs as a child execution with a history of its own: in one execution, 50
  // one-hour restores polled every minute would pass Step Functions' 25,000 events.
  const drills = new sfn.DistributedMap(scope, 'Drills', { itemsPath: '$.drills', maxConcurrency, resultPath: '$.results', mapExecutionType: sfn.StateMachineType.STANDARD, label: 'Drill' });
  drills.itemProcessor(planned);
  const report = invoke('Report', f.report, { payload: sfn.TaskInput.fromObject({ 'drills.$': '$.results', 'run.$': '$.run' }) });
  // A Plan or a Map that fails unexpectedly (a crash, a time limit, a child execution the Map gives up on)
  // still goes through Report: a report and DrillSucceeded 0 for each database, instead of a silent run.
  const planFailed = new sfn.Pass(scope, 'PlanFailed', { parameters: { results: [], run: { step: 'plan', 'failure.$': '$.planFailure', 'input.$': '$$.Execution.Input' } } });
  const drillsFailed = new sfn.Pass(scope, 'DrillsFailed', { parameters: { results: [], run: { step: 'drills', 'failure.$': '$.drillsFailure', 'planned.$': '$.drills' } } });
  planFailed.next(report);
  drillsFailed.next(report);
  drills.addCatch(drillsFailed, { errors: ['States.ALL'], resultPath: '$.drillsFailure' });
  const plan = invoke('Plan', f.plan).addCatch(planFailed, { errors: ['States.ALL'], resultPath: '$.planFailure' });
  return plan.next(drills).next(report);
}

/**
 * The longest an execution may run: every round of the Map (drills beyond maxConcurrency wait for a
 * slot) given its restore timeout and each function's limit, plus Plan and Report. Past it Step
 * Functions stops the execution; the janitor removes what it left, after the copy's expiry.
 */
export function executionTimeout(restoreTimeoutSeconds: number, databases: number, maxConcurrency: number, pollIntervalSeconds: number, limits: { plan: Duration; start: Duration; poll: Duration; verify: Duration; cleanup: Duration; report: Duration }): Duration {
  const rounds = Math.max(1, Math.ceil(databases / Math.max(1, maxConcurrency)));
  // Each task's retries (Lambda's service errors and its 429s, 2 s doubling six times each) come on top.
  const retried = (limit: Duration) => limit.toSeconds() + RETRY_BACKOFF_SECONDS;
  const drill = retried(limits.start) + restoreTimeoutSeconds + pollIntervalSeconds + retried(limits.poll) + retried(limits.verify) + retried(limits.cleanup);
  const seconds = retried(limits.plan) + rounds * drill + retried(limits.report);
  if (seconds > MAX_EXECUTION_SECONDS) {
    throw new ConfigError(
      `an execution of ${databases} database(s), ${maxConcurrency} at a time, each given restoreTimeoutSeconds ${restoreTimeoutSeconds}, could take ${Math.ceil(seconds / 86_400)} days: a Standard execution may run one year at most. Lower restoreTimeoutSeconds, raise mapConcurrency, or split the databases between schedules`,
    );
  }
  return Duration.seconds(seconds);
}

/** The backoff of one task's two retry policies (6 attempts each, from 2 s, doubling). */
const RETRY_BACKOFF_SECONDS = 2 * (2 + 4 + 8 + 16 + 32 + 64);
/** Step Functions' limit on a Standard execution's duration. */
const MAX_EXECUTION_SECONDS = 365 * 86_400;

export interface RestoreDrillStackProps extends StackProps, RestoreDrillProps {}

export class RestoreDrillStack extends Stack {
  readonly drill: RestoreDrill;

  constructor(scope: Construct, id: string, props: RestoreDrillStackProps) {
    super(scope, id, props);
    this.drill = new RestoreDrill(this, 'RestoreDrill', props);
    new CfnOutput(this, 'StateMachineArn', { value: this.drill.stateMachine.stateMachineArn, description: 'Start a manual restore here (aws stepfunctions start-execution)' });
    new CfnOutput(this, 'ReportsBucketName', { value: this.drill.reportsBucket.bucketName });
    // What `restore-drill cloud check` reads after a deployment.
    addDeploymentOutputs(this, this.drill, props.config);
  }
}
