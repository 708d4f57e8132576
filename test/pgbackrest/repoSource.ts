import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execOk } from '../../lib/util/exec.ts';
import { scratchFolders } from '../../lib/providers/local/scratch.ts';
import { serverUser } from '../../lib/providers/local/serverUser.ts';
import { serverUserEnv } from '../../lib/providers/local/childEnv.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { testSource } from '../support/source.ts';
import { stanzaWorkDir } from '../../lib/providers/pgbackrest/command.ts';

/**
 * A source cluster that archives with `pgbackrest archive-push` into a repository, both in a folder
 * owned by the postgres user, as a self-hosting team runs it: the source's own pgbackrest.conf (with the
 * passphrase when the repository is encrypted) and a second one for the drill machine without it.
 */
export interface RepoSource {
  source: SourceCluster;
  dir: string;
  /** repo1's path; repoPaths has every repository's. */
  repoPath: string;
  repoPaths: string[];
  /** The source's configuration (archive-push and backup read it). */
  sourceConfig: string;
  /** The drill's configuration: the same repository, no passphrase (it comes from the environment). */
  drillConfig: string;
  stanza: string;
  backup(type: 'full' | 'diff' | 'incr', repo?: number): Promise<void>;
  remove(): Promise<void>;
}

/** One repository, or several (`repos`), each encrypted when it has a cipherPass. */
export async function repoSource(options: { repos?: { cipherPass?: string }[]; source?: SourceCluster } = {}): Promise<RepoSource> {
  const repos = options.repos ?? [{}];
  const source = options.source ?? (await testSource());
  const user = await serverUser();
  const dir = await mkdtemp(join(scratchFolders.sources(), 'pgbackrest-'));
  await chmod(dir, 0o711);
  const repoPaths = repos.map((_repo, index) => join(dir, `repo${index + 1}`));
  const stanza = 'main';
  const global = [
    '[global]',
    ...repos.flatMap((repo, index) => [
      `repo${index + 1}-path=${repoPaths[index]}`,
      `repo${index + 1}-retention-full=9`,
      ...(repo.cipherPass ? [`repo${index + 1}-cipher-type=aes-256-cbc`] : []),
    ]),
    `lock-path=${join(dir, 'lock')}`,
    `log-path=${join(dir, 'log')}`,
    'log-level-file=off',
    'start-fast=y',
    'compress-type=gz',
  ];
  const stanzaSection = [`[${stanza}]`, `pg1-path=${source.dataDir}`, `pg1-socket-path=${source.server.socketDir}`, `pg1-port=${source.server.port}`];
  const sourceConfig = join(dir, 'pgbackrest.conf');
  const drillConfig = join(dir, 'drill.conf');
  await writeFile(sourceConfig, [...global, ...repos.flatMap((repo, index) => (repo.cipherPass ? [`repo${index + 1}-cipher-pass=${repo.cipherPass}`] : [])), '', ...stanzaSection, ''].join('\n'), { mode: 0o600 });
  await writeFile(drillConfig, [...global, '', ...stanzaSection, ''].join('\n'), { mode: 0o644 });
  if (user.runAs) await execOk('chown', ['-R', `${user.uid}:${user.gid}`, dir]);
  const asPostgres = (args: string[]) => execOk('pgbackrest', [`--config=${sourceConfig}`, `--stanza=${stanza}`, ...args], { as: user.runAs, env: serverUserEnv() });
  await asPostgres(['stanza-create']);
  await source.query(`alter system set archive_command = 'pgbackrest --config=${sourceConfig} --stanza=${stanza} archive-push %p'`);
  await source.query('select pg_reload_conf()');
  await asPostgres(['check']);
  return {
    source,
    dir,
    repoPath: repoPaths[0]!,
    repoPaths,
    sourceConfig,
    drillConfig,
    stanza,
    backup: async (type, repo = 1) => void (await asPostgres(['backup', `--type=${type}`, `--repo=${repo}`])),
    remove: async () => {
      await source.remove();
      await rm(dir, { recursive: true, force: true });
      // The drills' WAL caches of these repositories (one per config file, stanza and repository).
      for (const [index] of repos.entries()) {
        await rm(await stanzaWorkDir({ stanza, config: drillConfig, repo: index + 1 }), { recursive: true, force: true });
      }
    },
  };
}
