import { afterEach, describe, expect, test } from 'vitest';
import { alarmChangesOf, alarmMessage, type AlarmStateChange, type SnsEvent } from '../../lib/report/alarm.ts';
import { notifyAlarmChanges, SlackDeliveryError, webhookUrlFromSecret } from '../../lib/report/notifier.ts';
import type { SlackMessage } from '../../lib/report/slack.ts';
import { recordingServer } from './helpers.ts';

const WEBHOOK_PATH = '/services/T0SECRET/B0SECRET/alarm-webhook-secret';

// As CloudWatch publishes an alarm change to SNS.
const rpoAlarm: AlarmStateChange = {
  AlarmName: 'drills-app-rpo-claimed-over-target',
  AlarmDescription: 'RPO (claimed) of app over its target of 300 s: the latest restorable time lags too far behind.',
  AWSAccountId: '123456789012',
  NewStateValue: 'ALARM',
  NewStateReason: 'Threshold Crossed: 1 datapoint [912.5 (25/11/26 03:00:00)] was greater than the threshold (300.0).',
  StateChangeTime: '2026-11-25T03:05:00.000+0000',
  Region: 'EU (Ireland)',
  AlarmArn: 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:drills-app-rpo-claimed-over-target',
  OldStateValue: 'OK',
  Trigger: { Namespace: 'RestoreDrill', Dimensions: [{ name: 'Database', value: 'app' }], Threshold: 300 },
};

const snsEvent = (...messages: unknown[]): SnsEvent => ({ Records: messages.map((message) => ({ Sns: { Message: typeof message === 'string' ? message : JSON.stringify(message), Subject: null } })) });

let servers: Awaited<ReturnType<typeof recordingServer>>[] = [];
afterEach(async () => {
  await Promise.all(servers.map((server) => server.close()));
  servers = [];
});

async function server(respond: Parameters<typeof recordingServer>[0]) {
  const started = await recordingServer(respond);
  servers.push(started);
  return started;
}

describe('alarm changes to Slack', () => {
  test('one message per alarm change: state, alarm, database, why, and links to the alarm and the runbook', async () => {
    const slack = await server((_request, response) => response.end('ok'));

    const outcomes = await notifyAlarmChanges(snsEvent(rpoAlarm, { ...rpoAlarm, AlarmName: 'drills-app-drill-failed', NewStateValue: 'OK', OldStateValue: 'ALARM' }), {
      webhookUrl: async () => `${slack.url}${WEBHOOK_PATH}`,
      runbookUrl: 'https://wiki.example.com/runbooks/restore',
    });

    expect(outcomes.map((outcome) => outcome.ok)).toEqual([true, true]);
    expect(slack.requests.map((request) => request.url)).toEqual([WEBHOOK_PATH, WEBHOOK_PATH]);
    const [alarm, ok] = slack.requests.map((request) => JSON.parse(request.body) as SlackMessage);
    expect(alarm!.text).toBe('🚨 ALARM: drills-app-rpo-claimed-over-target');
    expect(ok!.text).toBe('✅ OK: drills-app-drill-failed');
    const section = alarm!.blocks.find((block) => block.type === 'section');
    expect(section?.type === 'section' && section.text.text).toBe(
      [
        'RPO (claimed) of app over its target of 300 s: the latest restorable time lags too far behind.',
        'database: app',
        'why: Threshold Crossed: 1 datapoint [912.5 (25/11/26 03:00:00)] was greater than the threshold (300.0).',
        'was: OK, changed at 2026-11-25T03:05:00.000+0000',
      ].join('\n'),
    );
    expect(alarm!.blocks.at(-1)).toEqual({
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: '<https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/drills-app-rpo-claimed-over-target|alarm> · <https://wiki.example.com/runbooks/restore|runbook>',
        },
      ],
    });
  });

  test('SNS messages that are not alarm changes are skipped, and the secret is not even read', async () => {
    let read = 0;
    const outcomes = await notifyAlarmChanges(snsEvent('not json', { hello: 'world' }), { webhookUrl: async () => (read++, 'http://127.0.0.1:9/x') });
    expect(outcomes).toEqual([]);
    expect(read).toBe(0);
    expect(alarmChangesOf(snsEvent(rpoAlarm, 'nope'))).toHaveLength(1);
  });

  test('Slack failing every time throws for Lambda to retry, without the webhook URL', async () => {
    const slack = await server((_request, response) => response.writeHead(500).end('oops'));
    const log: string[] = [];

    const attempt = notifyAlarmChanges(snsEvent(rpoAlarm), { webhookUrl: async () => `${slack.url}${WEBHOOK_PATH}`, post: { maxAttempts: 2, sleep: async () => {} }, log: (line) => log.push(line) });

    await expect(attempt).rejects.toThrow(SlackDeliveryError);
    await expect(attempt).rejects.toThrow('1 of 1 alarm message(s) not posted to Slack: Slack answered HTTP 500 oops');
    expect(slack.requests).toHaveLength(2);
    expect(log).toEqual(['alarm drills-app-rpo-claimed-over-target (ALARM) not posted to Slack: Slack answered HTTP 500 oops']);
  });

  test('the webhook secret: a plain URL or JSON with webhookUrl', () => {
    expect(webhookUrlFromSecret(' https://hooks.slack.com/services/a/b/c\n')).toBe('https://hooks.slack.com/services/a/b/c');
    expect(webhookUrlFromSecret('{"webhookUrl":"https://hooks.slack.com/services/a/b/c"}')).toBe('https://hooks.slack.com/services/a/b/c');
    expect(() => webhookUrlFromSecret('{"url":"x"}')).toThrow('the Slack secret is JSON without a "webhookUrl" string');
  });

  test('a message without description or ARN still reads well', () => {
    const message = alarmMessage({ AlarmName: 'x', NewStateValue: 'INSUFFICIENT_DATA' });
    expect(message.text).toBe('❔ INSUFFICIENT_DATA: x');
    expect(message.blocks).toHaveLength(1);
  });
});

describe('functions/notifier.ts', () => {
  test('reads the webhook from Secrets Manager once, then posts each alarm change', async () => {
    const slack = await server((_request, response) => response.end('ok'));
    const secrets = await server((request, response) => {
      const { SecretId } = JSON.parse(request.body) as { SecretId: string };
      response
        .writeHead(200, { 'content-type': 'application/x-amz-json-1.1' })
        .end(JSON.stringify({ ARN: SecretId, Name: 'slack', SecretString: JSON.stringify({ webhookUrl: `${slack.url}${WEBHOOK_PATH}` }) }));
    });
    const secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack-AbCdEf';
    Object.assign(process.env, {
      SLACK_WEBHOOK_SECRET_ARN: secretArn,
      RUNBOOK_URL: 'https://wiki.example.com/runbooks/restore',
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIDNOTIFIER',
      AWS_SECRET_ACCESS_KEY: 'notifier-test-secret',
    });
    const { handler } = await import('../../functions/notifier.ts');

    await handler(snsEvent(rpoAlarm));
    await handler(snsEvent({ ...rpoAlarm, NewStateValue: 'OK' }));

    expect(secrets.requests).toHaveLength(1);
    expect(secrets.requests[0]!.headers['x-amz-target']).toBe('secretsmanager.GetSecretValue');
    expect(JSON.parse(secrets.requests[0]!.body)).toEqual({ SecretId: secretArn });
    expect(slack.requests.map((request) => (JSON.parse(request.body) as SlackMessage).text)).toEqual(['🚨 ALARM: drills-app-rpo-claimed-over-target', '✅ OK: drills-app-rpo-claimed-over-target']);
    expect(slack.requests[0]!.body).toContain('|runbook>');
  });
});
