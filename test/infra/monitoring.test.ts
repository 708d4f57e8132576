import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { afterAll, describe, expect, test } from 'vitest';
import { configSchema } from '../../lib/config/schema.ts';
import { alarmPeriods, monitoredDatabasesOf, RestoreDrillMonitoring, type MonitoredDatabase, type RestoreDrillMonitoringProps } from '../../lib/infra/monitoring.ts';
import { alarmPublishRequests, simulate, TemplateResolver, type CfnTemplate } from '../support/awsData/index.ts';
import { repoRoot } from '../support/cli.ts';

// Two databases: `app` takes the top-level targets, `billing` its own.
const config = configSchema.parse({
  rpoTargetSeconds: 300,
  rtoTargetSeconds: 1800,
  databases: [
    { name: 'app', provider: { kind: 'local', baseBackups: './b', walArchive: './w' } },
    { name: 'billing', provider: { kind: 'local', baseBackups: './b2', walArchive: './w2' }, rpoTargetSeconds: 60, rtoTargetSeconds: 900 },
  ],
});

// Synthesis (and the notifier's esbuild bundle) goes to one folder of ours, removed at the end.
const outdir = mkdtempSync(join(tmpdir(), 'rd-cdk-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));
let apps = 0;
const newApp = () => new App({ outdir: join(outdir, String(apps++)) });

function synth(props: Partial<RestoreDrillMonitoringProps> = {}, stackName = 'drills') {
  const stack = new Stack(newApp(), 'Stack', { stackName });
  const monitoring = new RestoreDrillMonitoring(stack, 'Monitoring', { databases: monitoredDatabasesOf(config), schedulePeriod: Duration.days(1), ...props });
  return { stack, monitoring, template: Template.fromStack(stack) };
}

const dimension = (database: string) => [{ Name: 'Database', Value: database }];

describe('alarms per database, thresholds from the config', () => {
  const { template } = synth();

  test('five alarms for each database, each with ALARM and OK actions to the topic', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 10);
    template.resourceCountIs('AWS::SNS::Topic', 1);
    const topic = Object.keys(template.findResources('AWS::SNS::Topic'))[0]!;
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topic }]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: topic }]);
    }
  });

  test('drill failed: DrillSucceeded below 1 in the drill\'s period, missing data ignored', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'drills-app-drill-failed',
      Namespace: 'RestoreDrill',
      MetricName: 'DrillSucceeded',
      Dimensions: dimension('app'),
      Statistic: 'Minimum',
      Period: 86400,
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      EvaluationPeriods: 1,
      TreatMissingData: 'ignore',
    });
  });

  test('RPO over target: RpoClaimedSeconds and DataLagSeconds, each above each database\'s own target', () => {
    for (const [database, target] of [['app', 300], ['billing', 60]] as const) {
      for (const [which, metricName] of [['claimed', 'RpoClaimedSeconds'], ['measured', 'DataLagSeconds']] as const) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          AlarmName: `drills-${database}-rpo-${which}-over-target`,
          Namespace: 'RestoreDrill',
          MetricName: metricName,
          Dimensions: dimension(database),
          Statistic: 'Maximum',
          Period: 86400,
          ComparisonOperator: 'GreaterThanThreshold',
          Threshold: target,
          TreatMissingData: 'ignore',
        });
      }
    }
  });

  test('RTO over target: RtoSeconds above each database\'s own target', () => {
    for (const [database, target] of [['app', 1800], ['billing', 900]] as const) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `drills-${database}-rto-over-target`,
        MetricName: 'RtoSeconds',
        Dimensions: dimension(database),
        Statistic: 'Maximum',
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: target,
      });
    }
  });

  test('no drill result: fewer than one DrillSucceeded sample over two schedule periods, missing data breaching', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'drills-billing-no-drill-result',
      MetricName: 'DrillSucceeded',
      Dimensions: dimension('billing'),
      Statistic: 'SampleCount',
      Period: 86400,
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      TreatMissingData: 'breaching',
    });
  });

  test('hourly: hourly periods; every 3 days: day periods, two schedule periods; weekly: the 7 days CloudWatch allows', () => {
    const hourly = synth({ schedulePeriod: Duration.hours(1) }).template;
    hourly.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'drills-app-no-drill-result', Period: 3600, EvaluationPeriods: 2 });
    hourly.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'drills-app-drill-failed', Period: 3600 });
    expect(alarmPeriods(Duration.days(3))).toEqual({ periodSeconds: 86400, noResultEvaluationPeriods: 6 });
    expect(alarmPeriods(Duration.days(7))).toEqual({ periodSeconds: 86400, noResultEvaluationPeriods: 7 });
    const threeDays = synth({ schedulePeriod: Duration.days(3) }).template;
    threeDays.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'drills-app-no-drill-result', Period: 86400, EvaluationPeriods: 6, DatapointsToAlarm: 6 });
  });

  test('each database by its own schedule; drilled monthly, it has no "no drill result" alarm, and synth says so', () => {
    const [app, billing] = monitoredDatabasesOf(config) as [MonitoredDatabase, MonitoredDatabase];
    const { stack, template } = synth({ databases: [{ ...app, schedulePeriod: Duration.days(31) }, { ...billing, schedulePeriod: Duration.days(7) }] });

    expect(alarmPeriods(Duration.days(31)).noResultEvaluationPeriods).toBeUndefined();
    expect(Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((alarm) => alarm.Properties.AlarmName)).not.toContain('drills-app-no-drill-result');
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'drills-billing-no-drill-result', Period: 86400, EvaluationPeriods: 7 });
    Annotations.fromStack(stack).hasWarning('/Stack/Monitoring/app', Match.stringLikeRegexp('app is drilled every 31 days: CloudWatch watches at most 7 days'));
  });
});

describe('dashboard', () => {
  test('per database: claimed and measured RPO and RTO against their targets, and the pass/fail history', () => {
    const { template } = synth();
    const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(dashboards[0]!.Properties.DashboardBody);
    for (const title of ['app: RPO against target', 'app: RTO against target', 'app: pass/fail history', 'billing: RPO against target', 'billing: pass/fail history']) {
      expect(body).toContain(title);
    }
    for (const name of ['RpoClaimedSeconds', 'DataLagSeconds', 'RtoSeconds', 'RestoreSeconds', 'VerifySeconds', 'DrillSucceeded', 'ChecksFailed']) expect(body).toContain(name);
    for (const annotation of ['RPO target 300 s', 'RTO target 1800 s', 'RPO target 60 s', 'RTO target 900 s']) expect(body).toContain(annotation);
    expect(body).toContain('\\"value\\":60,');
    expect(body).toContain('\\"value\\":900,');
    expect(body).toContain('restore-drill alarms');
  });
});

describe('the alarm topic\'s policy', () => {
  const { template } = synth();
  const resolver = new TemplateResolver(template.toJSON() as CfnTemplate, { account: '123456789012', region: 'eu-west-1', partition: 'aws', stackName: 'drills' });
  const resources = resolver.resources();
  const publishes = alarmPublishRequests(resolver, resources);

  test('allows CloudWatch to publish for this account\'s alarms of the stack, and keeps the TLS deny', () => {
    const topic = Object.keys(template.findResources('AWS::SNS::Topic'))[0]!;
    template.resourceCountIs('AWS::SNS::TopicPolicy', 1);
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topic }],
      PolicyDocument: {
        Statement: [
          Match.objectLike({ Effect: 'Deny', Principal: '*', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          {
            Sid: 'AllowDrillAlarmsToPublish',
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: { Ref: topic },
            Condition: {
              ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':alarm:drills-*']] } },
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
            },
          },
        ],
      },
    });
  });

  test('simulated: every alarm publishes its changes over TLS; not without TLS, not an alarm of another stack or account', async () => {
    // Prepare: what CloudWatch sends for each alarm (iam-simulate over the Service Authorization Reference).
    expect(publishes).toHaveLength(10);
    const [first] = publishes;
    const variants = {
      withoutTls: { ...first!.request.context, 'aws:SecureTransport': 'false' },
      otherStack: { ...first!.request.context, 'aws:SourceArn': 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:other-app-cpu-high' },
      otherAccount: { ...first!.request.context, 'aws:SourceArn': 'arn:aws:cloudwatch:eu-west-1:210987654321:alarm:drills-app-drill-failed', 'aws:SourceAccount': '210987654321' },
    };

    // Act
    const decisions = await Promise.all(publishes.map(async ({ what, request }) => ({ what, ...(await simulate(request)) })));
    const refused = Object.fromEntries(await Promise.all(Object.entries(variants).map(async ([name, context]) => [name, (await simulate({ ...first!.request, context })).result] as const)));

    // Assess
    expect(decisions.filter((decision) => decision.result !== 'Allowed').map((decision) => `${decision.what}: ${decision.why}`)).toEqual([]);
    expect(refused).toEqual({ withoutTls: 'ExplicitlyDenied', otherStack: 'ImplicitlyDenied', otherAccount: 'ImplicitlyDenied' });
  });

  test('the prefix of the alarms\' names is the prefix of the ARNs allowed', () => {
    const named = synth({ alarmNamePrefix: 'orders-db' }).template;
    named.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'orders-db-app-drill-failed' });
    expect(JSON.stringify(named.findResources('AWS::SNS::TopicPolicy'))).toContain(':alarm:orders-db-*');
  });
});

describe('an SNS topic of one\'s own', () => {
  test('is used instead of a new one', () => {
    const stack = new Stack(newApp(), 'Stack');
    const topic = new sns.Topic(stack, 'Ops');
    new RestoreDrillMonitoring(stack, 'Monitoring', { databases: monitoredDatabasesOf(config), schedulePeriod: Duration.hours(6), alarmTopic: topic });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: [{ Ref: stack.getLogicalId(topic.node.defaultChild as sns.CfnTopic) }] });
    // Its policy stays the owner's: a topic policy written here would replace SNS's default one.
    template.resourceCountIs('AWS::SNS::TopicPolicy', 0);
  });
});

describe('the Slack notifier', () => {
  test('a Node 24 function from functions/notifier.ts, subscribed to the topic, reading only its secret', () => {
    const stack = new Stack(newApp(), 'Stack');
    const secret = new secretsmanager.Secret(stack, 'Webhook');
    new RestoreDrillMonitoring(stack, 'Monitoring', {
      databases: monitoredDatabasesOf(config),
      schedulePeriod: Duration.days(1),
      slackNotifier: { entry: join(repoRoot, 'functions', 'notifier.ts'), webhookSecret: secret, runbookUrl: 'https://wiki.example.com/runbooks/restore' },
    });
    const template = Template.fromStack(stack);
    const secretId = stack.getLogicalId(secret.node.defaultChild as secretsmanager.CfnSecret);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Handler: 'index.handler',
      Environment: { Variables: { SLACK_WEBHOOK_SECRET_ARN: { Ref: secretId }, RUNBOOK_URL: 'https://wiki.example.com/runbooks/restore' } },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'lambda' });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], Resource: { Ref: secretId } })]) },
    });
  });
});

describe('props are checked before anything is made', () => {
  test('every problem at once, each with its value', () => {
    const stack = new Stack(newApp(), 'Stack');
    expect(
      () =>
        new RestoreDrillMonitoring(stack, 'Monitoring', {
          databases: [
            { name: 'app', rpoTargetSeconds: 300, rtoTargetSeconds: 0 },
            { name: 'app', rpoTargetSeconds: 1.5, rtoTargetSeconds: 60 },
            { name: 'Bad_Name', rpoTargetSeconds: 60, rtoTargetSeconds: 60 },
          ],
          schedulePeriod: Duration.seconds(90),
        }),
    ).toThrow(
      [
        'RestoreDrillMonitoring Stack/Monitoring:',
        '- database "app": rtoTargetSeconds is 0; expected a positive whole number of seconds',
        '- database "app" is listed twice',
        '- database "app": rpoTargetSeconds is 1.5; expected a positive whole number of seconds',
        '- database name "Bad_Name" is not valid: lowercase letters, digits and hyphens, starting with a letter, at most 20 characters',
        '- schedulePeriod is 1 minute 30 seconds; expected whole minutes, at least 1 minute (CloudWatch alarm periods are multiples of 60 seconds)',
      ].join('\n'),
    );
  });

  test('a schedule period of part of a minute and no databases', () => {
    const stack = new Stack(newApp(), 'Stack');
    expect(() => new RestoreDrillMonitoring(stack, 'Monitoring', { databases: [], schedulePeriod: Duration.seconds(90) })).toThrow(
      /databases is empty[\s\S]*schedulePeriod is 1 minute 30 seconds; expected whole minutes/,
    );
  });
});
