import { setTimeout as delay } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFile, cp, mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { newClient } from '../../lib/util/pgClient.ts';
import { afterAll, afterEach, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import { destroyCopy } from '../../lib/providers/local/engine.ts';
import { execOk } from '../../lib/util/exec.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import type { DrillReport, RunResult } from '../../lib/report/types.ts';
import { cliBin, repoRoot, runCli } from '../support/cli.ts';
import { copyFolders, copyServers } from '../support/leftovers.ts';
import { drizzleProject } from '../support/project.ts';

// A new user's project: a source with archiving, Drizzle migrations applied, rows, a base backup, a config file.
let source: SourceCluster;
let project: string;
let configFile: string;

async function writeConfig(file: string, overrides: { walArchive?: string; migrations?: string } = {}) {
  const config = {
    rpoTargetSeconds: 3600,
    rtoTargetSeconds: 600,
    databases: [
      {
        name: 'cli-drill',
        provider: { kind: 'local', baseBackups: source.backupsDir, walArchive: overrides.walArchive ?? source.archiveDir },
        connection: { database: 'postgres', user: 'postgres' },
        checks: {
          ledger: { migrationsFolder: overrides.migrations ?? './drizzle' },
          rowCounts: [{ table: 'users', min: 2 }],
          freshness: { table: 'users', column: 'created_at' },
        },
      },
    ],
    report: { dir: './reports' },
  };
  await writeFile(file, JSON.stringify(config, null, 2));
}

beforeAll(async () => {
  ({ source, project } = await drizzleProject('project'));
  configFile = join(project, 'restore-drill.config.json');
  await writeConfig(configFile);
});

afterAll(async () => {
  await source?.remove();
  if (project) await rm(project, { recursive: true, force: true });
});

afterEach(async () => {
  expect(await copyFolders('cli-drill')).toEqual([]);
  expect(await copyServers('cli-drill')).toEqual([]);
});

describe('restore-drill run', () => {
  test('drills the database and reports every field, on stdout and in the report folder', async () => {
    const before = Date.now();
    const result = await runCli(['run', '--config', configFile, '--json'], { via: 'npx' });
    expect(result.code, result.stderr).toBe(0);
    const run = JSON.parse(result.stdout) as RunResult;
    expect(run.status).toBe('passed');
    const report = run.drills[0]!;
    expect(report).toMatchObject({
      database: 'cli-drill',
      provider: 'local',
      status: 'passed',
      target: { requested: 'latest' },
      rpo: { targetSeconds: 3600, compliant: true },
      rto: { targetSeconds: 600, compliant: true },
      copy: { kept: false, removed: true },
      trigger: 'cli',
    });
    expect(report.target.time).toBe(report.window!.latest);
    expect(Date.parse(report.window!.earliest)).toBeLessThan(Date.parse(report.window!.latest));
    expect(report.rpo.claimedSeconds).toBeGreaterThanOrEqual(0);
    expect(report.rpo.measuredLagSeconds).toBeGreaterThanOrEqual(0);
    expect(report.rto.totalSeconds).toBeCloseTo(report.rto.restoreSeconds! + report.rto.verifySeconds!, 3);
    expect(report.checks.map((check) => [check.check, check.status])).toEqual([
      ['connection', 'pass'],
      ['ledger', 'pass'],
      ['rowCounts', 'pass'],
      ['freshness', 'pass'],
    ]);
    expect(report.backup).toEqual({
      used: 'base-1',
      files: expect.stringMatching(/^\d+ files verified against the backup_manifest by pg_verifybackup/),
      filesVerifiedBy: 'pg_verifybackup',
      skipped: [],
      // A drill's copy is a throwaway: fsync off, no restartpoints (issue 18).
      recovery: expect.objectContaining({ path: 'throwaway', settings: ['fsync = off', 'synchronous_commit = off', 'checkpoint_timeout = 1d', 'max_wal_size = 1TB', 'maintenance_io_concurrency = 100', 'wal_decode_buffer_size = 4MB'] }),
      // Whether the copy had a network of its own depends on the machine (root and unshare): either way it is said.
      network: { isolated: expect.any(Boolean), how: expect.any(String) },
    });
    expect(report.copy.name).toMatch(/^rd-cli-drill-\d{14}-[a-z0-9]{4}$/);
    expect(Date.parse(report.startedAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(report.finishedAt)).toBeGreaterThanOrEqual(Date.parse(report.startedAt));
    expect(report.toolVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(report.error).toBeUndefined();
    const stored = await readdir(join(project, 'reports'));
    const written = JSON.parse(await readFile(join(project, 'reports', stored.find((n) => n.startsWith('cli-drill-'))!), 'utf8')) as DrillReport;
    expect(written).toEqual(report);
  });

  test('a migration file edited after it was applied fails the drill (exit 1), naming the migration', async () => {
    const edited = join(project, 'drizzle-edited');
    await cp(join(project, 'drizzle'), edited, { recursive: true });
    await appendFile(join(edited, '0001_user_bio.sql'), '\n-- tweaked after deploy\n');
    const file = join(project, 'edited.config.json');
    await writeConfig(file, { migrations: './drizzle-edited' });

    const result = await runCli(['run', '--config', file, '--json']);

    expect(result.code).toBe(1);
    const report = (JSON.parse(result.stdout) as RunResult).drills[0]!;
    expect(report.status).toBe('failed');
    const ledger = report.checks.find((check) => check.check === 'ledger')!;
    expect(ledger.status).toBe('fail');
    expect(JSON.stringify(ledger)).toContain('0001_user_bio');
  });

  test('a drill with no checks still connects to the copy: the connection check runs first and is reported', async () => {
    const reports = join(project, 'reports-no-checks');
    const file = join(project, 'no-checks.config.json');
    await writeFile(
      file,
      JSON.stringify({ databases: [{ name: 'cli-drill', provider: { kind: 'local', baseBackups: source.backupsDir, walArchive: source.archiveDir } }], report: { dir: reports } }),
    );

    const result = await runCli(['run', '--config', file, '--json']);
    const text = await runCli(['run', '--config', file]);

    expect(result.code, result.stderr).toBe(0);
    const report = (JSON.parse(result.stdout) as RunResult).drills[0]!;
    expect(report.checks.map((check) => [check.check, check.status])).toEqual([['connection', 'pass']]);
    const details = report.checks[0]!.details as { version: string; inRecovery: boolean; timeline: number; replayLsn: string | null };
    expect(details.version).toMatch(/^PostgreSQL 15\./);
    expect(details.inRecovery).toBe(false);
    // A promoted copy starts a timeline of its own, one past the source's.
    expect(details.timeline).toBe(2);
    expect(details.replayLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(text.stdout).toMatch(/✓ connection: PostgreSQL 15\.\d+, promoted on timeline 2, replayed to [0-9A-F]+\/[0-9A-F]+/);
  });

  test('a commit record with 8 bytes inverted in the archive, target latest: the drill fails (exit 1) naming segment and offset, and window ends before it', async () => {
    // The last commit of the archive: the third user, written after the base backup.
    const segments = (await readdir(source.archiveDir)).filter((name) => /^[0-9A-F]{24}$/.test(name)).sort();
    const dump = await execOk('/usr/lib/postgresql/15/bin/pg_waldump', ['-p', source.archiveDir, '-r', 'Transaction', segments[0]!, segments.at(-1)!]);
    const position = dump.stdout
      .split('\n')
      .filter((line) => /desc: COMMIT/.test(line))
      .map((line) => /lsn: ([0-9A-F]+)\/([0-9A-F]+)/.exec(line)!)
      .map((lsn) => parseInt(lsn[1]!, 16) * 2 ** 32 + parseInt(lsn[2]!, 16))
      // Its bytes 24..32 on one page, so that they sit side by side in the file.
      .findLast((at) => (at % 8192) + 32 <= 8192)!;
    const segmentSize = source.walSegmentSize;
    const segment = segments.find((name) => parseInt(name.slice(16), 16) === Math.floor(position / segmentSize) % (2 ** 32 / segmentSize))!;
    const offset = position % segmentSize;
    const archive = join(project, 'wal-corrupt');
    await cp(source.archiveDir, archive, { recursive: true });
    const file = await open(join(archive, segment), 'r+');
    const bytes = Buffer.alloc(8);
    await file.read(bytes, 0, 8, offset + 24);
    for (let i = 0; i < 8; i++) bytes[i] = bytes[i]! ^ 0xff;
    await file.write(bytes, 0, 8, offset + 24);
    await file.close();
    const config = join(project, 'corrupt.config.json');
    await writeConfig(config, { walArchive: archive });

    const result = await runCli(['run', '--config', config, '--json']);
    const window = await runCli(['window', '--config', config, '--database', 'cli-drill', '--json']);

    expect(result.code, result.stderr).toBe(1);
    const report = (JSON.parse(result.stdout) as RunResult).drills[0]!;
    expect(report.status).toBe('failed');
    expect(report.error).toMatchObject({ step: 'restore', kind: 'backup', name: 'WalCorruptError' });
    const place = `segment ${segment}, offset 0x${offset.toString(16).toUpperCase()}`;
    expect(report.error!.message).toContain(place);
    expect(window.code, window.stderr).toBe(0);
    expect((JSON.parse(window.stdout) as { note?: string }).note).toContain(place);
  });

  /** Runs the CLI and checks it refused while planning: exit 2, no copy, no report written. Returns the error's message. */
  async function refusedAtPlan(args: string[]): Promise<string> {
    const reportsBefore = await readdir(join(project, 'reports')).catch(() => []);
    const result = await runCli(args);
    expect(result.code).toBe(2);
    const report = (JSON.parse(result.stdout) as RunResult).drills[0]!;
    expect(report.error).toMatchObject({ step: 'plan', kind: 'input' });
    expect(report.copy.name).toBeNull();
    expect(await readdir(join(project, 'reports')).catch(() => [])).toEqual(reportsBefore);
    return report.error!.message;
  }

  test('a target outside the window exits 2 and creates nothing', async () => {
    expect(await refusedAtPlan(['run', '--config', configFile, '--target', '2001-01-01T00:00:00Z', '--json'])).toContain('outside the restore window');
  });

  test('a source password variable that is not set exits 2 before anything is created', async () => {
    const config = JSON.parse(await readFile(configFile, 'utf8')) as { databases: Record<string, unknown>[] };
    config.databases[0]!.source = { host: source.server.socketDir, port: source.server.port, database: 'postgres', user: 'postgres', passwordEnv: 'RD_TEST_NEVER_SET_PASSWORD' };
    const unsetFile = join(project, 'unset-password.config.json');
    await writeFile(unsetFile, JSON.stringify(config));

    const message = await refusedAtPlan(['run', '--config', unsetFile, '--json']);

    expect(message).toBe('databases.cli-drill.source.passwordEnv names RD_TEST_NEVER_SET_PASSWORD, which is not set: export it (the read-only user\'s password), or remove databases.cli-drill.source to count without asOf');
  });

  test('without the repo\'s migrations folder, window still answers (the bad day) while run refuses (exit 2)', async () => {
    const file = join(project, 'no-migrations.config.json');
    await writeConfig(file, { migrations: './not-checked-out' });

    const window = await runCli(['window', '--config', file, '--database', 'cli-drill', '--json']);
    const run = await runCli(['run', '--config', file, '--json']);

    expect(window.code, window.stderr).toBe(0);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('databases[0].checks.ledger.migrationsFolder: folder');
  });

  test('a hole in the WAL archive fails the drill (exit 1) with the segment named', async () => {
    const holed = join(project, 'wal-holed');
    await cp(source.archiveDir, holed, { recursive: true });
    const segments = (await readdir(holed)).filter((name) => /^[0-9A-F]{24}$/.test(name)).sort();
    await rm(join(holed, segments.at(-2)!));
    const file = join(project, 'holed.config.json');
    await writeConfig(file, { walArchive: holed });

    const result = await runCli(['run', '--config', file, '--json']);

    expect(result.code).toBe(1);
    const report = (JSON.parse(result.stdout) as RunResult).drills[0]!;
    expect(report.status).toBe('failed');
    expect(report.error).toMatchObject({ step: 'restore', kind: 'backup' });
    expect(report.error!.message).toContain(segments.at(-2)!);
    // Refused while planning the copy: there was never a copy to remove.
    expect(report.copy).toMatchObject({ made: false, removed: false });

    // window says where the archive really ends, and why.
    const window = await runCli(['window', '--config', file, '--database', 'cli-drill', '--json']);
    const full = await runCli(['window', '--config', configFile, '--database', 'cli-drill', '--json']);
    expect(window.code, window.stderr).toBe(0);
    const [holedWindow, fullWindow] = [window, full].map((r) => JSON.parse(r.stdout) as { latest: string; note?: string });
    expect(Date.parse(holedWindow!.latest)).toBeLessThan(Date.parse(fullWindow!.latest));
    expect(holedWindow!.note).toContain(`WAL segment ${segments.at(-2)!} is missing from the archive`);
    expect(fullWindow!.note).toBeUndefined();
  });
});

describe('several databases and earlier reports', () => {
  test('one run drills several databases; the run takes the worst outcome and every drill its report', async () => {
    const holed = join(project, 'wal-holed-2');
    await cp(source.archiveDir, holed, { recursive: true });
    const segments = (await readdir(holed)).filter((name) => /^[0-9A-F]{24}$/.test(name)).sort();
    await rm(join(holed, segments.at(-2)!));
    const reports = join(project, 'reports-two');
    const database = (name: string, walArchive: string) => ({
      name,
      provider: { kind: 'local', baseBackups: source.backupsDir, walArchive },
      checks: { rowCounts: [{ table: 'users', min: 1 }] },
    });
    const file = join(project, 'two.config.json');
    await writeFile(file, JSON.stringify({ concurrency: 2, databases: [database('cli-drill', source.archiveDir), database('cli-drill-holed', holed)], report: { dir: reports } }));

    const result = await runCli(['run', '--config', file, '--json']);

    expect(result.code).toBe(1);
    const run = JSON.parse(result.stdout) as RunResult;
    expect(run.status).toBe('failed');
    expect(run.drills.map((drill) => [drill.database, drill.status])).toEqual([
      ['cli-drill', 'passed'],
      ['cli-drill-holed', 'failed'],
    ]);
    expect((await readdir(reports)).map((name) => name.replace(/-\d{8}T\d{6}Z-[a-z0-9]+\.json$/, '')).sort()).toEqual(['cli-drill', 'cli-drill-holed']);
  });

  test('maxDropPercent compares with the newest earlier drill to this target or before, found by its content', async () => {
    const reports = join(project, 'reports-previous');
    await mkdir(reports, { recursive: true });
    const previous = {
      database: 'cli-drill',
      startedAt: '2026-01-01T00:00:00.000Z',
      target: { requested: 'latest', time: '2026-01-01T00:00:00.000Z' },
      checks: [{ check: 'rowCounts', status: 'pass', summary: '', details: { counts: { users: 100 } } }],
    };
    await writeFile(join(reports, 'renamed-by-someone.json'), JSON.stringify(previous));
    // A newer drill to a later point than this one's target: not a baseline for it (it would hide the drop).
    const laterTarget = { ...previous, startedAt: '2026-02-01T00:00:00.000Z', target: { requested: '2099-01-01T00:00:00Z', time: '2099-01-01T00:00:00.000Z' } };
    await writeFile(join(reports, 'later-target.json'), JSON.stringify({ ...laterTarget, checks: [{ ...previous.checks[0], details: { counts: { users: 1 } } }] }));
    await writeFile(join(reports, 'other-db.json'), JSON.stringify({ ...previous, database: 'other', checks: [{ ...previous.checks[0], details: { counts: { users: 3 } } }] }));
    const file = join(project, 'drop.config.json');
    await writeFile(
      file,
      JSON.stringify({
        databases: [{ name: 'cli-drill', provider: { kind: 'local', baseBackups: source.backupsDir, walArchive: source.archiveDir }, checks: { rowCounts: [{ table: 'users', maxDropPercent: 10 }] } }],
        report: { dir: reports },
      }),
    );

    const result = await runCli(['run', '--config', file, '--json']);

    expect(result.code).toBe(1);
    const rowCounts = (JSON.parse(result.stdout) as RunResult).drills[0]!.checks.find((check) => check.check === 'rowCounts')!;
    expect(rowCounts.status).toBe('fail');
    expect(rowCounts.summary).toMatch(/users/);
    expect(JSON.stringify(rowCounts.details)).toContain('100');
  });
});

describe('restore --keep and drop', () => {
  test('leaves a copy that accepts connections, prints how to reach it, and drop removes it', async () => {
    const result = await runCli(['restore', '--config', configFile, '--database', 'cli-drill', '--target', 'latest', '--keep', '--keep-for', '2h']);
    expect(result.code, result.stderr).toBe(0);
    const name = /The copy (rd-cli-drill-\S+) stays until/.exec(result.stdout)?.[1];
    expect(name).toBeDefined();
    onTestFinished(async () => {
      if ((await copyFolders('cli-drill')).includes(name!)) await destroyCopy(name!);
    });
    const psql = /psql "host=(\S+) port=(\d+) dbname=(\S+) user=(\S+)"/.exec(result.stdout)!;
    const client = newClient({ host: psql[1], port: Number(psql[2]), database: psql[3], user: psql[4] });
    await client.connect();
    const { rows } = await client.query<{ n: number }>('select count(*)::int as n from users');
    await client.end();
    expect(rows[0]!.n).toBe(3);
    expect(await copyFolders('cli-drill')).toEqual([name]);

    const dropped = await runCli(['drop', '--copy', name!]);
    expect(dropped.code, dropped.stderr).toBe(0);
    expect(await copyFolders('cli-drill')).toEqual([]);
  });

  test('drop refuses a name that is not one of our copies (exit 2)', async () => {
    const result = await runCli(['drop', '--copy', 'production-db']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('not a restore-drill copy name');
  });
});

test('SIGINT in the middle of a restore leaves no server and no scratch folder, and reports how far the drill got', async () => {
  const reports = join(project, 'reports');
  const reportsBefore = await readdir(reports).catch(() => [] as string[]);
  const child = spawn(process.execPath, [cliBin, 'run', '--config', configFile], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  onTestFinished(() => {
    child.kill('SIGTERM');
  });
  let progress = '';
  let stdout = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (chunk: string) => {
      progress += chunk;
      // The copy may be ready at its first poll (no wait step): its restore line is the middle of the restore too.
      if (/cli-drill: (wait|restore \()/.test(progress)) resolve();
    });
    child.once('exit', () => reject(new Error(`the drill ended before it was interrupted: ${progress}`)));
  });
  while ((await copyFolders('cli-drill')).length === 0 && child.exitCode === null) await delay(5);
  expect(await copyFolders('cli-drill')).toHaveLength(1);
  child.kill('SIGINT');
  const [code] = await once(child, 'exit');
  expect(code).toBe(130);
  // afterEach asserts that no copy folder and no copy server is left.
  const written = (await readdir(reports)).filter((name) => !reportsBefore.includes(name));
  expect(written).toHaveLength(1);
  const report = JSON.parse(await readFile(join(reports, written[0]!), 'utf8')) as DrillReport;
  expect(report).toMatchObject({ database: 'cli-drill', status: 'error', error: { step: expect.stringMatching(/^(restore|wait)$/), kind: 'tool' } });
  // During wait the message also names the copy and its fate; during restore the copy is not handed over yet.
  expect(report.error!.message).toMatch(report.error!.step === 'wait' ? new RegExp(`^interrupted by SIGINT during wait; the copy ${report.copy.name} is removed on the way out`) : /^interrupted by SIGINT during restore/);
  // No summary of a drill the shutdown broke: it would read like a failed backup.
  expect(stdout).toBe('');
});

// Last: it takes a second base backup on the source, which moves the archive's segments the tests above count on.
test('the newest base backup without a backup_label fails the drill (exit 1), naming it, instead of passing on an older one', async () => {
  const backups = join(project, 'backups-no-label');
  await source.takeBaseBackup('base-2');
  await cp(source.backupsDir, backups, { recursive: true });
  await rm(join(source.backupsDir, 'base-2'), { recursive: true, force: true });
  await rm(join(backups, 'base-2', 'backup_label'));
  const file = join(project, 'no-label.config.json');
  await writeFile(file, JSON.stringify({ databases: [{ name: 'cli-drill', provider: { kind: 'local', baseBackups: backups, walArchive: source.archiveDir } }], report: { dir: join(project, 'reports-no-label') } }));

  const result = await runCli(['run', '--config', file, '--json']);
  const text = await runCli(['run', '--config', file]);

  expect(result.code).toBe(1);
  const report = (JSON.parse(result.stdout) as RunResult).drills[0]!;
  expect(report.status).toBe('failed');
  expect(report.error).toMatchObject({ step: 'restore', kind: 'backup', name: 'BrokenBackupError' });
  expect(report.error!.message).toContain('base backup base-2');
  expect(report.error!.message).toContain('it has no backup_label');
  expect(text.stdout).toContain('stopped at restore: base backup base-2');
});
