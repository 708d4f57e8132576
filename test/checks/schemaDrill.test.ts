import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { drillMetrics } from '../../lib/report/metrics.ts';
import { slackMessage } from '../../lib/report/slack.ts';
import type { DrillReport, RunResult } from '../../lib/report/types.ts';
import { runCli } from '../support/cli.ts';
import { drizzleProject } from '../support/project.ts';

// A team's project on drizzle-kit 0.x whose production database someone `db:push`ed after the last deploy.
let source: SourceCluster;
let project: string;
let configFile: string;

beforeAll(async () => {
  ({ source, project } = await drizzleProject('schema-drill'));
  await source.query('alter table users add column referral_code varchar(12)');
  await source.switchWal();
  configFile = join(project, 'restore-drill.config.json');
  await writeFile(
    configFile,
    JSON.stringify({
      databases: [
        {
          name: 'schema-drill',
          provider: { kind: 'local', baseBackups: source.backupsDir, walArchive: source.archiveDir },
          connection: { database: 'postgres', user: 'postgres' },
          checks: { ledger: { migrationsFolder: './drizzle' }, schema: {} },
        },
      ],
      report: { dir: './reports' },
    }),
  );
});

afterAll(async () => {
  await source?.remove();
  if (project) await rm(project, { recursive: true, force: true });
});

describe('a drill with the schema check, through the CLI', () => {
  test('a db:push on the source fails the drill (exit 1): the schema key in the report, the terminal, Slack and ChecksFailed', async () => {
    // Act
    const text = await runCli(['run', '--config', configFile], { via: 'source' });

    // Assess
    expect(text.code, text.stderr).toBe(1);
    const stored = (await readdir(join(project, 'reports'))).filter((name) => name.startsWith('schema-drill-'));
    expect(stored).toHaveLength(1);
    const report = JSON.parse(await readFile(join(project, 'reports', stored[0]!), 'utf8')) as DrillReport;
    const result: RunResult = { status: 'failed', drills: [report] };
    expect(report.status).toBe('failed');
    expect(report.checks.map((check) => [check.check, check.status]).filter(([check]) => check === 'ledger' || check === 'schema')).toEqual([
      ['ledger', 'pass'],
      ['schema', 'fail'],
    ]);
    const schema = report.checks.find((check) => check.check === 'schema')!;
    expect((schema.details as { sql: string[] }).sql).toEqual(['ALTER TABLE "users" ADD COLUMN "referral_code" varchar(12);']);
    expect(text.stdout).toContain('schema: the copy\'s schema drifted from the snapshot of 0001_user_bio');
    expect(text.stdout).toContain('ALTER TABLE "users" ADD COLUMN "referral_code" varchar(12);');
    expect(text.stdout).toContain('failing checks: 1');
    expect(JSON.stringify(slackMessage(result))).toContain('schema: the copy\'s schema drifted');
    expect(drillMetrics(report).find((metric) => metric.name === 'ChecksFailed')?.value).toBe(1);
  });
});
