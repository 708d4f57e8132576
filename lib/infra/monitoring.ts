import { Annotations, ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import { lambdaBundling } from './bundling.ts';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { RestoreDrillConfig } from '../config/schema.ts';
import { DATABASE_DIMENSION, METRIC_NAMES, METRICS_NAMESPACE } from '../report/metrics.ts';

/** A drilled database and the targets its alarms hold it to. */
export interface MonitoredDatabase {
  /** The database's name in the config: the metrics' `Database` dimension. */
  readonly name: string;
  readonly rpoTargetSeconds: number;
  readonly rtoTargetSeconds: number;
  /**
   * The longest time between two of its drills, when its schedules differ from the others'.
   * @default - the props' schedulePeriod
   */
  readonly schedulePeriod?: Duration;
}

export interface SlackNotifierProps {
  /** The notifier handler's source file (functions/notifier.ts), bundled with esbuild. */
  readonly entry: string;
  /** Holds the incoming webhook's URL, as the plain secret string or JSON `{"webhookUrl": "..."}`. */
  readonly webhookSecret: secretsmanager.ISecret;
  /**
   * How long the notifier's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Linked from every alarm message.
   * @default - no runbook link
   */
  readonly runbookUrl?: string;
}

export interface RestoreDrillMonitoringProps {
  /** The databases the drills cover; see `monitoredDatabasesOf` to take them from the config. */
  readonly databases: readonly MonitoredDatabase[];
  /**
   * How often the drills run (the longest time between two). "No drill result" fires after two of
   * these without any result, or after 7 days for schedules of 3.5 to 7 days (CloudWatch evaluates at
   * most 7 days); less often than weekly, there is no such alarm. Whole minutes.
   */
  readonly schedulePeriod: Duration;
  /**
   * Where every alarm sends its ALARM and OK changes. Its policy is left as it is: when it has one
   * (a topic policy replaces SNS's default one), it must allow `cloudwatch.amazonaws.com` to
   * `sns:Publish` for these alarms, or no alarm reaches its subscribers.
   * @default - a new topic, TLS only, whose policy lets this account's CloudWatch alarms named
   * `<alarmNamePrefix>-*` (all of these) publish to it
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Slack messages for alarm changes: a function subscribed to the alarm topic.
   * @default - no notifier: subscribe to the topic yourself
   */
  readonly slackNotifier?: SlackNotifierProps;
  /**
   * Namespace of the drill metrics.
   * @default 'RestoreDrill'
   */
  readonly namespace?: string;
  /**
   * Prefix of the alarms' names, which Slack and the console show.
   * @default - the stack's name
   */
  readonly alarmNamePrefix?: string;
  /**
   * @default - a name CloudFormation makes up
   */
  readonly dashboardName?: string;
  /**
   * The drills' state machine: an execution that fails, times out or is aborted alarms (`executions-failed`).
   * Such an execution may end before any drill is reported (Plan crashing at init, the execution's time
   * limit), which the per-database alarms would see only as silence, days later.
   * @default - no such alarm
   */
  readonly stateMachine?: sfn.IStateMachine;
  /**
   * The janitor function: a run that fails alarms (`janitor-failed`): copies past their expiry are being left.
   * @default - no such alarm
   */
  readonly janitor?: lambda.IFunction;
}

/** The alarms on the drills' machinery rather than on one database. */
export interface RunAlarms {
  readonly executionsFailed?: cloudwatch.Alarm;
  readonly janitorFailed?: cloudwatch.Alarm;
}

/** The alarms of one database. */
export interface DatabaseAlarms {
  readonly drillFailed: cloudwatch.Alarm;
  /** RPO over target, as claimed by the provider (RpoClaimedSeconds). */
  readonly rpoClaimedOverTarget: cloudwatch.Alarm;
  /** RPO over target, as measured in the copy (DataLagSeconds); never fires without a freshness check. */
  readonly rpoMeasuredOverTarget: cloudwatch.Alarm;
  readonly rtoOverTarget: cloudwatch.Alarm;
  /** Absent for drills less often than weekly: CloudWatch cannot watch for silence that long. */
  readonly noDrillResult?: cloudwatch.Alarm;
}

const DAY_SECONDS = 86_400;
const MAX_EVALUATION_SECONDS = 7 * DAY_SECONDS;

/** Every database of a config with the RPO and RTO targets it is held to (its own, else the top-level ones). */
export function monitoredDatabasesOf(config: Pick<RestoreDrillConfig, 'databases' | 'rpoTargetSeconds' | 'rtoTargetSeconds'>): MonitoredDatabase[] {
  return config.databases.map((database) => ({
    name: database.name,
    rpoTargetSeconds: database.rpoTargetSeconds ?? config.rpoTargetSeconds,
    rtoTargetSeconds: database.rtoTargetSeconds ?? config.rtoTargetSeconds,
  }));
}

/**
 * How the alarms slice time: one period per drill when the schedule allows, else one day; "no drill
 * result" spans two schedule periods, at most the 7 days CloudWatch evaluates, and is left out
 * (undefined) for schedules longer than that.
 */
export function alarmPeriods(schedulePeriod: Duration): { periodSeconds: number; noResultEvaluationPeriods: number | undefined } {
  const scheduleSeconds = schedulePeriod.toSeconds();
  const periodSeconds = Math.min(scheduleSeconds, DAY_SECONDS);
  if (scheduleSeconds > MAX_EVALUATION_SECONDS) return { periodSeconds, noResultEvaluationPeriods: undefined };
  return { periodSeconds, noResultEvaluationPeriods: Math.ceil(Math.min(2 * scheduleSeconds, MAX_EVALUATION_SECONDS) / periodSeconds) };
}

/** Every problem with the props, so that all are fixed in one pass. */
export function monitoringPropsProblems(props: RestoreDrillMonitoringProps): string[] {
  const problems: string[] = [];
  if (props.databases.length === 0) problems.push('databases is empty: give at least one database to monitor');
  const seen = new Set<string>();
  for (const database of props.databases) {
    if (!/^[a-z][a-z0-9-]{0,19}$/.test(database.name)) problems.push(`database name "${database.name}" is not valid: lowercase letters, digits and hyphens, starting with a letter, at most 20 characters`);
    if (seen.has(database.name)) problems.push(`database "${database.name}" is listed twice`);
    seen.add(database.name);
    for (const key of ['rpoTargetSeconds', 'rtoTargetSeconds'] as const) {
      if (!Number.isInteger(database[key]) || database[key] <= 0) problems.push(`database "${database.name}": ${key} is ${database[key]}; expected a positive whole number of seconds`);
    }
  }
  for (const [what, period] of [['schedulePeriod', props.schedulePeriod], ...props.databases.filter((d) => d.schedulePeriod).map((d) => [`database "${d.name}": schedulePeriod`, d.schedulePeriod!] as const)] as const) {
    const seconds = period.toSeconds({ integral: false });
    if (!Number.isInteger(seconds / 60) || seconds < 60) {
      problems.push(`${what} is ${period.toHumanString()}; expected whole minutes, at least 1 minute (CloudWatch alarm periods are multiples of 60 seconds)`);
    }
  }
  if (props.namespace !== undefined && !/^[\w.\-/#:]{1,255}$/.test(props.namespace)) problems.push(`namespace "${props.namespace}" is not a valid CloudWatch namespace`);
  return problems;
}

/**
 * The alarm topic, TLS only. CloudWatch publishes an alarm's state changes as its service principal,
 * with the alarm as aws:SourceArn. enforceSSL makes CDK write a topic policy, and a topic policy
 * replaces SNS's default one: with the TLS deny alone, no alarm could publish. The allow is held to
 * this account's alarms named by the prefix (against the confused deputy); the alarms' exact ARNs
 * would lock out an alarm a user adds to the topic.
 */
function alarmTopicOf(scope: Construct, alarmNamePrefix: string): sns.Topic {
  const stack = Stack.of(scope);
  const topic = new sns.Topic(scope, 'AlarmTopic', { displayName: 'restore-drill alarms', enforceSSL: true });
  topic.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'AllowDrillAlarmsToPublish',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [topic.topicArn],
      conditions: {
        ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: `${alarmNamePrefix}-*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
        StringEquals: { 'aws:SourceAccount': stack.account },
      },
    }),
  );
  return topic;
}

/**
 * CloudWatch alarms and a dashboard over the drill metrics, per database: drill failed, RPO (claimed
 * and measured) over target, RTO over target, and no drill result for two schedule periods (missing
 * data breaching).
 * Every alarm change goes to an SNS topic, and from there, optionally, to Slack.
 */
export class RestoreDrillMonitoring extends Construct {
  readonly alarmTopic: sns.ITopic;
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: Readonly<Record<string, DatabaseAlarms>>;
  readonly runAlarms: RunAlarms;
  readonly notifier?: lambda.IFunction;

  constructor(scope: Construct, id: string, props: RestoreDrillMonitoringProps) {
    super(scope, id);
    const problems = monitoringPropsProblems(props);
    if (problems.length) throw new Error(`RestoreDrillMonitoring ${this.node.path}:\n- ${problems.join('\n- ')}`);

    const namespace = props.namespace ?? METRICS_NAMESPACE;
    const prefix = props.alarmNamePrefix ?? Stack.of(this).stackName;

    this.alarmTopic = props.alarmTopic ?? alarmTopicOf(this, prefix);
    const action = new cloudwatchActions.SnsAction(this.alarmTopic);

    const alarms: Record<string, DatabaseAlarms> = {};
    const rows: cloudwatch.IWidget[][] = [];
    for (const database of props.databases) {
      const scope = new Construct(this, database.name);
      const schedulePeriod = database.schedulePeriod ?? props.schedulePeriod;
      const { periodSeconds, noResultEvaluationPeriods } = alarmPeriods(schedulePeriod);
      const period = Duration.seconds(periodSeconds);
      if (noResultEvaluationPeriods === undefined) {
        Annotations.of(scope).addWarningV2(
          'restore-drill:noDrillResultAlarm',
          `${database.name} is drilled every ${schedulePeriod.toHumanString()}: CloudWatch watches at most 7 days, so there is no "no drill result" alarm for it`,
        );
      }
      // Alarms get metrics without a label: CloudFormation then shows them as a plain metric alarm.
      const metric = (metricName: string, statistic: string, label?: string) =>
        new cloudwatch.Metric({ namespace, metricName, dimensionsMap: { [DATABASE_DIMENSION]: database.name }, statistic, period, ...(label ? { label } : {}) });
      const claimed = metric(METRIC_NAMES.rpoClaimedSeconds, cloudwatch.Stats.MAXIMUM, 'RPO (claimed)');
      const measured = metric(METRIC_NAMES.dataLagSeconds, cloudwatch.Stats.MAXIMUM, 'RPO (measured)');
      const rto = metric(METRIC_NAMES.rtoSeconds, cloudwatch.Stats.MAXIMUM, 'RTO');
      const succeeded = metric(METRIC_NAMES.drillSucceeded, cloudwatch.Stats.MINIMUM, 'passed (1) / not (0)');
      const name = (what: string) => `${prefix}-${database.name}-${what}`;

      const databaseAlarms: DatabaseAlarms = {
        // Missing data is ignored by the three outcome alarms: each keeps the last drill's verdict
        // until the next drill; "no drill result" is the one that watches for silence.
        drillFailed: metric(METRIC_NAMES.drillSucceeded, cloudwatch.Stats.MINIMUM).createAlarm(scope, 'DrillFailed', {
          alarmName: name('drill-failed'),
          alarmDescription: `The last restore drill of ${database.name} did not pass (failed or error): see its report and the Slack message.`,
          comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
          threshold: 1,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.IGNORE,
        }),
        // Two alarms rather than one over MAX() of both: each says which RPO broke, and neither
        // depends on how metric math treats a series with no data (no freshness check).
        rpoClaimedOverTarget: metric(METRIC_NAMES.rpoClaimedSeconds, cloudwatch.Stats.MAXIMUM).createAlarm(scope, 'RpoClaimedOverTarget', {
          alarmName: name('rpo-claimed-over-target'),
          alarmDescription: `RPO (claimed) of ${database.name} over its target of ${database.rpoTargetSeconds} s: the provider's latest restorable time lags too far behind.`,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          threshold: database.rpoTargetSeconds,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.IGNORE,
        }),
        rpoMeasuredOverTarget: metric(METRIC_NAMES.dataLagSeconds, cloudwatch.Stats.MAXIMUM).createAlarm(scope, 'RpoMeasuredOverTarget', {
          alarmName: name('rpo-measured-over-target'),
          alarmDescription: `RPO (measured) of ${database.name} over its target of ${database.rpoTargetSeconds} s: the newest data in the restored copy is older than the target time allows.`,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          threshold: database.rpoTargetSeconds,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.IGNORE,
        }),
        rtoOverTarget: metric(METRIC_NAMES.rtoSeconds, cloudwatch.Stats.MAXIMUM).createAlarm(scope, 'RtoOverTarget', {
          alarmName: name('rto-over-target'),
          alarmDescription: `RTO (restore plus verify) of ${database.name} over its target of ${database.rtoTargetSeconds} s.`,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          threshold: database.rtoTargetSeconds,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.IGNORE,
        }),
        ...(noResultEvaluationPeriods === undefined
          ? {}
          : {
              noDrillResult: metric(METRIC_NAMES.drillSucceeded, cloudwatch.Stats.SAMPLE_COUNT).createAlarm(scope, 'NoDrillResult', {
                alarmName: name('no-drill-result'),
                alarmDescription: `No restore drill result for ${database.name} in ${Duration.seconds(noResultEvaluationPeriods * periodSeconds).toHumanString()} (it is drilled every ${schedulePeriod.toHumanString()}): the schedule, the state machine or the metrics are broken.`,
                comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                threshold: 1,
                evaluationPeriods: noResultEvaluationPeriods,
                datapointsToAlarm: noResultEvaluationPeriods,
                treatMissingData: cloudwatch.TreatMissingData.BREACHING,
              }),
            }),
      };
      for (const alarm of Object.values(databaseAlarms) as cloudwatch.Alarm[]) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
      alarms[database.name] = databaseAlarms;

      const target = (value: number, label: string): cloudwatch.HorizontalAnnotation => ({ value, label, color: cloudwatch.Color.RED });
      rows.push([
        new cloudwatch.GraphWidget({
          title: `${database.name}: RPO against target`,
          left: [claimed, measured],
          leftAnnotations: [target(database.rpoTargetSeconds, `RPO target ${database.rpoTargetSeconds} s`)],
          leftYAxis: { label: 'seconds', showUnits: false, min: 0 },
          width: 8,
        }),
        new cloudwatch.GraphWidget({
          title: `${database.name}: RTO against target`,
          left: [rto, metric(METRIC_NAMES.restoreSeconds, cloudwatch.Stats.MAXIMUM, 'restore'), metric(METRIC_NAMES.verifySeconds, cloudwatch.Stats.MAXIMUM, 'verify')],
          leftAnnotations: [target(database.rtoTargetSeconds, `RTO target ${database.rtoTargetSeconds} s`)],
          leftYAxis: { label: 'seconds', showUnits: false, min: 0 },
          width: 8,
        }),
        new cloudwatch.GraphWidget({
          title: `${database.name}: pass/fail history`,
          left: [succeeded],
          right: [metric(METRIC_NAMES.checksFailed, cloudwatch.Stats.MAXIMUM, 'failing checks')],
          leftYAxis: { min: 0, max: 1, showUnits: false },
          rightYAxis: { min: 0, showUnits: false },
          view: cloudwatch.GraphWidgetView.TIME_SERIES,
          width: 8,
        }),
      ]);
    }
    this.alarms = alarms;

    const fiveMinutes = Duration.minutes(5);
    this.runAlarms = {
      ...(props.stateMachine
        ? {
            executionsFailed: new cloudwatch.MathExpression({
              expression: 'failed + timedOut + aborted',
              usingMetrics: {
                failed: props.stateMachine.metricFailed({ period: fiveMinutes, statistic: cloudwatch.Stats.SUM }),
                timedOut: props.stateMachine.metricTimedOut({ period: fiveMinutes, statistic: cloudwatch.Stats.SUM }),
                aborted: props.stateMachine.metricAborted({ period: fiveMinutes, statistic: cloudwatch.Stats.SUM }),
              },
              period: fiveMinutes,
              label: 'executions failed, timed out or aborted',
            }).createAlarm(this, 'ExecutionsFailed', {
              alarmName: `${prefix}-executions-failed`,
              alarmDescription: 'A restore-drill execution failed, timed out or was aborted: its drills may have no report. Read the execution in the Step Functions console.',
              comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
              threshold: 1,
              evaluationPeriods: 1,
              treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
            }),
          }
        : {}),
      ...(props.janitor
        ? {
            janitorFailed: props.janitor.metricErrors({ period: fiveMinutes, statistic: cloudwatch.Stats.SUM }).createAlarm(this, 'JanitorFailed', {
              alarmName: `${prefix}-janitor-failed`,
              alarmDescription: 'The restore-drill janitor failed: copies past their expiry may be left running (and billed). Read its log group.',
              comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
              threshold: 1,
              evaluationPeriods: 1,
              treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
            }),
          }
        : {}),
    };
    for (const alarm of Object.values(this.runAlarms) as cloudwatch.Alarm[]) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      ...(props.dashboardName ? { dashboardName: props.dashboardName } : {}),
      defaultInterval: Duration.days(30),
      widgets: [
        [
          new cloudwatch.AlarmStatusWidget({
            title: 'restore-drill alarms',
            alarms: Object.values(alarms).flatMap((databaseAlarms) => Object.values(databaseAlarms)),
            width: 24,
          }),
        ],
        ...rows,
      ],
    });

    if (props.slackNotifier) {
      const notifier = new nodejs.NodejsFunction(this, 'SlackNotifier', {
        entry: props.slackNotifier.entry,
        handler: 'handler',
        runtime: lambda.Runtime.NODEJS_24_X,
        architecture: lambda.Architecture.ARM_64,
        // Three attempts of 5 s with backoff inside, plus reading the secret.
        timeout: Duration.seconds(60),
        memorySize: 256,
        environment: {
          SLACK_WEBHOOK_SECRET_ARN: props.slackNotifier.webhookSecret.secretArn,
          ...(props.slackNotifier.runbookUrl ? { RUNBOOK_URL: props.slackNotifier.runbookUrl } : {}),
        },
        bundling: lambdaBundling(),
        // Its own log group: without one, Lambda's would keep the logs forever.
        logGroup: new logs.LogGroup(this, 'SlackNotifierLogs', { retention: props.slackNotifier.logRetention ?? logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY }),
      });
      props.slackNotifier.webhookSecret.grantRead(notifier);
      this.alarmTopic.addSubscription(new subscriptions.LambdaSubscription(notifier));
      this.notifier = notifier;
    }
  }
}
