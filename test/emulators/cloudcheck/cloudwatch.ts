import type { IncomingMessage, ServerResponse } from 'node:http';
import { isAllowed, type Callers } from './auth.ts';
import type { AlarmState, DeployedAlarm, DeployedStack } from './deployment.ts';
import { signingRegion, StandIn } from './http.ts';

const TARGET_PREFIX = 'GraniteServiceVersion20100801.';
const STATES = new Set<AlarmState>(['OK', 'ALARM', 'INSUFFICIENT_DATA']);
const HISTORY_TYPES = new Set(['ConfigurationUpdate', 'StateUpdate', 'Action']);

export interface HistoryItem {
  AlarmName: string;
  AlarmType: 'MetricAlarm';
  Timestamp: Date;
  HistoryItemType: 'StateUpdate' | 'Action';
  HistorySummary: string;
  HistoryData: string;
  /** Reads of the history before the item shows: CloudWatch runs actions after the state change. */
  hiddenFor: number;
}

/**
 * CloudWatch as the installed @aws-sdk/client-cloudwatch speaks to it: AWS JSON 1.0
 * (`X-Amz-Target: GraniteServiceVersion20100801.<Operation>`, epoch-second timestamps), query-compatible
 * errors (`x-amzn-query-error: <Code>;Sender`). DescribeAlarms, SetAlarmState and DescribeAlarmHistory,
 * with the API reference's parameters and limits. A state change runs the new state's actions: each
 * SNS action publishes only if the topic's policy lets cloudwatch.amazonaws.com publish for this alarm
 * (evaluated with iam-simulate; a topic without a policy has SNS's default, which lets the owner's
 * alarms publish), and the alarm's history gets the Action item a moment later, Succeeded or Failed.
 */
export class CloudWatchStandIn extends StandIn {
  readonly history: HistoryItem[] = [];
  /** Messages CloudWatch published to each topic: what the Slack notifier would receive. */
  readonly published: { topic: string; alarm: string; state: AlarmState; reason: string }[] = [];
  /** How many history reads an Action item stays hidden after its change. */
  actionDelayReads = 1;
  protected async handle(request: IncomingMessage, body: string, response: ServerResponse): Promise<void> {
    const target = String(request.headers['x-amz-target'] ?? '');
    const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    let input: Record<string, unknown> = {};
    const answer = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      this.calls.push({ operation, status, params: input });
      response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': crypto.randomUUID(), ...headers });
      response.end(JSON.stringify(payload));
    };
    const error = (status: number, code: string, message: string, shape = code) =>
      answer(status, { __type: `com.amazonaws.cloudwatch#${shape}`, message }, { 'x-amzn-query-error': `${code};Sender` });
    if (request.method !== 'POST' || request.headers['content-type'] !== 'application/x-amz-json-1.0') return error(400, 'InvalidAction', 'expected a POST of application/x-amz-json-1.0', 'InvalidAction');
    try {
      input = JSON.parse(body || '{}') as Record<string, unknown>;
    } catch {
      return error(400, 'SerializationException', 'the body is not JSON', 'SerializationException');
    }
    const region = signingRegion(request) ?? '';
    const alarms = new Map(this.stacks().filter((stack) => stack.region === region).flatMap((stack) => [...stack.alarms].map(([name, alarm]) => [name, { alarm, stack }] as const)));
    const account = this.stacks()[0]?.account ?? '000000000000';
    const alarmArn = (name: string) => `arn:aws:cloudwatch:${region}:${account}:alarm:${name}`;
    const authorize = async (action: string, resource: string) => {
      const authorization = await this.callers.authorize(request, 'monitoring', action, resource);
      if (!authorization.ok) error(authorization.status, authorization.code, authorization.message, authorization.code === 'AccessDenied' ? 'AccessDeniedException' : authorization.code);
      return authorization.ok;
    };

    if (operation === 'DescribeAlarms') {
      const names = input.AlarmNames;
      if (names !== undefined && (!Array.isArray(names) || names.length > 100)) return error(400, 'InvalidParameterValue', 'AlarmNames: at most 100 names', 'InvalidParameterValueException');
      if (input.MaxRecords !== undefined && (typeof input.MaxRecords !== 'number' || input.MaxRecords < 1 || input.MaxRecords > 100)) return error(400, 'InvalidParameterValue', 'MaxRecords must be between 1 and 100', 'InvalidParameterValueException');
      if (!(await authorize('cloudwatch:DescribeAlarms', alarmArn('*')))) return;
      const selected = [...alarms.values()].filter(({ alarm }) => (Array.isArray(names) ? (names as string[]).includes(alarm.name) : true) && (typeof input.AlarmNamePrefix === 'string' ? alarm.name.startsWith(input.AlarmNamePrefix) : true));
      return answer(200, { MetricAlarms: selected.map(({ alarm }) => describeAlarm(alarm)), CompositeAlarms: [] });
    }

    if (operation === 'SetAlarmState') {
      const missing = ['AlarmName', 'StateValue', 'StateReason'].filter((key) => typeof input[key] !== 'string');
      if (missing.length) return error(400, 'MissingParameter', `The request must contain the parameter ${missing[0]}`, 'MissingRequiredParameterException');
      const name = input.AlarmName as string;
      const state = input.StateValue as AlarmState;
      const reason = input.StateReason as string;
      if (!STATES.has(state)) return error(400, 'InvalidParameterValue', `StateValue ${state} is not one of OK, ALARM, INSUFFICIENT_DATA`, 'InvalidParameterValueException');
      if (reason.length > 1023) return error(400, 'InvalidParameterValue', 'StateReason is longer than 1023 characters', 'InvalidParameterValueException');
      if (input.StateReasonData !== undefined) {
        try {
          JSON.parse(String(input.StateReasonData));
        } catch {
          return error(400, 'InvalidFormat', 'StateReasonData is not JSON', 'InvalidFormatFault');
        }
      }
      if (!(await authorize('cloudwatch:SetAlarmState', alarmArn(name)))) return;
      const found = alarms.get(name);
      if (!found) return error(404, 'ResourceNotFound', `Alarm ${name} not found`);
      await this.changeState(found.alarm, found.stack, state, reason);
      return answer(200, {});
    }

    if (operation === 'DescribeAlarmHistory') {
      if (input.HistoryItemType !== undefined && !HISTORY_TYPES.has(String(input.HistoryItemType))) return error(400, 'InvalidParameterValue', `HistoryItemType ${String(input.HistoryItemType)} is not one of ConfigurationUpdate, StateUpdate, Action`, 'InvalidParameterValueException');
      if (input.MaxRecords !== undefined && (typeof input.MaxRecords !== 'number' || input.MaxRecords < 1 || input.MaxRecords > 100)) return error(400, 'InvalidParameterValue', 'MaxRecords must be between 1 and 100', 'InvalidParameterValueException');
      if (input.ScanBy !== undefined && input.ScanBy !== 'TimestampDescending' && input.ScanBy !== 'TimestampAscending') return error(400, 'InvalidParameterValue', 'ScanBy is TimestampDescending or TimestampAscending', 'InvalidParameterValueException');
      for (const key of ['StartDate', 'EndDate']) if (input[key] !== undefined && typeof input[key] !== 'number') return error(400, 'SerializationException', `${key} is not an epoch-seconds number`, 'SerializationException');
      const name = typeof input.AlarmName === 'string' ? input.AlarmName : undefined;
      if (!(await authorize('cloudwatch:DescribeAlarmHistory', alarmArn(name ?? '*')))) return;
      const start = typeof input.StartDate === 'number' ? input.StartDate * 1000 : -Infinity;
      const end = typeof input.EndDate === 'number' ? input.EndDate * 1000 : Infinity;
      const matching = this.history.filter((item) => (name === undefined || item.AlarmName === name) && (input.HistoryItemType === undefined || item.HistoryItemType === input.HistoryItemType) && item.Timestamp.getTime() >= start && item.Timestamp.getTime() <= end);
      const visible = matching.filter((item) => {
        if (item.hiddenFor === 0) return true;
        item.hiddenFor -= 1;
        return false;
      });
      visible.sort((a, b) => (input.ScanBy === 'TimestampAscending' ? 1 : -1) * (a.Timestamp.getTime() - b.Timestamp.getTime()));
      const page = visible.slice(0, typeof input.MaxRecords === 'number' ? input.MaxRecords : 100);
      return answer(200, { AlarmHistoryItems: page.map(({ hiddenFor: _, Timestamp, ...item }) => ({ ...item, Timestamp: Timestamp.getTime() / 1000 })) });
    }

    error(400, 'UnknownOperationException', `unknown operation ${target}`, 'UnknownOperationException');
  }

  /** Sets the state (no change, no actions: as CloudWatch does) and runs the new state's actions. */
  async changeState(alarm: DeployedAlarm, stack: DeployedStack, state: AlarmState, reason: string): Promise<void> {
    const old = alarm.state;
    const at = new Date();
    alarm.state = state;
    alarm.stateReason = reason;
    alarm.stateUpdated = at;
    this.history.push({
      AlarmName: alarm.name,
      AlarmType: 'MetricAlarm',
      Timestamp: at,
      HistoryItemType: 'StateUpdate',
      HistorySummary: `Alarm updated from ${old} to ${state}`,
      HistoryData: JSON.stringify({ version: '1.0', oldState: { stateValue: old }, newState: { stateValue: state, stateReason: reason } }),
      hiddenFor: 0,
    });
    if (old === state || !alarm.actionsEnabled) return;
    const actions = state === 'ALARM' ? alarm.alarmActions : state === 'OK' ? alarm.okActions : alarm.insufficientDataActions;
    for (const action of actions) {
      const topic = stack.topics.get(action);
      const message = JSON.stringify({ AlarmName: alarm.name, AlarmDescription: alarm.description, AWSAccountId: stack.account, NewStateValue: state, NewStateReason: reason, StateChangeTime: at.toISOString(), Region: stack.region, AlarmArn: alarm.arn, OldStateValue: old });
      let failure: string | undefined;
      if (!topic) {
        failure = `Resource: ${action} does not exist`;
      } else if (topic.policy) {
        const decision = await isAllowed('cloudwatch.amazonaws.com', stack.account, [], 'sns:Publish', topic.arn, { 'aws:SourceArn': alarm.arn, 'aws:SourceAccount': stack.account, 'aws:SecureTransport': 'true' }, { resourcePolicy: topic.policy });
        if (decision.decision !== 'Allowed') failure = `CloudWatch Alarms is not authorized to perform: SNS:Publish on resource: ${topic.arn}`;
      }
      if (!failure) this.published.push({ topic: action, alarm: alarm.name, state, reason });
      this.history.push({
        AlarmName: alarm.name,
        AlarmType: 'MetricAlarm',
        Timestamp: new Date(),
        HistoryItemType: 'Action',
        HistorySummary: failure ? `Failed to execute action ${action}` : `Successfully executed action ${action}`,
        HistoryData: JSON.stringify(
          failure
            ? { actionState: 'Failed', stateUpdateTimestamp: at.getTime(), notificationResource: action, error: failure }
            : { actionState: 'Succeeded', stateUpdateTimestamp: at.getTime(), notificationResource: action, publishedMessage: JSON.stringify({ default: message }), error: null },
        ),
        hiddenFor: this.actionDelayReads,
      });
    }
  }
}

function describeAlarm(alarm: DeployedAlarm): Record<string, unknown> {
  return {
    AlarmName: alarm.name,
    AlarmArn: alarm.arn,
    AlarmDescription: alarm.description,
    ActionsEnabled: alarm.actionsEnabled,
    OKActions: alarm.okActions,
    AlarmActions: alarm.alarmActions,
    InsufficientDataActions: alarm.insufficientDataActions,
    StateValue: alarm.state,
    StateReason: alarm.stateReason,
    StateUpdatedTimestamp: alarm.stateUpdated.getTime() / 1000,
    ...(alarm.metricName ? { MetricName: alarm.metricName } : {}),
    ...(alarm.namespace ? { Namespace: alarm.namespace } : {}),
  };
}
