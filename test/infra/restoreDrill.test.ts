import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, test } from 'vitest';
import { configSchema } from '../../lib/config/schema.ts';
import { CLEANUP_REMOVAL_WAIT_MS } from '../../lib/drill/lambdaDependencies.ts';
import { executionTimeout, RestoreDrillStack } from '../../lib/infra/restoreDrill.ts';
import { repoRoot } from '../support/cli.ts';
import { loadCloudExample } from '../support/cloudExample.ts';

const { config, settings } = await loadCloudExample();

// One synthesis of the example (its esbuild bundles included) for the whole file.
const outdir = mkdtempSync(join(tmpdir(), 'rd-stack-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));
const app = new App({ outdir });
const stack = new RestoreDrillStack(app, 'Drills', { config, settings: settings as never });
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
const assembly = app.synth();
const template = Template.fromStack(stack);
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>;
const definition = () => {
  const machine = Object.values(resources).find((resource) => resource.Type === 'AWS::StepFunctions::StateMachine')!;
  const join = (machine.Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
  return JSON.parse(join.map((part) => (typeof part === 'string' ? part : '"LAMBDA"').replace(/^"LAMBDA"$/, 'LAMBDA')).join('').replace(/LAMBDA/g, 'arn:lambda')) as {
    StartAt: string;
    States: Record<string, Record<string, unknown>>;
  };
};
const policiesOf = (fn: string) =>
  Object.entries(resources)
    .filter(([id, resource]) => resource.Type === 'AWS::IAM::Policy' && id.startsWith(`RestoreDrill${fn}ServiceRoleDefaultPolicy`))
    .flatMap(([, resource]) => (resource.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement);

describe('the functions', () => {
  test('each drill function runs on nodejs24.x, arm64, with its own log group and retention; no extra custom-resource function', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(functions).length).toBe(9);
    for (const fn of Object.values(functions)) {
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
      expect(fn.Properties.Architectures).toEqual(['arm64']);
    }
    const drillFunctions = Object.entries(functions).filter(([id]) => !id.includes('Monitoring'));
    for (const [, fn] of drillFunctions) expect(fn.Properties.LoggingConfig.LogGroup).toBeDefined();
    template.resourceCountIs('Custom::LogRetention', 0);
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  test('only the verify function for RDS and Aurora is in the VPC; the copies accept it on 5432 and nothing else', () => {
    const inVpc = Object.entries(template.findResources('AWS::Lambda::Function')).filter(([, fn]) => fn.Properties.VpcConfig);
    expect(inVpc.map(([id]) => id)).toEqual([expect.stringMatching(/^RestoreDrillVerifyInVpc/)]);
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432 });
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('copies'),
      SecurityGroupEgress: [Match.objectLike({ CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic' })],
    });
    template.hasResourceProperties('AWS::RDS::DBSubnetGroup', { SubnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'] });
  });

  test('the config travels inside each bundle, the migrations only in Verify\'s; the copy network through the environment', () => {
    const fn = (prefix: string) => Object.entries(resources).find(([id, resource]) => resource.Type === 'AWS::Lambda::Function' && id.startsWith(`RestoreDrill${prefix}`))![1];
    const bundleOf = (prefix: string) => {
      const key = (fn(prefix).Properties.Code as { S3Key: string }).S3Key;
      return readFileSync(join(outdir, `asset.${key.replace(/\.zip$/, '')}`, 'index.mjs'), 'utf8');
    };
    const has = (prefix: string, text: string) => bundleOf(prefix).includes(text);
    const migrationFiles = ['"orders/migrations/meta/_journal.json"', '"orders/migrations/0000_users.sql"', '"orders/migrations/0001_user_bio.sql"'];
    for (const name of ['Plan', 'Start', 'Poll', 'Cleanup', 'Report', 'Janitor']) {
      expect(has(name, 'instanceId:"orders-prod"'), name).toBe(true);
      for (const file of migrationFiles) expect(has(name, file), `${name} ${file}`).toBe(false);
    }
    for (const name of ['Verify', 'VerifyInVpc']) {
      for (const file of migrationFiles) expect(has(name, file), `${name} ${file}`).toBe(true);
      // Only what the ledger check reads: drizzle-kit's snapshots stay behind.
      expect(has(name, '0000_snapshot.json'), name).toBe(false);
    }
    const variables = fn('Plan').Properties.Environment as { Variables: Record<string, unknown> };
    expect(Object.keys(variables.Variables)).not.toContain('RESTORE_DRILL_CONFIG');
    expect(JSON.stringify(variables.Variables.RESTORE_DRILL_COPY_SUBNET_GROUP)).toMatch(/Ref.*CopySubnetGroup/);
    expect(JSON.stringify(variables.Variables.RESTORE_DRILL_COPY_SECURITY_GROUPS)).toMatch(/CopySecurityGroup.*GroupId/);
  });
});

describe('the state machine', () => {
  const { StartAt, States } = definition();
  const map = States.Drills as { Type: string; MaxConcurrency: number; ItemProcessor: { StartAt: string; States: Record<string, Record<string, unknown>> } };
  const inner = map.ItemProcessor.States;

  test('Plan, then a Map over the drills with bounded concurrency, then Report', () => {
    expect(StartAt).toBe('Plan');
    expect(States.Plan!.Next).toBe('Drills');
    expect(map.Type).toBe('Map');
    expect(map.MaxConcurrency).toBe(2);
    // Each drill a child execution with its own history (Step Functions keeps at most 25,000 events per execution).
    expect((map as unknown as { ItemProcessor: { ProcessorConfig: unknown } }).ItemProcessor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
    expect(States.Drills!.Next).toBe('Report');
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineType: 'STANDARD', TracingConfiguration: { Enabled: true }, LoggingConfiguration: Match.objectLike({ Level: 'ALL' }) });
  });

  test('a failure a task records, or one the state machine catches, goes to Cleanup, keeping the state; Poll loops through the Wait until ready', () => {
    for (const name of ['Start', 'Poll', 'Verify', 'VerifyInVpc']) {
      expect(inner[name]!.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Cleanup' }]);
    }
    expect(inner.Start!.Next).toBe('Started');
    expect(inner.Started).toMatchObject({ Choices: [{ Variable: '$.report.error', IsPresent: true, Next: 'Cleanup' }], Default: 'NextPoll' });
    // The wait Start or Poll asked for, cut to pollIntervalSeconds (60 here) when longer or missing.
    expect(inner.NextPoll).toMatchObject({ Choices: [{ And: [{ Variable: '$.poll.waitSeconds', IsPresent: true }, { Variable: '$.poll.waitSeconds', NumericLessThanEquals: 60 }], Next: 'WaitForCopy' }], Default: 'WaitAtInterval' });
    expect(inner.WaitAtInterval).toMatchObject({ Type: 'Pass', Result: 60, ResultPath: '$.poll.waitSeconds', Next: 'WaitForCopy' });
    expect(inner.WaitForCopy).toMatchObject({ SecondsPath: '$.poll.waitSeconds', Next: 'Poll' });
    expect(inner.Poll!.Next).toBe('CopyReady');
    const ready = inner.CopyReady as { Choices: { Variable: string; StringEquals: string; Next: string }[]; Default: string };
    expect(ready.Choices[0]).toMatchObject({ Variable: '$.report.error', IsPresent: true, Next: 'Cleanup' });
    expect(ready.Choices[1]).toMatchObject({ Variable: '$.poll.state', StringEquals: 'ready', Next: 'VerifyWhere' });
    expect(ready.Default).toBe('NextPoll');
    expect(inner.Verify!.Next).toBe('Cleanup');
    expect(inner.Planned).toMatchObject({ Choices: [{ Variable: '$.report.error', IsPresent: true, Next: 'Cleanup' }], Default: 'Start' });
    // A Cleanup that fails still ends the item, as an error: the other databases go on.
    expect(inner.Cleanup!.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.cleanupFailure', Next: 'CleanupFailed' }]);
    expect(inner.Cleanup!.End).toBe(true);
    // Lambda's concurrency limit (429) is retried on every task.
    for (const name of ['Start', 'Poll', 'Verify', 'VerifyInVpc', 'Cleanup']) {
      expect(inner[name]!.Retry).toContainEqual(expect.objectContaining({ ErrorEquals: ['Lambda.TooManyRequestsException'], MaxAttempts: 6 }));
    }
  });

  test("Cleanup's wait for a delete RDS refuses ends before Lambda ends Cleanup; the janitor does not wait", () => {
    const timeoutOf = (prefix: string) => Number(Object.entries(resources).find(([id, resource]) => resource.Type === 'AWS::Lambda::Function' && id.startsWith(`RestoreDrill${prefix}`))![1].Properties.Timeout);
    // The wait, its last retry pause (10 s) and saving the report all fit in the function's limit.
    expect(timeoutOf('Cleanup')).toBeGreaterThanOrEqual(CLEANUP_REMOVAL_WAIT_MS / 1000 + 60);
    expect(readFileSync(join(repoRoot, 'functions/janitor.ts'), 'utf8')).toMatch(/removalWaitMs: 0/);
  });

  test('an execution that fails, times out or is aborted alarms, and so does a janitor run that fails: both to the alarm topic', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as { Properties: { AlarmName: string; AlarmActions: unknown[]; Metrics?: { Expression?: string; MetricStat?: { Metric: { MetricName: string; Namespace: string } } }[]; MetricName?: string; Namespace?: string } }[];
    const named = (suffix: string) => alarms.find((alarm) => alarm.Properties.AlarmName.endsWith(suffix))!;
    const executions = named('-executions-failed');
    expect(executions.Properties.Metrics!.map((metric) => metric.Expression ?? metric.MetricStat!.Metric.MetricName)).toEqual(['failed + timedOut + aborted', 'ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted']);
    expect(named('-janitor-failed').Properties).toMatchObject({ MetricName: 'Errors', Namespace: 'AWS/Lambda' });
    for (const alarm of [executions, named('-janitor-failed')]) expect(JSON.stringify(alarm.Properties.AlarmActions)).toContain('AlarmTopic');
  });

  test("an execution that could outlast Step Functions' one year is refused at synth, naming what to change", () => {
    const limits = { plan: Duration.minutes(1), start: Duration.minutes(2), poll: Duration.minutes(1), verify: Duration.minutes(15), cleanup: Duration.minutes(5), report: Duration.minutes(2) };
    // A week's restore timeout, 60 databases one at a time: over a year.
    expect(() => executionTimeout(604_800, 60, 1, 60, limits)).toThrow(/could take \d+ days: a Standard execution may run one year at most\. Lower restoreTimeoutSeconds, raise mapConcurrency/);
    // With the retries counted: one drill of a one-hour restore takes its limits plus their backoff.
    expect(executionTimeout(3600, 1, 1, 60, limits).toSeconds()).toBe(60 + 252 + (120 + 252 + 3600 + 60 + 60 + 252 + 900 + 252 + 300 + 252) + 120 + 252);
  });

  test('an execution has a time limit that covers its rounds of drills', () => {
    const machine = Object.values(resources).find((resource) => resource.Type === 'AWS::StepFunctions::StateMachine')!;
    const seconds = JSON.parse((machine.Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1].filter((part) => typeof part === 'string').join('').replace(/"Resource":"[^"]*"/g, '"Resource":"x"').replace(/"Resource":",/g, '"Resource":"x",')).TimeoutSeconds as number;
    // Three databases, two at a time: two rounds of a one-hour restore timeout, plus each function's limit.
    expect(seconds).toBeGreaterThan(2 * 3600 + 2 * 900);
    expect(seconds).toBeLessThan(4 * 3600);
  });

  test('the stack outputs the state machine ARN a manual restore is started with', () => {
    template.hasOutput('StateMachineArn', { Value: { Ref: Match.stringLikeRegexp('StateMachine') } });
  });

  test('one schedule per group in its time zone, starting the state machine; the janitor on its own schedule', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 3 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Berlin',
      Target: Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('StateMachine') }, Input: JSON.stringify({ mode: 'drill', trigger: 'schedule' }) }),
    });
    template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(1 hour)', Target: Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('Janitor'), 'Arn'] } }) });
  });
});

describe('IAM', () => {
  const copyArns = ['arn:', { Ref: 'AWS::Partition' }, ':rds:eu-west-1:', { Ref: 'AWS::AccountId' }];

  const actionsOf = (fn: string) => new Set(policiesOf(fn).flatMap((statement) => [statement.Action].flat() as string[]));
  const statementOf = (fn: string, action: string) => policiesOf(fn).find((statement) => [statement.Action].flat().includes(action))!;
  const createdAsOurs = {
    StringEquals: { 'aws:RequestTag/restore-drill:managed': 'true' },
    'ForAllValues:StringEquals': { 'aws:TagKeys': ['restore-drill:managed', 'restore-drill:expires-at', 'restore-drill:drill', 'restore-drill:database'] },
  };

  test('restores and the Aurora instance create only rd- copies, tagged as ours with our tag keys alone', () => {
    for (const action of ['rds:RestoreDBInstanceToPointInTime', 'rds:RestoreDBClusterToPointInTime']) {
      const restore = statementOf('Start', action);
      expect(restore.Condition).toEqual(action.includes('Instance') ? { ...createdAsOurs, Bool: { 'rds:PubliclyAccessible': 'false' } } : createdAsOurs);
      // The source is authorised too, and what the copy is placed into.
      expect(JSON.stringify(restore.Resource)).toMatch(action.includes('Instance') ? /:db:orders-prod".*:db:rd-\*.*:subgrp:\*/ : /:cluster:billing-prod".*:cluster:rd-\*.*:subgrp:\*/);
    }
    const create = statementOf('Poll', 'rds:CreateDBInstance');
    expect(create.Condition).toEqual({ ...createdAsOurs, Bool: { 'rds:PubliclyAccessible': 'false' } });
    expect(JSON.stringify(create.Resource)).toMatch(/:db:rd-\*.*:cluster:rd-\*.*:pg:\*/);
    expect(JSON.stringify(create.Resource)).not.toMatch(/orders-prod|billing-prod/);
    // RDS authorises a create request's tags as AddTagsToResource on the new resource.
    for (const fn of ['Start', 'Poll']) {
      const tag = statementOf(fn, 'rds:AddTagsToResource');
      expect(JSON.stringify(tag.Resource)).not.toMatch(/orders-prod|billing-prod/);
      expect(tag.Condition).toEqual(createdAsOurs);
    }
    // Each function holds only the calls it makes.
    expect(actionsOf('Start').has('rds:CreateDBInstance')).toBe(false);
    expect([...actionsOf('Poll')].filter((action) => action.startsWith('rds:Restore'))).toEqual([]);
    expect(actionsOf('Plan')).toEqual(new Set(['rds:DescribeDBInstances', 'rds:DescribeDBInstanceAutomatedBackups', 'rds:DescribeDBClusters', 'rds:DescribeDBClusterAutomatedBackups', 'secretsmanager:GetSecretValue', 'xray:PutTraceSegments', 'xray:PutTelemetryRecords']));
  });

  test('deletes only rd- copies that carry our tag, and only Cleanup and the janitor may', () => {
    for (const fn of ['Cleanup', 'Janitor']) {
      for (const [action, type] of [['rds:DeleteDBInstance', 'db'], ['rds:DeleteDBCluster', 'cluster']] as const) {
        const remove = statementOf(fn, action);
        expect(remove.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/restore-drill:managed': 'true' } });
        expect(JSON.stringify(remove.Resource)).toMatch(new RegExp(`^\\[?[^\\]]*:${type}:rd-\\*`));
        expect(JSON.stringify(remove.Resource)).not.toMatch(/orders-prod|billing-prod/);
      }
    }
    for (const fn of ['Plan', 'Start', 'Poll', 'Verify', 'VerifyInVpc', 'Report']) expect(JSON.stringify(policiesOf(fn))).not.toContain('Delete');
  });

  test('each function reads only the secrets it needs; each verify function only those of the databases it checks', () => {
    const secrets = (fn: string) => JSON.stringify(policiesOf(fn).filter((statement) => statement.Action === 'secretsmanager:GetSecretValue'));
    expect(secrets('Report')).toContain('restore-drill-slack');
    expect(secrets('Report')).not.toContain('orders-prod-master');
    // Verify talks to Neon over the internet: it never holds the RDS master secrets; VerifyInVpc never the Neon key.
    expect(secrets('Verify')).toContain('neon-api-key');
    expect(secrets('Verify')).not.toMatch(/orders-prod-master|billing-prod-master|slack/);
    expect(secrets('VerifyInVpc')).toMatch(/orders-prod-master.*billing-prod-master|billing-prod-master.*orders-prod-master/);
    expect(secrets('VerifyInVpc')).not.toMatch(/neon-api-key|slack/);
    expect(secrets('Start')).toContain('neon-api-key');
    expect(secrets('Start')).not.toContain('orders-prod-master');
    // The Slack alarm notifier: the complete ARN as given, which matches the secret (a wildcard after it would not).
    const notifierPolicy = Object.entries(resources).find(([id, resource]) => resource.Type === 'AWS::IAM::Policy' && id.includes('SlackNotifier'))![1];
    expect(JSON.stringify(notifierPolicy.Properties.PolicyDocument)).toContain('"Resource":"arn:aws:secretsmanager:eu-west-1:123456789012:secret:restore-drill-slack-StUvWx"');
  });

  test('the reports bucket: encrypted, TLS only, versioned, with a lifecycle rule', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      VersioningConfiguration: { Status: 'Enabled' },
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 400, Status: 'Enabled' })] },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });
});

describe('cdk-nag', () => {
  type NagReport = { pluginReports: { pluginName: string; violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[] }[] };
  const violations = (directory: string) =>
    (JSON.parse(readFileSync(join(directory, 'validation-report.json'), 'utf8')) as NagReport).pluginReports.flatMap((plugin) =>
      plugin.violations.flatMap((violation) => violation.violatingConstructs.map((construct) => `${violation.ruleName} ${construct.constructPath}`)),
    );

  test('AwsSolutionsChecks find nothing unacknowledged in the stack', () => {
    expect(violations(assembly.directory)).toEqual([]);
  });

  test('the same checks do report what nobody acknowledged (a bare bucket)', () => {
    const probe = new App({ outdir: join(outdir, 'probe') });
    new Bucket(new Stack(probe, 'Probe'), 'Bare');
    Validations.of(probe).addPlugins(new AwsSolutionsChecks(probe));
    // An unacknowledged finding fails synthesis: the stack above synthesised, so it has none.
    expect(() => probe.synth()).toThrow(/AwsSolutions-S1'[\s\S]*Probe\/Bare\/Resource/);
    expect(violations(join(outdir, 'probe'))).toContain('AwsSolutions-S1 Probe/Bare/Resource');
  });
});

describe('props', () => {
  test('every problem of the config and the cloud settings at once', () => {
    const bad = configSchema.parse({
      databases: [
        { name: 'laptop', provider: { kind: 'local', baseBackups: './b', walArchive: './w' } },
        { name: 'orders', provider: { kind: 'rds', instanceId: 'orders-prod', region: 'eu-west-1', instanceClass: 'db.t4g.medium', credentials: { iam: true } }, checks: { statementTimeoutMs: 900_000 } },
        { name: 'analytics', provider: { kind: 'neon', projectId: 'shiny-wind-028834' }, checks: { ledger: { migrationsFolder: './drizzle' }, schema: {} } },
      ],
    });
    const build = () =>
      new RestoreDrillStack(new App({ outdir: join(outdir, 'bad') }), 'Bad', {
        config: bad,
        settings: { schedules: [{ name: 'nightly', expression: 'every night', timeZone: 'Mars/Olympus', databases: ['billing'] }] },
      });
    expect(build).toThrow(/problem/);
    const message = (() => {
      try {
        build();
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    })();
    expect(message).toContain('schedules[0].expression: expected rate(value unit) or cron(minutes hours day-of-month month day-of-week year)');
    expect(message).toContain('databases.laptop: the local provider does not run in the cloud');
    expect(message).toContain('databases.analytics.provider.apiKey: in the cloud the Neon API key comes from Secrets Manager');
    expect(message).toContain("databases.orders.checks.statementTimeoutMs: 900000 ms does not fit the verify function's 15-minute limit; at most 840000");
    // The schema check runs in the cloud's Verify (drizzle-kit travels beside its bundle): not a problem.
    expect(message).not.toContain('checks.schema');
  });

  test('schedules EventBridge would refuse, secrets given by name, sources in two regions: each named before deploying', () => {
    const aws = { instanceClass: 'db.t4g.medium', credentials: { secretArn: 'prod/orders-db' } };
    const bad = configSchema.parse({
      databases: [
        { name: 'orders', provider: { kind: 'rds', instanceId: 'orders-prod', region: 'eu-central-1', ...aws } },
        { name: 'billing', provider: { kind: 'aurora', clusterId: 'billing-prod', region: 'us-west-2', ...aws, credentials: { iam: true } } },
      ],
    });
    const settings = {
      schedules: [
        { name: 'five-fields', expression: 'cron(0 3 * * *)' },
        { name: 'both-days', expression: 'cron(0 3 * * MON *)' },
        { name: 'plural', expression: 'rate(1 days)' },
      ],
      janitorExpression: 'rate(0 minutes)',
      vpc: { vpcId: 'vpc-0123abcd', subnetIds: ['subnet-0123abcd', 'subnet-0456abcd'], availabilityZones: ['us-east-1a', 'us-east-1b'] },
    };
    let message = '';
    try {
      new RestoreDrillStack(new App({ outdir: join(outdir, 'bad3') }), 'Bad', { config: bad, settings });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('schedules[0].expression: cron(0 3 * * *) is not valid: it has 5 fields, EventBridge takes 6');
    expect(message).toContain('schedules[1].expression: cron(0 3 * * MON *) is not valid: exactly one of day-of-month and day-of-week must be ?');
    expect(message).toContain('schedules[2].expression: rate(1 days) is not valid: write rate(1 day) or rate(2 days)');
    expect(message).toContain('janitorExpression: rate(0 minutes) is not valid: the value must be 1 or more');
    expect(message).toContain('databases.orders.provider.credentials.secretArn: "prod/orders-db" is not a secret\'s ARN');
    expect(message).toContain('databases: the RDS and Aurora sources are in eu-central-1 and us-west-2; one stack drills one region');
  });

  test('a parsed schedule names its unknown database, its bad time zone, and the missing VPC', () => {
    const bad = configSchema.parse({ databases: [{ name: 'orders', provider: { kind: 'rds', instanceId: 'orders-prod', region: 'eu-west-1', instanceClass: 'db.t4g.medium', credentials: { iam: true } } }] });
    expect(() =>
      new RestoreDrillStack(new App({ outdir: join(outdir, 'bad2') }), 'Bad', { config: bad, settings: { schedules: [{ name: 'nightly', expression: 'rate(1 day)', timeZone: 'Mars/Olympus', databases: ['billing'] }] } }),
    ).toThrow(/4 problem\(s\)[\s\S]*no database named billing[\s\S]*Mars\/Olympus[\s\S]*vpc: RDS and Aurora copies need[\s\S]*schedules: no schedule drills orders/);
  });
});
