import { DescribeAlarmHistoryCommand, DescribeAlarmsCommand, SetAlarmStateCommand, type CloudWatchClient, type MetricAlarm, type StateValue } from '@aws-sdk/client-cloudwatch';
import { awsErrorText, isAccessDenied } from './awsErrors.ts';

export interface AlarmTouch {
  name: string;
  /** The state it was in, and is put back to. */
  previous: string | undefined;
  /** The state it was put in to fire its action: ALARM, or OK for an alarm already in ALARM. */
  tested: 'ALARM' | 'OK' | undefined;
  /** succeeded: CloudWatch's history shows the SNS action ran; failed: it shows the action failed. */
  /** unknown: its history could not be read. */
  action: 'succeeded' | 'failed' | 'no action' | 'not seen' | 'not touched' | 'unknown';
  /** The topics the tested state notifies. */
  topics: string[];
  restored: boolean;
  detail?: string;
}

export interface AlarmChecks {
  status: 'pass' | 'fail' | 'incomplete';
  touched: AlarmTouch[];
  message?: string;
}

export interface AlarmCheckOptions {
  /** The stack's AlarmTopicArn: every alarm should notify it. */
  topicArn: string | undefined;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
  /** How long to wait for the action to show in the alarm's history. @default 120000 */
  actionTimeoutMs?: number;
  /** @default 5000 */
  actionPollMs?: number;
  /** Tells the state changes apart from other runs' in the alarms' history and in Slack. */
  runId: string;
  onProgress?: (line: string) => void;
}

/** Alarms touched at once: each waits for its action; Slack receives their messages in bursts of this many. */
const CONCURRENCY = 4;
/** Our clock and CloudWatch's may differ: history items from a little before the change still count as ours. */
const CLOCK_SKEW_MS = 60_000;
const DESCRIBE_BATCH = 100;

/**
 * Puts each alarm in ALARM (OK for one already in ALARM) with SetAlarmState, reads its history
 * (HistoryItemType Action) until the SNS action shows as succeeded or failed, and puts it back to
 * its previous state, whatever happened.
 */
export async function touchAlarms(cloudWatch: CloudWatchClient, names: readonly string[], options: AlarmCheckOptions): Promise<AlarmChecks> {
  if (!names.length) return { status: 'fail', touched: [], message: 'the stack names no alarms (AlarmNames output)' };
  const found = new Map<string, MetricAlarm>();
  try {
    for (let start = 0; start < names.length; start += DESCRIBE_BATCH) {
      let token: string | undefined;
      do {
        const page = await cloudWatch.send(new DescribeAlarmsCommand({ AlarmNames: names.slice(start, start + DESCRIBE_BATCH), ...(token ? { NextToken: token } : {}) }));
        for (const alarm of page.MetricAlarms ?? []) if (alarm.AlarmName) found.set(alarm.AlarmName, alarm);
        token = page.NextToken;
      } while (token);
    }
  } catch (error) {
    return { status: 'incomplete', touched: [], message: `could not read the alarms: ${awsErrorText(error)}` };
  }
  const touched: AlarmTouch[] = [];
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++]!;
      const alarm = found.get(name);
      touched.push(alarm ? await touch(cloudWatch, alarm, options) : { name, previous: undefined, tested: undefined, action: 'not touched', topics: [], restored: false, detail: 'CloudWatch has no alarm of that name, which the stack names: run cdk deploy again' });
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, names.length) }, worker));
  touched.sort((a, b) => names.indexOf(a.name) - names.indexOf(b.name));
  const status = touched.some((item) => item.action === 'unknown') ? 'incomplete' : touched.every((item) => item.action === 'succeeded' && item.restored) ? 'pass' : 'fail';
  return { status, touched };
}

async function touch(cloudWatch: CloudWatchClient, alarm: MetricAlarm, options: AlarmCheckOptions): Promise<AlarmTouch> {
  const name = alarm.AlarmName!;
  const previous = alarm.StateValue;
  const tested = previous === 'ALARM' ? 'OK' : 'ALARM';
  const topics = (tested === 'ALARM' ? alarm.AlarmActions : alarm.OKActions) ?? [];
  const base = { name, previous, tested, topics } as const;
  if (alarm.ActionsEnabled === false) return { ...base, action: 'no action', restored: true, detail: 'its actions are disabled (enable-alarm-actions): it notifies nobody' };
  if (!topics.length) return { ...base, action: 'no action', restored: true, detail: `it has no ${tested} action: it notifies nobody` };
  const off = options.topicArn && !topics.includes(options.topicArn) ? `; it does not notify the stack's topic ${options.topicArn}` : '';
  const before = options.now();
  options.onProgress?.(`alarm ${name}: ${previous ?? 'unknown'} -> ${tested}`);
  try {
    await cloudWatch.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: tested, StateReason: `restore-drill cloud check ${options.runId}: testing this alarm's notification; it goes back to ${previous} right after` }));
  } catch (error) {
    const hint = isAccessDenied(error) ? ': allow this identity cloudwatch:SetAlarmState on the stack\'s alarms' : '';
    return { ...base, action: isAccessDenied(error) ? 'unknown' : 'not touched', restored: true, detail: `SetAlarmState refused: ${awsErrorText(error)}${hint}` };
  }
  let outcome: Pick<AlarmTouch, 'action' | 'detail'>;
  try {
    outcome = await actionOutcome(cloudWatch, name, before, options);
  } catch (error) {
    outcome = { action: 'unknown', detail: `could not read the alarm's history: ${awsErrorText(error)}` };
  }
  let restored = false;
  let restoreError = '';
  if (previous === 'OK' || previous === 'ALARM' || previous === 'INSUFFICIENT_DATA') {
    try {
      await cloudWatch.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: previous as StateValue, StateReason: `restore-drill cloud check ${options.runId}: back to ${previous}, as before the test` }));
      restored = true;
    } catch (error) {
      restoreError = `; putting it back to ${previous} failed (${awsErrorText(error)}): CloudWatch sets it right at its next evaluation`;
    }
  }
  return { ...base, ...outcome, restored, detail: `${outcome.detail ?? ''}${off}${restoreError}` || undefined };
}

interface ActionData {
  actionState?: string;
  notificationResource?: string;
  publishedMessage?: string;
  error?: string | null;
}

/** Reads the alarm's Action history until the action of our change shows, or the time is up. */
async function actionOutcome(cloudWatch: CloudWatchClient, name: string, before: Date, options: AlarmCheckOptions): Promise<Pick<AlarmTouch, 'action' | 'detail'>> {
  const deadline = before.getTime() + (options.actionTimeoutMs ?? 120_000);
  const since = new Date(before.getTime() - CLOCK_SKEW_MS);
  for (;;) {
    const page = await cloudWatch.send(new DescribeAlarmHistoryCommand({ AlarmName: name, HistoryItemType: 'Action', StartDate: since, ScanBy: 'TimestampDescending', MaxRecords: 50 }));
    for (const item of page.AlarmHistoryItems ?? []) {
      const data = parse(item.HistoryData);
      // Our change is the one whose published message carries our reason; a failed action may carry no message.
      const ours = data.publishedMessage?.includes(options.runId) ?? (item.Timestamp !== undefined && item.Timestamp >= since);
      if (!ours) continue;
      if (data.actionState === 'Succeeded') return { action: 'succeeded', detail: `notified ${data.notificationResource ?? 'its topic'}` };
      if (data.actionState === 'Failed') return { action: 'failed', detail: `the action failed: ${data.error ?? item.HistorySummary ?? 'no reason given'}` };
    }
    if (options.now().getTime() >= deadline) {
      return { action: 'not seen', detail: `no action in its history ${Math.round((options.actionTimeoutMs ?? 120_000) / 1000)} s after the change: CloudWatch did not run its SNS action` };
    }
    await options.sleep(options.actionPollMs ?? 5_000);
  }
}

function parse(text: string | undefined): ActionData {
  try {
    return text ? (JSON.parse(text) as ActionData) : {};
  } catch {
    return {};
  }
}
