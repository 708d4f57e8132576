/**
 * A process of its own (see schemaKit.ts) that runs drizzle-kit's programmatic API: reads one
 * request as JSON on stdin, writes its answer as JSON on fd 3 (drizzle-kit logs on stdout).
 * - `diff`: for each job, the SQL drizzle-kit's generateMigration writes for its steps, one after the other.
 * - `reconstruct` (1.x): the full state of a migration from the migrations folder's diff snapshots, and
 *   the SQL that makes it from nothing (one process instead of two).
 */
import { createWriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { finished } from 'node:stream/promises';
import type { DifferRequest } from './schemaKit.ts';
import { emptySnapshot } from './schemaSnapshot.ts';

type Api0 = { generateMigration(prev: unknown, cur: unknown): Promise<string[]> };
type Hint = { type: string; kind: string; entity: unknown };
type Api1 = {
  generateMigration(prev: unknown, cur: unknown, options?: { hints?: Hint[] }): Promise<string[]>;
  reconstruct(files: Record<string, unknown>, id?: string): Promise<unknown>;
};

/**
 * 1.x asks, through a MissingHintsError, whether an object both dropped and added was renamed, and
 * whether a change may lose data. The drift is what it is: nothing was renamed (a rename shows as a
 * drop and an add), and data loss is only written, never run.
 */
async function diff1(api: Api1, prev: unknown, cur: unknown): Promise<string[]> {
  const hints: Hint[] = [];
  for (let round = 0; round < 20; round += 1) {
    try {
      return await api.generateMigration(prev, cur, { hints });
    } catch (error) {
      const missing = (error as { missingHints?: { type: string; kind: string; entity: unknown }[] }).missingHints;
      if (!Array.isArray(missing) || missing.length === 0) throw error;
      for (const hint of missing) {
        hints.push(hint.type === 'rename_or_create' ? { type: 'create', kind: hint.kind, entity: hint.entity } : { type: 'confirm_data_loss', kind: hint.kind, entity: hint.entity });
      }
    }
  }
  throw new Error('drizzle-kit kept asking for hints');
}

async function answer(request: DifferRequest): Promise<unknown> {
  const require = createRequire(join(request.kitDir, 'package.json'));
  if (request.op === 'reconstruct') {
    const api = require(join(request.kitDir, 'api-postgres.js')) as Api1;
    const state = await api.reconstruct(request.files, request.id);
    return { state, create: await diff1(api, emptySnapshot('1.x'), state) };
  }
  const api = require(join(request.kitDir, request.layout === '0.x' ? 'api.js' : 'api-postgres.js')) as Api0 & Api1;
  const answers: string[][] = [];
  for (const steps of request.jobs) {
    const statements: string[] = [];
    for (const [prev, cur] of steps) statements.push(...(request.layout === '0.x' ? await api.generateMigration(prev, cur) : await diff1(api, prev, cur)));
    answers.push(statements);
  }
  return answers;
}

const request = JSON.parse(await text(process.stdin)) as DifferRequest;
let reply: string;
try {
  reply = JSON.stringify({ ok: true, value: await answer(request) });
} catch (error) {
  reply = JSON.stringify({ ok: false, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
}
// A stream, not writeSync: fd 3 is a pipe, and a large answer would fill it.
const out = createWriteStream('', { fd: 3 });
out.end(reply);
await finished(out);
process.exit(0);
