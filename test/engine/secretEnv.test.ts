import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import * as exec from '../../lib/util/exec.ts';
import { rememberSecret } from '../../lib/util/redact.ts';
import { copyName, destroyCopy, restoreCopy } from '../../lib/providers/local/engine.ts';
import { serverUser } from '../../lib/providers/local/serverUser.ts';
import type { SourceCluster } from '../../lib/providers/local/sourceCluster.ts';
import { fetchArchive, walCacheDir } from '../../lib/providers/local/wal/fetch.ts';
import { localSourceOf, testSource } from '../support/source.ts';

// Every program the engine runs, with the environment it was given (the real programs still run).
const runs: { file: string; args: readonly string[]; options: exec.ExecOptions | undefined }[] = [];
vi.mock('../../lib/util/exec.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../lib/util/exec.ts')>();
  return {
    ...real,
    execFile: (file: string, args: readonly string[], options?: exec.ExecOptions) => {
      runs.push({ file, args, options });
      return real.execFile(file, args, options);
    },
  };
});

/** Secrets of restore-drill itself, planted in this process's environment. */
const PLANTED = {
  SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0PLANT01/B0PLANT01/plantedwebhooktoken1',
  RESTORE_DRILL_SIGNING_KEY: '-----BEGIN PRIVATE KEY-----plantedsigningkey-----END PRIVATE KEY-----',
  NEON_API_KEY: 'napi_plantedneonkey0123456789',
  PGPASSWORD: 'planted-pgpassword-77',
  RD_TEST_SOURCE_PASSWORD: 'planted-source-password-31',
};
const CREDENTIAL = { AWS_SECRET_ACCESS_KEY: 'plantedawssecretkeyfortherestorecommand' };

let source: SourceCluster;
const saved = new Map<string, string | undefined>();

beforeAll(async () => {
  for (const [name, value] of Object.entries({ ...PLANTED, ...CREDENTIAL })) {
    saved.set(name, process.env[name]);
    process.env[name] = value;
  }
  // As the CLI does for a source's passwordEnv.
  rememberSecret(PLANTED.RD_TEST_SOURCE_PASSWORD);
  source = await testSource();
  await source.query('create table events (id int primary key)');
  await source.takeBaseBackup('base-1');
  await source.query('insert into events select generate_series(1, 100)');
  await source.switchWal();
});

afterAll(async () => {
  for (const [name, value] of saved) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await source?.remove();
});

function leaked(text: string): string[] {
  return Object.entries(PLANTED).filter(([, value]) => text.includes(value)).map(([name]) => name);
}

describe('secret environment variables (issue 14 item 6, local part)', () => {
  test('the restore command gets the archive tool\'s credentials but none of restore-drill\'s own secrets', async () => {
    const dump = join(source.dir, 'restore-command-env.txt');
    const command = `env >> '${dump}'; cp '${source.archiveDir}/%f' '%p'`;
    try {
      await fetchArchive(source.backupsDir, command);
      const seen = await readFile(dump, 'utf8');
      expect(seen).toContain(CREDENTIAL.AWS_SECRET_ACCESS_KEY);
      expect(leaked(seen)).toEqual([]);
    } finally {
      await rm(walCacheDir(command), { recursive: true, force: true });
    }
  });

  test('no program run as the server\'s OS user, and not the copy\'s server, is given them', async () => {
    const user = await serverUser();
    runs.length = 0;
    const { handle } = await restoreCopy({
      source: localSourceOf(source),
      target: { kind: 'latest' },
      name: copyName('secretenv', new Date()),
      expiresAt: new Date(Date.now() + 3_600_000),
      connection: { database: 'postgres', user: 'postgres' },
      timeoutMs: 60_000,
      durable: false,
    });
    try {
      const environ = await readFile(`/proc/${handle.pid}/environ`, 'utf8');
      expect(environ).toMatch(/PATH=/);
      expect(leaked(environ)).toEqual([]);
      const asServerUser = runs.filter((run) => run.options?.as !== undefined);
      if (user.runAs) expect(asServerUser.length).toBeGreaterThan(0);
      for (const run of asServerUser) {
        expect(run.options?.env, `${run.file} ${run.args.join(' ')}`).toBeDefined();
        expect(leaked(JSON.stringify(run.options?.env)), `${run.file} ${run.args.join(' ')}`).toEqual([]);
      }
    } finally {
      await destroyCopy(handle.name);
    }
  });
});
