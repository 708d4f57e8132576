import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { scratchFolders } from '../../lib/providers/local/scratch.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import type { DrillReport, RunResult } from '../../lib/report/types.ts';
import { recordingServer } from '../report/helpers.ts';
import { runCli } from '../support/cli.ts';
import { drizzleProject } from '../support/project.ts';

// A whole drill from the CLI with metrics and Slack on, and secrets we know, so that everything
// the run wrote can be searched for them.
const DATABASE = 'rpt';
const secret = (label: string) => `${label}-${randomBytes(12).toString('hex')}`;
const SECRETS = {
  webhookToken: secret('hooktoken'),
  sourcePassword: secret('pgpassword'),
  awsSecretAccessKey: secret('awssecret'),
  awsSessionToken: secret('awssession'),
};

let source: SourceCluster;
let project: string;
let configFile: string;
let servers: Awaited<ReturnType<typeof recordingServer>>[] = [];

async function server(respond: Parameters<typeof recordingServer>[0]) {
  const started = await recordingServer(respond);
  servers.push(started);
  return started;
}

beforeAll(async () => {
  ({ source, project } = await drizzleProject('reporting'));
  const sourceConnection = source.clientConfig();
  configFile = join(project, 'restore-drill.config.json');
  await writeFile(
    configFile,
    JSON.stringify({
      rpoTargetSeconds: 3600,
      rtoTargetSeconds: 600,
      databases: [
        {
          name: DATABASE,
          provider: { kind: 'local', baseBackups: source.backupsDir, walArchive: source.archiveDir },
          source: { host: sourceConnection.host, port: sourceConnection.port, database: 'postgres', user: 'postgres', passwordEnv: 'RD_SOURCE_PASSWORD', ssl: false },
          checks: {
            ledger: { migrationsFolder: './drizzle' },
            rowCounts: [{ table: 'users', min: 2, asOf: { column: 'created_at', marginSeconds: 0 } }],
            freshness: { table: 'users', column: 'created_at' },
          },
        },
      ],
      report: { dir: './reports' },
      slack: { runbookUrl: 'https://wiki.example.com/runbooks/restore', timeoutSeconds: 0.5 },
    }),
  );
});

afterAll(async () => {
  await source?.remove();
  if (project) await rm(project, { recursive: true, force: true });
});

afterEach(async () => {
  await Promise.all(servers.map((started) => started.close()));
  servers = [];
  expect((await readdir(scratchFolders.copies()).catch(() => [])).filter((name) => name.startsWith(`rd-${DATABASE}-`))).toEqual([]);
});

function environment(slackUrl: string, cloudWatchUrl: string): NodeJS.ProcessEnv {
  return {
    SLACK_WEBHOOK_URL: `${slackUrl}/services/T0SECRET/B0SECRET/${SECRETS.webhookToken}`,
    RD_SOURCE_PASSWORD: SECRETS.sourcePassword,
    AWS_ACCESS_KEY_ID: 'AKIDREPORTINGTEST',
    AWS_SECRET_ACCESS_KEY: SECRETS.awsSecretAccessKey,
    AWS_SESSION_TOKEN: SECRETS.awsSessionToken,
    AWS_REGION: 'eu-west-1',
    AWS_ENDPOINT_URL_CLOUDWATCH: cloudWatchUrl,
    AWS_CONFIG_FILE: join(project, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(project, 'no-aws-credentials'),
  };
}

/** Every file under a folder, with its text. */
async function filesUnder(dir: string): Promise<{ file: string; text: string }[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return Promise.all(entries.filter((entry) => entry.isFile()).map(async (entry) => ({ file: join(entry.parentPath, entry.name), text: await readFile(join(entry.parentPath, entry.name), 'utf8') })));
}

function expectNoSecret(where: string, text: string) {
  for (const [name, value] of Object.entries(SECRETS)) expect(text.includes(value), `${name} appears in ${where}`).toBe(false);
  expect(text.includes('/services/T0SECRET/B0SECRET'), `the webhook path appears in ${where}`).toBe(false);
}

describe('run --metrics cloudwatch --slack', () => {
  test('Slack refuses every attempt: the drill still passes, the failure is logged and recorded, and no secret is written anywhere', async () => {
    // Prepare: Slack is overloaded (503, Retry-After: 0) every time; CloudWatch accepts.
    const slack = await server((_request, response) => response.writeHead(503, { 'retry-after': '0' }).end('service_unavailable'));
    const cloudwatch = await server((_request, response) => response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end('{}'));

    // Act
    const result = await runCli(['run', '--config', configFile, '--json', '--metrics', 'cloudwatch', '--slack'], { env: environment(slack.url, cloudwatch.url) });

    // Assess: the drill's outcome, untouched by Slack
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const report = (JSON.parse(result.stdout) as RunResult).drills[0]!;
    expect(report.status).toBe('passed');
    expect(report.checks.map((check) => [check.check, check.status])).toEqual([
      ['connection', 'pass'],
      ['ledger', 'pass'],
      ['rowCounts', 'pass'],
      ['freshness', 'pass'],
    ]);
    expect(report.delivery?.metrics).toMatchObject({ ok: true, to: 'cloudwatch' });
    expect(report.delivery?.slack).toMatchObject({ ok: false, to: 'slack', attempts: 4, error: 'Slack answered HTTP 503 service_unavailable' });
    expect(result.stderr).toContain('restore-drill: Slack message not delivered after 4 attempt(s): Slack answered HTTP 503 service_unavailable');
    // the report on disk is the one printed, delivery included
    const written = (await filesUnder(join(project, 'reports'))).map(({ text }) => JSON.parse(text) as DrillReport);
    expect(written.find((stored) => stored.startedAt === report.startedAt)).toEqual(report);
    // what reached the two servers
    expect(slack.requests).toHaveLength(4);
    expect(JSON.parse(slack.requests[0]!.body)).toMatchObject({ text: '✅ restore-drill: the database passed' });
    expect(slack.requests[0]!.body).toContain('<https://wiki.example.com/runbooks/restore|runbook>');
    expect(cloudwatch.requests).toHaveLength(1);
    const put = JSON.parse(cloudwatch.requests[0]!.body) as { Namespace: string; MetricData: { MetricName: string; Value: number; Dimensions: unknown }[] };
    expect(put.Namespace).toBe('RestoreDrill');
    expect(put.MetricData.map((datum) => datum.MetricName)).toEqual(['DrillSucceeded', 'RpoClaimedSeconds', 'DataLagSeconds', 'RestoreSeconds', 'VerifySeconds', 'RtoSeconds', 'ChecksFailed']);
    expect(put.MetricData[0]).toMatchObject({ Value: 1, Dimensions: [{ Name: 'Database', Value: DATABASE }] });
    expect(put.MetricData.find((datum) => datum.MetricName === 'RtoSeconds')!.Value).toBe(report.rto.totalSeconds);

    // Assess: no secret in stdout, stderr, any file of the project (reports included), or any message body sent
    expectNoSecret('stdout', result.stdout);
    expectNoSecret('stderr', result.stderr);
    for (const { file, text } of await filesUnder(project)) expectNoSecret(file, text);
    for (const request of [...slack.requests, ...cloudwatch.requests]) {
      for (const value of [SECRETS.sourcePassword, SECRETS.awsSecretAccessKey, SECRETS.webhookToken]) expect(request.body).not.toContain(value);
    }
  });
});

describe('restore --metrics emf FILE --slack', () => {
  test('a Slack that never answers is given up at the configured timeout; the report and the EMF lines are written', async () => {
    const reportsDir = join(project, 'reports');
    let reportsWhenSlackWasCalled: Promise<string[]> | undefined;
    const slack = await server((_request, _response, index) => {
      // accepts and never answers; the report must already be on disk when Slack is first tried
      if (index === 0) reportsWhenSlackWasCalled = readdir(reportsDir);
    });
    const emfFile = join(project, 'metrics', 'drills.emf.jsonl');
    const started = Date.now();

    const result = await runCli(['restore', '--config', configFile, '--database', DATABASE, '--target', 'latest', '--json', '--metrics', 'emf', emfFile, '--slack'], {
      env: environment(slack.url, 'http://127.0.0.1:9'),
    });

    expect(result.code, result.stderr + result.stdout).toBe(0);
    // 4 attempts of 0.5 s, and backoffs of 1, 2 and 4 s
    expect(Date.now() - started).toBeLessThan(60_000);
    const report = (JSON.parse(result.stdout) as RunResult).drills[0]!;
    expect(report.status).toBe('passed');
    expect(report.delivery?.slack).toMatchObject({ ok: false, attempts: 4, error: 'Slack could not be reached: no answer within 500 ms' });
    expect(report.delivery?.metrics).toMatchObject({ ok: true, to: `emf ${emfFile}` });
    expect(slack.requests).toHaveLength(4);
    const written = (await filesUnder(reportsDir)).map(({ text }) => JSON.parse(text) as DrillReport);
    expect(written.find((stored) => stored.startedAt === report.startedAt)).toEqual(report);
    // named by the drill's start and its id (the copy name's random part): two drills of one second never share a file
    expect(report.drillId).toBe(report.copy.name!.slice(-4));
    const reportFile = `${DATABASE}-${report.startedAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${report.drillId}.json`;
    expect(await reportsWhenSlackWasCalled).toContain(reportFile);
    const lines = (await readFile(emfFile, 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const emf = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(emf).toMatchObject({ Database: DATABASE, DrillSucceeded: 1, ChecksFailed: 0, RtoSeconds: report.rto.totalSeconds });
    expect((emf._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] }).CloudWatchMetrics[0]).toMatchObject({ Namespace: 'RestoreDrill', Dimensions: [['Database']] });
    expectNoSecret('stdout', result.stdout);
    expectNoSecret('stderr', result.stderr);
    for (const { file, text } of await filesUnder(project)) expectNoSecret(file, text);
  });
});

describe('refused before any drill', () => {
  test('--slack without SLACK_WEBHOOK_URL, and a bad --metrics, exit 2 and create nothing', async () => {
    const before = await readdir(join(project, 'reports')).catch(() => []);
    const noWebhook = await runCli(['run', '--config', configFile, '--slack'], { env: { SLACK_WEBHOOK_URL: '' } });
    expect(noWebhook.code).toBe(2);
    expect(noWebhook.stderr).toContain('--slack needs the webhook URL in SLACK_WEBHOOK_URL, which is not set');
    const badMetrics = await runCli(['run', '--config', configFile, '--metrics', 'statsd']);
    expect(badMetrics.code).toBe(2);
    expect(badMetrics.stderr).toContain('--metrics statsd is not valid: expected --metrics cloudwatch or --metrics emf FILE');
    expect(await readdir(join(project, 'reports')).catch(() => [])).toEqual(before);
  });

  test('a webhook URL in the config file is refused without echoing it', async () => {
    const file = join(project, 'webhook-in-config.json');
    const config = JSON.parse(await readFile(configFile, 'utf8')) as { slack: Record<string, unknown> };
    config.slack.webhookUrl = `https://hooks.slack.com/services/T0SECRET/B0SECRET/${SECRETS.webhookToken}`;
    await writeFile(file, JSON.stringify(config));
    try {
      const result = await runCli(['run', '--config', file]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('the webhook URL is a secret: set SLACK_WEBHOOK_URL in the environment');
      expectNoSecret('stderr', result.stderr);
    } finally {
      await rm(file);
    }
  });
});
