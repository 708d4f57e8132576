import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { layOutFunctions } from './runtime.ts';

// Lambda gives each sandbox (execution environment) its own /tmp. The functions write their config's
// files there at init (lib/config/deployment.ts), so sandboxes sharing one would rewrite a file under
// another's reader: seen as a ledger "hash mismatch" in test/infra/scale.test.ts, one drill in 50.
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rd-runtime-test-'));
  const asset = join(dir, 'assembly', 'asset.marker');
  await mkdir(asset, { recursive: true });
  // Writes its invocation's id into its temp folder, waits until every invocation has written, reads it back.
  await writeFile(
    join(asset, 'index.mjs'),
    `import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
export const handler = async (event) => {
  writeFileSync(join(tmpdir(), 'mine'), event.id);
  writeFileSync(join(event.shared, event.id), '');
  while (readdirSync(event.shared).length < event.of) await delay(5);
  return { wrote: event.id, read: readFileSync(join(tmpdir(), 'mine'), 'utf8'), tmp: tmpdir() };
};
`,
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('each sandbox of a function has a temp folder of its own, as in Lambda: concurrent invocations never see each other\'s files', async () => {
  const layout = await layOutFunctions(
    { Marker: { Type: 'AWS::Lambda::Function', Properties: { Code: { S3Key: 'marker.zip' }, Timeout: 30 } } },
    { assemblyDir: join(dir, 'assembly'), resolve: String, credentialsFor: () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }), region: 'us-east-1' },
  );
  try {
    const shared = join(dir, 'shared');
    await mkdir(shared);
    const marker = layout.functions.get('Marker')!;
    const ids = ['one', 'two', 'three'];

    const results = (await Promise.all(ids.map((id) => marker.invoke({ id, shared, of: ids.length })))) as { wrote: string; read: string; tmp: string }[];

    for (const result of results) expect(result.read).toBe(result.wrote);
    expect(new Set(results.map((result) => result.tmp)).size).toBe(ids.length);
    expect((await readdir(shared)).sort()).toEqual([...ids].sort());
  } finally {
    await layout.remove();
  }
});
