import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { deliverRun } from '../../lib/report/deliver.ts';
import { retryAfterMs, slackMessage, type SlackMessage } from '../../lib/report/slack.ts';
import { writeReport } from '../../lib/report/store.ts';
import type { DrillReport, RunResult } from '../../lib/report/types.ts';
import { failedReport, recordingServer, sampleReport } from './helpers.ts';

const WEBHOOK_PATH = '/services/T0SECRET/B0SECRET/xoxb-webhook-secret-4f2a';

let reportDir: string;
let servers: Awaited<ReturnType<typeof recordingServer>>[] = [];

beforeEach(async () => {
  reportDir = await mkdtemp(join(tmpdir(), 'rd-slack-'));
});

afterEach(async () => {
  await Promise.all(servers.map((server) => server.close()));
  servers = [];
  await rm(reportDir, { recursive: true, force: true });
});

async function server(respond: Parameters<typeof recordingServer>[0]) {
  const started = await recordingServer(respond);
  servers.push(started);
  return started;
}

/** A run whose reports the runner already wrote, as runDrills leaves it. */
async function writtenRun(): Promise<RunResult> {
  const drills = [sampleReport(), failedReport()];
  for (const report of drills) await writeReport(reportDir, report);
  return { status: 'failed', drills };
}

async function reportsOnDisk(): Promise<DrillReport[]> {
  const names = (await readdir(reportDir)).filter((name) => name.endsWith('.json')).sort();
  return Promise.all(names.map(async (name) => JSON.parse(await readFile(join(reportDir, name), 'utf8')) as DrillReport));
}

describe('the Slack message', () => {
  test('is received with a line per database, figures against targets, failing checks and links', async () => {
    // Prepare
    const slack = await server((_request, response) => response.end('ok'));
    const run = await writtenRun();
    const log: string[] = [];

    // Act
    const delivery = await deliverRun(run, {
      reportDir,
      slack: { webhookUrl: `${slack.url}${WEBHOOK_PATH}`, links: { runbookUrl: 'https://wiki.example.com/runbooks/restore', executionUrl: 'https://console.aws.amazon.com/states/home#/executions/details/arn:x' } },
      log: (line) => log.push(line),
    });

    // Assess
    expect(delivery.slack).toMatchObject({ ok: true, attempts: 1, to: 'slack' });
    expect(slack.requests).toHaveLength(1);
    const [request] = slack.requests;
    expect(request!.method).toBe('POST');
    expect(request!.url).toBe(WEBHOOK_PATH);
    expect(request!.headers['content-type']).toMatch(/^application\/json/);
    const message = JSON.parse(request!.body) as SlackMessage;
    expect(message.text).toBe('❌ restore-drill: 1 of 2 databases did not pass (billing failed)');
    expect(message.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: message.text, emoji: true } });
    const sections = message.blocks.flatMap((block) => (block.type === 'section' ? [block.text.text] : []));
    expect(sections).toHaveLength(2);
    // the database that did not pass comes first
    expect(sections[1]).toBe(
      [
        '*✅ app (local): passed*',
        'target: latest = 2026-11-25T19:00:00.000Z',
        'RPO (claimed): 43s (target 5m00s)',
        'RPO (measured): 12s (target 5m00s)',
        'restore: 1m01s   verify: 4.5s   RTO: 1m06s (target 1h00m)',
        'copy: rd-app-20261125190001-ab12 (removed)',
      ].join('\n'),
    );
    expect(sections[0]).toContain('*❌ billing (local): failed*');
    expect(sections[0]).toContain('RPO (claimed): 15m00s (target 5m00s)');
    expect(sections[0]).toContain('✗ ledger: 1 hash mismatch: 0003_add_&lt;index&gt; &amp; friends');
    expect(sections[0]).not.toContain('rowCounts');
    expect(sections[0]).toContain('failing checks: 1');
    expect(message.blocks.at(-1)).toEqual({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: '<https://console.aws.amazon.com/states/home#/executions/details/arn:x|execution> · <https://wiki.example.com/runbooks/restore|runbook>' }],
    });
    const reports = await reportsOnDisk();
    expect(reports.map((report) => report.delivery?.slack?.ok)).toEqual([true, true]);
    expect(log).toEqual([]);
  });

  test('429 with Retry-After, then success: waits as told and delivers on the second attempt', async () => {
    const slack = await server((_request, response, index) => {
      if (index === 0) response.writeHead(429, { 'retry-after': '3' }).end('rate_limited');
      else response.end('ok');
    });
    const waits: number[] = [];
    const run = await writtenRun();

    const delivery = await deliverRun(run, { reportDir, slack: { webhookUrl: `${slack.url}${WEBHOOK_PATH}`, post: { sleep: async (ms) => void waits.push(ms) } } });

    expect(delivery.slack).toMatchObject({ ok: true, attempts: 2 });
    expect(waits).toEqual([3000]);
    expect(slack.requests).toHaveLength(2);
    expect(slack.requests[1]!.body).toBe(slack.requests[0]!.body);
    expect((await reportsOnDisk()).map((report) => report.delivery?.slack)).toEqual([delivery.slack, delivery.slack]);
  });

  test('500 every time: backs off, gives up after the last attempt, logs it, and the reports record it', async () => {
    const slack = await server((_request, response) => response.writeHead(500).end('internal_error'));
    const waits: number[] = [];
    const log: string[] = [];
    const run = await writtenRun();
    const webhookUrl = `${slack.url}${WEBHOOK_PATH}`;

    const delivery = await deliverRun(run, { reportDir, slack: { webhookUrl, post: { maxAttempts: 3, backoffMs: 50, sleep: async (ms) => void waits.push(ms) } }, log: (line) => log.push(line) });

    expect(slack.requests).toHaveLength(3);
    expect(waits).toEqual([50, 100]);
    expect(delivery.slack).toMatchObject({ ok: false, attempts: 3, error: 'Slack answered HTTP 500 internal_error' });
    expect(log).toEqual(['Slack message not delivered after 3 attempt(s): Slack answered HTTP 500 internal_error']);
    const reports = await reportsOnDisk();
    expect(reports.map((report) => report.status)).toEqual(['passed', 'failed']);
    expect(reports.map((report) => report.delivery?.slack?.error)).toEqual([delivery.slack!.error, delivery.slack!.error]);
    expect(JSON.stringify(reports) + log.join('\n')).not.toContain('secret');
  });

  test('a 4xx other than 429 is not retried', async () => {
    const slack = await server((_request, response) => response.writeHead(404).end('no_service'));
    const delivery = await deliverRun(await writtenRun(), { reportDir, slack: { webhookUrl: `${slack.url}${WEBHOOK_PATH}`, post: { sleep: async () => {} } } });
    expect(slack.requests).toHaveLength(1);
    expect(delivery.slack).toMatchObject({ ok: false, attempts: 1, error: 'Slack answered HTTP 404 no_service' });
  });

  test('a server that never answers: each attempt ends at its timeout, and the reports are still there', async () => {
    const slack = await server(() => {
      // accepts the request and never answers
    });
    const run = await writtenRun();
    const started = Date.now();

    const delivery = await deliverRun(run, { reportDir, slack: { webhookUrl: `${slack.url}${WEBHOOK_PATH}`, post: { attemptTimeoutMs: 300, maxAttempts: 2, backoffMs: 10 } } });

    expect(Date.now() - started).toBeLessThan(5_000);
    expect(slack.requests).toHaveLength(2);
    expect(delivery.slack).toMatchObject({ ok: false, attempts: 2, error: 'Slack could not be reached: no answer within 300 ms' });
    const reports = await reportsOnDisk();
    expect(reports).toHaveLength(2);
    expect(reports.every((report) => report.delivery?.slack?.ok === false)).toBe(true);
  });

  test('nothing listening: the error names the failure, not the webhook', async () => {
    const slack = await server(() => {});
    const webhookUrl = `${slack.url}${WEBHOOK_PATH}`;
    await slack.close();
    servers = [];
    const delivery = await deliverRun(await writtenRun(), { reportDir, slack: { webhookUrl, post: { maxAttempts: 1 } } });
    expect(delivery.slack).toMatchObject({ ok: false, attempts: 1, error: 'Slack could not be reached: ECONNREFUSED' });
  });

  test('a Retry-After longer than is worth waiting ends the tries', async () => {
    const slack = await server((_request, response) => response.writeHead(429, { 'retry-after': '120' }).end());
    const delivery = await deliverRun(await writtenRun(), { reportDir, slack: { webhookUrl: `${slack.url}${WEBHOOK_PATH}`, post: { sleep: async () => {} } } });
    expect(slack.requests).toHaveLength(1);
    expect(delivery.slack?.error).toBe('Slack answered HTTP 429 (asked to wait 120 s, more than 30 s)');
  });
});

describe('Retry-After', () => {
  test('seconds or an HTTP date', () => {
    const now = new Date('2026-11-25T19:00:00Z');
    expect(retryAfterMs('7', now)).toBe(7000);
    expect(retryAfterMs('Wed, 25 Nov 2026 19:00:05 GMT', now)).toBe(5000);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });
});

describe('message limits', () => {
  test('many databases stay within Slack\'s 50 blocks', () => {
    const drills = Array.from({ length: 60 }, (_, index) => sampleReport({ database: `db-${index}` }));
    const message = slackMessage({ status: 'passed', drills }, { runbookUrl: 'https://wiki.example.com/r' });
    expect(message.blocks.length).toBeLessThanOrEqual(50);
    expect(JSON.stringify(message)).toContain('…and 15 more databases');
  });

  // Issue 14, item 15: past 45 databases the failing ones hid behind "…and 15 more".
  test('failing databases come first and are always named, past 45 databases and past the blocks', () => {
    // Prepare: 60 databases, 5 failing at the end of the config, then 300 with 200 failing
    const failing = (database: string, status: 'failed' | 'error') => sampleReport({ database, status, checks: [{ check: 'ledger', status: 'fail', summary: 'hash mismatch', details: {} }] });
    const few = [...Array.from({ length: 55 }, (_, index) => sampleReport({ database: `ok-${index}` })), failing('bill-1', 'failed'), failing('bill-2', 'error'), failing('bill-3', 'failed'), failing('bill-4', 'failed'), failing('bill-5', 'failed')];
    const many = [...Array.from({ length: 100 }, (_, index) => sampleReport({ database: `ok-${index}` })), ...Array.from({ length: 200 }, (_, index) => failing(`bad-${index}`, 'failed'))];

    // Act
    const message = slackMessage({ status: 'error', drills: few });
    const crowded = slackMessage({ status: 'failed', drills: many });

    // Assess: the five failing ones are the first sections, the error first
    const sections = message.blocks.filter((block) => block.type === 'section').map((block) => (block as { text: { text: string } }).text.text);
    expect(sections.slice(0, 5).map((text) => /(bill-\d)/.exec(text)?.[1])).toEqual(['bill-2', 'bill-1', 'bill-3', 'bill-4', 'bill-5']);
    expect(sections.at(-1)).toBe('…and 15 more databases, all passed: see the reports.');
    // 200 failing: 45 in sections, the other 155 named in the overflow, none left out
    expect(crowded.blocks.length).toBeLessThanOrEqual(50);
    const text = JSON.stringify(crowded);
    for (let index = 0; index < 200; index++) expect(text).toContain(`bad-${index}`);
    expect(text).toContain('…and 255 more databases: 155 did not pass (bad-45, bad-46,');
    expect(text).toContain('; 100 passed: see the reports.');
    for (const block of crowded.blocks) if (block.type === 'section') expect(block.text.text.length).toBeLessThanOrEqual(3000);
  });
});

describe('the checks of a complete, intact copy', () => {
  test('a failing integrity or sql check is a line of its own with its summary; the backup used is named; a passing connection check is not repeated', () => {
    const report = sampleReport({
      status: 'failed',
      backup: { used: 'base-2', files: '938 files verified against the backup_manifest by pg_verifybackup (size and checksum)', filesVerifiedBy: 'pg_verifybackup', skipped: [] },
      checks: [
        { check: 'connection', status: 'pass', summary: 'PostgreSQL 15.18, promoted on timeline 2, replayed to 0/5000A28', details: {} },
        { check: 'integrity', status: 'fail', summary: '1 corrupt relation: public.orders (block 7: line pointer to page offset 8200 with length 100 ends beyond maximum page offset 8192)', details: {} },
        { check: 'sql', status: 'fail', summary: '1 of 2 assertions do not hold: no negative balances (value 3, expected 0)', details: {} },
      ],
    });

    const text = slackMessage({ status: 'failed', drills: [report] }).blocks.map((block) => (block.type === 'section' ? block.text.text : '')).join('\n');

    expect(text).toContain('backup: base-2, 938 files verified');
    expect(text).toContain('✗ integrity: 1 corrupt relation: public.orders (block 7: line pointer');
    expect(text).toContain('✗ sql: 1 of 2 assertions do not hold: no negative balances (value 3, expected 0)');
    expect(text).toContain('failing checks: 2');
    expect(text).not.toContain('connection:');
  });
});
