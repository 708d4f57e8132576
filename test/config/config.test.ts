import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadConfig, validateConfig } from '../../lib/config/load.ts';
import { repoRoot, runCli } from '../support/cli.ts';
import { localProvider, useConfigFolder } from '../support/configFolder.ts';

const folder = useConfigFolder('config');
const local = localProvider;
const problemsOf = folder.problemsOf;

describe('a valid config', () => {
  test('gets its defaults and paths made absolute against the config folder', async () => {
    const config = await validateConfig({ databases: [{ name: 'app', provider: local, checks: { ledger: { migrationsFolder: './drizzle' } } }] }, folder.dir());
    expect(config).toMatchObject({ rpoTargetSeconds: 300, rtoTargetSeconds: 3600, concurrency: 2, report: { dir: join(folder.dir(), 'drill-reports') } });
    const [database] = config.databases;
    expect(database).toMatchObject({
      target: 'latest',
      connection: { database: 'postgres', user: 'postgres' },
      provider: { baseBackups: join(folder.dir(), 'base'), walArchive: join(folder.dir(), 'wal') },
      checks: { ledger: { migrationsFolder: join(folder.dir(), 'drizzle'), schema: 'drizzle', table: '__drizzle_migrations', expect: 'all-applied' } },
    });
  });

  test('may be a .ts file exporting defineConfig(...), imported from the installed package', async () => {
    const project = join(folder.dir(), 'ts-project');
    await mkdir(join(project, 'node_modules'), { recursive: true });
    // As `npm install restore-drill` leaves it (built by npm test's pretest, as by prepare).
    await symlink(repoRoot, join(project, 'node_modules', 'restore-drill'));
    await writeFile(
      join(project, 'restore-drill.config.ts'),
      `import { defineConfig } from 'restore-drill';\n` +
        `export default defineConfig({ rpoTargetSeconds: 60, databases: [{ name: 'app', provider: { kind: 'local', baseBackups: '../base', walArchive: '../wal' } }] });\n`,
    );
    const { file, config } = await loadConfig(project);
    expect(file).toBe(join(project, 'restore-drill.config.ts'));
    expect(config.rpoTargetSeconds).toBe(60);
    expect(config.databases[0]!.provider).toMatchObject({ kind: 'local', walArchive: join(folder.dir(), 'wal') });
  });
});

describe('an invalid config', () => {
  test('reports every problem of the file at once, each with its path', async () => {
    const problems = await problemsOf({
      rpoTargetSeconds: -5,
      databases: [
        { name: 'app', provider: { kind: 'local', baseBackups: './base' }, checks: { rowcounts: [] } },
        { name: 'App_2', provider: { kind: 'mysql' }, target: 'yesterday', extra: true },
      ],
      report: { folder: 'x' },
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^rpoTargetSeconds: /),
        'databases[0].provider: give walArchive (the archive folder) or restoreCommand (a command fetching %f to %p), one of them',
        expect.stringMatching(/^databases\[1\]\.name: lowercase letters/),
        expect.stringMatching(/^databases\[1\]\.provider\.kind: .*local/),
        expect.stringMatching(/^databases\[1\]\.target: expected latest, -<n>s\|m\|h\|d/),
        expect.stringMatching(/^databases\[1\]\.extra: unknown key/),
        expect.stringMatching(/^report\.folder: unknown key \(check its spelling/),
        "databases[0].checks.rowcounts: unknown key (did you mean rowCounts? See the README's configuration reference)",
      ]),
    );
    expect(problems).toHaveLength(8);
  });

  test('names folders that do not exist, duplicate names, and asOf without a source', async () => {
    const problems = await problemsOf({
      databases: [
        { name: 'app', provider: { ...local, walArchive: './no-such-wal' }, checks: { ledger: { migrationsFolder: './nope' } } },
        { name: 'app', provider: local, checks: { rowCounts: [{ table: 'users', asOf: { column: 'created_at', marginSeconds: 60 } }] } },
      ],
    });
    expect(problems).toEqual([
      `databases[0].provider.walArchive: folder ${join(folder.dir(), 'no-such-wal')} does not exist`,
      `databases[0].checks.ledger.migrationsFolder: folder ${join(folder.dir(), 'nope')} does not exist`,
      'databases[1].name: "app" is used by an earlier database; names must be unique',
      expect.stringMatching(/^databases\[1\]\.checks\.rowCounts\[0\] .*asOf .*no source connection/),
    ]);
  });

  test('gives exit code 2 from the CLI with the problems on stderr', async () => {
    const file = join(folder.dir(), 'broken.json');
    await writeFile(file, JSON.stringify({ databases: [{ name: 'app', provider: { kind: 'local' } }], unknown: 1 }));
    const result = await runCli(['run', '--config', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('has 3 problems');
    expect(result.stderr).toContain('databases[0].provider.baseBackups: required');
    expect(result.stderr).toContain('unknown: unknown key');
    expect(result.stdout).toBe('');
  });

  test.each([
    [['run', '--config', '/no/such/file.json'], 'does not exist'],
    [['restore', '--database', 'app', '--target', 'latest', '--keep', '--keep-for', 'a while'], '--keep-for "a while" is not valid'],
    [['run', '--bogus'], "unknown option '--bogus'"],
  ])('bad arguments %j exit 2 with %s', async (args, message) => {
    const result = await runCli(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });
});
