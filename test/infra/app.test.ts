import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { repoRoot } from '../support/cli.ts';

const run = promisify(execFile);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rd-app-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** bin/app.ts as `cdk synth` runs it: the context from CDK_CONTEXT_JSON, the assembly into CDK_OUTDIR. */
async function synth(config: unknown, cloud: unknown): Promise<{ code: number; stderr: string }> {
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  await writeFile(join(dir, 'cloud.json'), JSON.stringify(cloud));
  const env = {
    ...process.env,
    CDK_CONTEXT_JSON: JSON.stringify({ 'restore-drill:config': join(dir, 'config.json'), 'restore-drill:cloud': join(dir, 'cloud.json') }),
    CDK_OUTDIR: join(dir, 'out'),
  };
  return run(process.execPath, [join(repoRoot, 'bin/app.ts')], { cwd: repoRoot, env }).then(
    ({ stderr }) => ({ code: 0, stderr }),
    (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
  );
}

describe('bin/app.ts, what cdk synth runs', () => {
  test('problems of the config and of the cloud settings come together, without a stack trace, exit 2', async () => {
    const result = await synth(
      { rpoTargetSecond: 300, databases: [{ name: 'orders', provider: { kind: 'neon', projectId: 'p', apiKey: { secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:k' } } }] },
      { schedules: [{ name: 'nightly', expression: 'cron(0 3 * * *)' }], pollInterval: 5 },
    );

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('rpoTargetSecond: unknown key');
    expect(result.stderr).toContain('schedules[0].expression: cron(0 3 * * *) is not valid: it has 5 fields');
    expect(result.stderr).toContain('pollInterval: unknown key');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
