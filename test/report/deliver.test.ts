import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { describe, expect, test } from 'vitest';
import { cliDelivery } from '../../lib/report/deliver.ts';

const config = { slack: { runbookUrl: 'https://wiki.example.com/runbooks/restore', timeoutSeconds: 2.5 } };

describe('the CLI\'s --metrics and --slack', () => {
  test('--slack takes the webhook from SLACK_WEBHOOK_URL, the runbook and timeout from the config', () => {
    const delivery = cliDelivery({ slack: true }, config, '/reports', { env: { SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/x' } });
    expect(delivery).toMatchObject({
      reportDir: '/reports',
      slack: { webhookUrl: 'https://hooks.slack.com/services/T/B/x', links: { runbookUrl: 'https://wiki.example.com/runbooks/restore' }, post: { attemptTimeoutMs: 2500 } },
    });
    expect(delivery.metrics).toBeUndefined();
  });

  test('a SLACK_WEBHOOK_URL that is not a URL is refused without showing it', () => {
    expect(() => cliDelivery({ slack: true }, config, '/reports', { env: { SLACK_WEBHOOK_URL: 'T0/B0/secret-token' } })).toThrow(
      'SLACK_WEBHOOK_URL is not an http(s) URL (its value is not shown: it is a secret)',
    );
    expect(() => cliDelivery({ slack: true }, config, '/reports', { env: {} })).toThrow('--slack needs the webhook URL in SLACK_WEBHOOK_URL, which is not set');
  });

  test('--metrics cloudwatch, --metrics emf FILE, and nothing else', () => {
    const client = new CloudWatchClient({ region: 'eu-west-1' });
    expect(cliDelivery({ metrics: ['cloudwatch'] }, config, '/r', { cloudWatch: () => client }).metrics).toEqual({ kind: 'cloudwatch', client });
    expect(cliDelivery({ metrics: ['emf', 'out/drills.jsonl'] }, config, '/r').metrics).toEqual({ kind: 'emf', file: 'out/drills.jsonl' });
    for (const bad of [['emf'], ['cloudwatch', 'x'], ['emf', 'a', 'b'], ['prometheus']]) {
      expect(() => cliDelivery({ metrics: bad }, config, '/r')).toThrow(`--metrics ${bad.join(' ')} is not valid: expected --metrics cloudwatch or --metrics emf FILE`);
    }
  });
});
