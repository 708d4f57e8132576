import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import type { RunResult } from '../../lib/report/types.ts';
import { recordingServer } from '../report/helpers.ts';
import { runCli, type CliResult } from '../support/cli.ts';
import { drizzleProject } from '../support/project.ts';

// Issue 14, item 6: each secret form planted where a user or a server puts it, then every outward
// text of the run (stdout, stderr, report files, the EMF file, what Slack received) scanned for it.
const secret = (label: string) => `${label}${randomBytes(10).toString('hex')}`;
const SECRETS = {
  restoreCommandPassword: secret('curlpass'),
  sourceHostPassword: secret('hostpass'),
  webhookToken: secret('hooktoken'),
};

let source: SourceCluster;
let project: string;
let configFile: string;

/** The CLI of the working tree (bin/cli.ts, as `npm start` runs it), so the test sees today's code. */
function cli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return runCli(args, { via: 'source', env });
}

async function filesUnder(dir: string): Promise<{ file: string; text: string }[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return Promise.all(entries.filter((entry) => entry.isFile()).map(async (entry) => ({ file: join(entry.parentPath, entry.name), text: await readFile(join(entry.parentPath, entry.name), 'utf8') })));
}

function expectNoSecret(where: string, text: string) {
  for (const [name, value] of Object.entries(SECRETS)) expect(text.includes(value), `${name} appears in ${where}`).toBe(false);
}

beforeAll(async () => {
  ({ source, project } = await drizzleProject('secrets'));
  const { port } = source.clientConfig();
  configFile = join(project, 'restore-drill.config.json');
  await writeFile(
    configFile,
    JSON.stringify({
      rpoTargetSeconds: 3600,
      databases: [
        {
          // The WAL server refuses the connection: the restore command, credentials included, ends in the error.
          name: 'fetched',
          provider: { kind: 'local', baseBackups: source.backupsDir, restoreCommand: `curl -fsS -u drill:${SECRETS.restoreCommandPassword} http://127.0.0.1:9/%f -o %p` },
          checks: {},
        },
        {
          // A connection string pasted as the host: the driver's error names it.
          name: 'pasted',
          provider: { kind: 'local', baseBackups: source.backupsDir, walArchive: source.archiveDir },
          source: { host: `postgres://ro:${SECRETS.sourceHostPassword}@127.0.0.1:${port}/postgres`, port, database: 'postgres', user: 'postgres', ssl: false },
          checks: { rowCounts: [{ table: 'users', min: 1, asOf: { column: 'created_at', marginSeconds: 0 } }] },
        },
      ],
      report: { dir: './reports' },
      slack: { timeoutSeconds: 2 },
    }),
  );
});

afterAll(async () => {
  await source?.remove();
  if (project) await rm(project, { recursive: true, force: true });
});

describe('secrets planted in the config and in Slack\'s answer', () => {
  test('reach no report, no stdout or stderr line, no EMF line and no Slack message', async () => {
    // Prepare: Slack answers with an error that echoes the webhook's token.
    const slack = await recordingServer((_request, response) => response.writeHead(403).end(`invalid_token: ${SECRETS.webhookToken}`));
    const emfFile = join(project, 'metrics', 'drills.emf.jsonl');
    try {
      // Act: the text output, then the JSON output
      const env = { SLACK_WEBHOOK_URL: `${slack.url}/services/T0SECRET/B0SECRET/${SECRETS.webhookToken}` };
      const text = await cli(['run', '--config', configFile, '--metrics', 'emf', emfFile, '--slack'], env);
      const json = await cli(['run', '--config', configFile, '--json', '--slack'], env);
      const window = await cli(['window', '--config', configFile, '--database', 'fetched'], env);
      const restore = await cli(['restore', '--config', configFile, '--database', 'fetched', '--target', 'latest'], env);

      // Assess: the planted failures happened, and were told without their secrets
      // fetched failed (the WAL cannot be fetched), pasted errored (its asOf count could not reach the source): exit 3
      expect(json.code, json.stderr).toBe(3);
      const [fetched, pasted] = (JSON.parse(json.stdout) as RunResult).drills;
      expect(fetched!.error?.message).toContain(`curl -fsS -u drill:[redacted] http://127.0.0.1:9/%f -o %p`);
      expect(JSON.stringify(pasted!.checks)).toContain('postgres://ro:[redacted]@127.0.0.1');
      expect(fetched!.delivery?.slack).toMatchObject({ ok: false, error: expect.stringContaining('Slack answered HTTP 403 invalid_token') });
      expect(text.stderr).toContain('Slack message not delivered');
      expect(window.stderr).toContain('-u drill:[redacted]');
      expect(restore.stdout).toContain('-u drill:[redacted]');
      for (const [where, output] of [['text', text], ['json', json], ['window', window], ['restore', restore]] as const) {
        expectNoSecret(`${where} stdout`, output.stdout);
        expectNoSecret(`${where} stderr`, output.stderr);
      }
      const files = await filesUnder(project);
      expect(files.some(({ file }) => file === emfFile)).toBe(true);
      expect(files.filter(({ file }) => file.includes(`${join(project, 'reports')}/`)).length).toBeGreaterThanOrEqual(4);
      for (const { file, text: content } of files.filter(({ file }) => !file.endsWith('restore-drill.config.json'))) expectNoSecret(file, content);
      expect(slack.requests.length).toBeGreaterThanOrEqual(2);
      for (const request of slack.requests) {
        expect(request.body).not.toContain(SECRETS.restoreCommandPassword);
        expect(request.body).not.toContain(SECRETS.sourceHostPassword);
      }
    } finally {
      await slack.close();
    }
  });
});
