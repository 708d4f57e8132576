import { escapeMrkdwn, type SlackMessage } from './slack.ts';

/** The JSON CloudWatch publishes to SNS when an alarm changes state (the fields we use). */
export interface AlarmStateChange {
  AlarmName: string;
  AlarmDescription?: string | null;
  AWSAccountId?: string;
  NewStateValue: 'ALARM' | 'OK' | 'INSUFFICIENT_DATA';
  NewStateReason?: string;
  OldStateValue?: string;
  StateChangeTime?: string;
  Region?: string;
  AlarmArn?: string;
  Trigger?: { MetricName?: string; Namespace?: string; Dimensions?: { name: string; value: string }[]; Threshold?: number };
}

export interface SnsEvent {
  Records: { Sns: { Message: string; Subject?: string | null } }[];
}

const STATE_MARK: Record<AlarmStateChange['NewStateValue'], string> = { ALARM: '🚨', OK: '✅', INSUFFICIENT_DATA: '❔' };

/** The alarm changes in an SNS event; anything that is not one (a subscription confirmation, a test message) is skipped. */
export function alarmChangesOf(event: SnsEvent): AlarmStateChange[] {
  return event.Records.flatMap((record) => {
    try {
      const message = JSON.parse(record.Sns.Message) as Partial<AlarmStateChange>;
      return typeof message.AlarmName === 'string' && typeof message.NewStateValue === 'string' ? [message as AlarmStateChange] : [];
    } catch {
      return [];
    }
  });
}

/** The alarm's page in the CloudWatch console: region from the ARN or the message. */
export function alarmConsoleUrl(change: AlarmStateChange): string | undefined {
  const region = change.AlarmArn?.split(':')[3] ?? undefined;
  if (!region) return undefined;
  return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#alarmsV2:alarm/${encodeURIComponent(change.AlarmName)}`;
}

/** One Slack message for one alarm change: its state, what it watches, why it changed, and where to look. */
export function alarmMessage(change: AlarmStateChange, links: { runbookUrl?: string | undefined } = {}): SlackMessage {
  const headline = `${STATE_MARK[change.NewStateValue] ?? ''} ${change.NewStateValue}: ${change.AlarmName}`.trim();
  const database = change.Trigger?.Dimensions?.find((dimension) => dimension.name === 'Database')?.value;
  const lines = [
    ...(change.AlarmDescription ? [change.AlarmDescription] : []),
    ...(database ? [`database: ${database}`] : []),
    ...(change.NewStateReason ? [`why: ${change.NewStateReason}`] : []),
    ...(change.OldStateValue ? [`was: ${change.OldStateValue}${change.StateChangeTime ? `, changed at ${change.StateChangeTime}` : ''}`] : []),
  ];
  const consoleUrl = alarmConsoleUrl(change);
  const linkTexts = [...(consoleUrl ? [`<${consoleUrl}|alarm>`] : []), ...(links.runbookUrl ? [`<${links.runbookUrl}|runbook>`] : [])];
  return {
    text: headline,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: headline.slice(0, 150), emoji: true } },
      ...(lines.length ? [{ type: 'section' as const, text: { type: 'mrkdwn' as const, text: lines.map(escapeMrkdwn).join('\n').slice(0, 3000) } }] : []),
      ...(linkTexts.length ? [{ type: 'context' as const, elements: [{ type: 'mrkdwn' as const, text: linkTexts.join(' · ') }] }] : []),
    ],
  };
}
