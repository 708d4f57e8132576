import { rm } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import { runDrills } from '../../lib/drill/runner.ts';
import { summarizeDrill } from '../../lib/report/format.ts';
import { copyFolders, copyServers } from '../support/leftovers.ts';
import { fakeServerBin, SERVER_SAYS_CHECKPOINT_MISSING, SERVER_SAYS_NOTHING } from '../support/fakeServer.ts';
import { insertRow } from '../support/source.ts';
import { repoSource, type RepoSource } from './repoSource.ts';
import { checksums, pastBackupStop, repoProvider, restoreAndRead } from './support.ts';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execOk } from '../../lib/util/exec.ts';
import { readdir } from 'node:fs/promises';
import { readStanzaInfo } from '../../lib/providers/pgbackrest/info.ts';
import { stanzaWorkDir } from '../../lib/providers/pgbackrest/command.ts';
import { parseSegmentName, segmentName } from '../../lib/providers/local/wal/lsn.ts';

// A source archiving with pgbackrest archive-push, a full, a diff and an incr backup, two known writes after each.
let repo: RepoSource;
const commits: bigint[] = [];
let reportDir: string;

const between = (a: bigint, b: bigint) => new Date(Number((a + b) / 2n / 1000n));

beforeAll(async () => {
  repo = await repoSource();
  reportDir = await mkdtemp(join(tmpdir(), 'pgbr-reports-'));
  await repo.source.query('create table events (id int primary key)');
  commits[1] = await insertRow(repo.source, 'events', 1);
  for (const [type, first] of [['full', 2], ['diff', 4], ['incr', 6]] as const) {
    await repo.backup(type);
    await pastBackupStop();
    commits[first] = await insertRow(repo.source, 'events', first);
    commits[first + 1] = await insertRow(repo.source, 'events', first + 1);
  }
  await repo.source.switchWal();
});

afterAll(async () => {
  await repo?.remove();
  if (reportDir) await rm(reportDir, { recursive: true, force: true });
});

afterEach(async () => {
  expect(await copyFolders('pgbr')).toEqual([]);
  expect(await copyServers('pgbr')).toEqual([]);
});

test('restores a target in the span of each backup (full, diff, incr) from that backup: rows before the target in, rows after it out', async () => {
  const provider = repoProvider({ config: repo.drillConfig }, 'pgbr');
  const window = await provider.window();
  expect(window.earliest.getTime()).toBeLessThan(Number(commits[2]! / 1000n));
  expect(window.latest.getTime()).toBe(Number(commits[7]! / 1000n));

  const expected = [
    { target: between(commits[2]!, commits[3]!), ids: [1, 2], type: 'full' },
    { target: between(commits[4]!, commits[5]!), ids: [1, 2, 3, 4], type: 'diff' },
    { target: between(commits[6]!, commits[7]!), ids: [1, 2, 3, 4, 5, 6], type: 'incr' },
  ];
  for (const { target, ids, type } of expected) {
    const restored = await restoreAndRead(provider, 'pgbr', { kind: 'time', time: target });
    expect(restored.ids, `target ${target.toISOString()}`).toEqual(ids);
    expect(restored.backup).toMatchObject({ type, filesVerifiedBy: 'pgbackrest verify', tool: expect.stringMatching(/^pgBackRest 2\.\d+ restore$/) });
    expect(restored.backup.used).toContain(restored.backup.label);
    expect(restored.backup.files).toMatch(/verified by pgbackrest verify/);
    // The copy never archives (pushing into the repository) and replays from our cache, never from the repository.
    expect(restored.settings).toMatch(/^archive_mode = 'off'$/m);
    expect(restored.settings).toMatch(new RegExp(`^restore_command = .*${restored.handle.dir}/wal/%f`, 'm'));
    expect(restored.settings).not.toMatch(/pgbackrest|archive-get/);
  }
});

test('a drill to latest through the config restores every row, passes its checks, and leaves the repository and the stanza data folder as they were', async () => {
  const config = await validateConfig(
    {
      rpoTargetSeconds: 86_400,
      databases: [
        {
          name: 'pgbr',
          provider: { kind: 'pgbackrest', stanza: repo.stanza, config: repo.drillConfig, repo: 1 },
          checks: { rowCounts: [{ table: 'events', min: 7 }] },
        },
      ],
      report: { dir: reportDir },
    },
    reportDir,
  );
  // The stanza's own data folder must stay as it is: the source is stopped, so its files only change if something writes them.
  await repo.source.stop();
  const before = { repo: await checksums(repo.repoPath), data: await checksums(repo.source.dataDir) };

  const { drills } = await runDrills(config, { trigger: 'cli', durable: false });

  const report = drills[0]!;
  expect(report.status, JSON.stringify(report.error ?? report.checks)).toBe('passed');
  expect(report.checks.find((check) => check.check === 'rowCounts')?.status).toBe('pass');
  expect(report.backup).toMatchObject({ type: 'incr', tool: expect.stringMatching(/^pgBackRest/), filesVerifiedBy: 'pgbackrest verify' });
  expect(report.backup?.used).toMatch(/_\d{8}-\d{6}I \(incr against .*D, stopped .*Z, repo1\)/);
  expect(report.backup?.stopTime).toMatch(/Z$/);
  // The terminal and Slack say it too: the set, its type and stop time, the tool, how it was verified.
  expect(summarizeDrill(report).backup).toMatch(/^backup: \S+I \(incr against \S+D, stopped \S+Z, repo1\), restored by pgBackRest 2\.\d+ restore, \d+ files of backup \S+ \(with the 2 it references\) and \d+ WAL files verified by pgbackrest verify/);
  expect({ repo: await checksums(repo.repoPath), data: await checksums(repo.source.dataDir) }).toEqual(before);
  await repo.source.restart();
});

test.each([
  ['giving no reason is not blamed on the backup (kind tool)', SERVER_SAYS_NOTHING, 'tool', /says nothing about the backup/],
  ['naming its reason fails the restore (kind backup)', SERVER_SAYS_CHECKPOINT_MISSING, 'backup', /could not locate required checkpoint record/],
])('a pgBackRest copy whose server exits at start %s', async (_case, script, kind, said) => {
  const fake = await fakeServerBin(repo.source.binaries.bindir, script);
  try {
    const provider = repoProvider({ config: repo.drillConfig, pgBin: fake.bin }, 'pgbr');
    const error = await restoreAndRead(provider, 'pgbr', { kind: 'latest' }).then(
      () => undefined,
      (caught: Error & { kind?: string }) => caught,
    );
    expect(error?.kind, error?.message).toBe(kind);
    expect(error?.message).toMatch(/exited at start/);
    expect(error?.message).toMatch(said);
  } finally {
    await fake.remove();
  }
});

test('a damaged file of the backup set is named by pgbackrest verify, and the copy is never started', async () => {
  const provider = repoProvider({ config: repo.drillConfig }, 'pgbr');
  const info = await readStanzaInfo({ stanza: 'main', config: repo.drillConfig, repo: 1 }, repo.dir);
  const full = info.backups[0]!.label;
  const folder = join(repo.repoPath, 'backup', 'main', full, 'pg_data', 'global');
  const file = 'pg_control.gz';
  const damaged = join(folder, file);
  await execOk('cp', ['-p', damaged, join(repo.dir, 'kept-aside')]);
  // Still a valid gzip file of the same size, whose content no longer has the checksum the manifest records.
  await execOk('sh', ['-c', 'gzip -dc "$1" > "$2.raw" && printf garbagegarbage | dd of="$2.raw" bs=1 seek=100 conv=notrunc 2>/dev/null && gzip -c "$2.raw" > "$1" && rm "$2.raw"', 'sh', damaged, join(repo.dir, 'damaged')]);
  try {
    const error = await restoreAndRead(provider, 'pgbr', { kind: 'time', time: between(commits[2]!, commits[3]!) }).then(
      () => undefined,
      (caught: Error) => caught,
    );
    expect(error?.name).toBe('BrokenBackupError');
    expect(error?.message).toContain(`backup ${full}`);
    expect(error?.message).toContain(`${full}/pg_data/global/${file}`);
    expect(await copyFolders('pgbr')).toEqual([]);
  } finally {
    await execOk('cp', ['-p', join(repo.dir, 'kept-aside'), damaged]);
  }
});

test('a segment missing from the repository is named before anything is restored, and the window ends before it', async () => {
  const provider = repoProvider({ config: repo.drillConfig }, 'pgbr');
  // The segment after the incr backup's: it holds rows 6 and 7, and row 8 lies in a segment after it.
  await insertRow(repo.source, 'events', 8);
  await repo.source.switchWal();
  const info = await readStanzaInfo({ stanza: 'main', config: repo.drillConfig, repo: 1 }, repo.dir);
  const incr = parseSegmentName(info.backups.at(-1)!.archiveStop, repo.source.walSegmentSize);
  const missing = segmentName({ timeline: incr.timeline, segno: incr.segno + 1 }, repo.source.walSegmentSize);
  const archive = join(repo.repoPath, 'archive', 'main', '15-1', missing.slice(0, 16));
  const file = (await readdir(archive)).find((name) => name.startsWith(`${missing}-`))!;
  await execOk('mv', [join(archive, file), join(repo.dir, 'moved-away')]);
  // As on a first drill: the cache holds nothing past the gap (earlier tests may have fetched the segments after it, or not, as archiving kept up).
  await rm(join(await stanzaWorkDir({ stanza: 'main', config: repo.drillConfig, repo: 1 }), 'wal'), { recursive: true, force: true });
  try {
    const before = await checksums(repo.repoPath);
    const window = await provider.window();
    expect(window.note).toContain(`WAL segment ${missing} is missing from the repository`);
    expect(window.latest.getTime()).toBeLessThan(Number(commits[6]! / 1000n));
    await expect(provider.start({ target: { kind: 'latest' }, copyName: 'rd-pgbr-20260101000000-miss', expiresAt: new Date(Date.now() + 3_600_000) })).rejects.toMatchObject({
      name: 'WalGapError',
      missingSegment: missing,
      message: expect.stringContaining(`WAL segment ${missing} is missing from the repository`),
    });
    expect(await copyFolders('pgbr')).toEqual([]);
    expect(await checksums(repo.repoPath)).toEqual(before);
  } finally {
    await execOk('mv', [join(repo.dir, 'moved-away'), join(archive, file)]);
  }
});
