import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, test } from 'vitest';
import { ALL_RDS_ACTIONS, CLI_ONLY_ACTIONS, REPORT_BUCKET_ACTIONS, SECRET_ACTIONS } from '../../lib/infra/roleActions.ts';
import { lambdaBundling } from '../../lib/infra/restoreDrill.ts';
import { repoRoot } from '../support/cli.ts';

// The AWS calls each function's code can make, read from the code itself: the source files esbuild puts
// into the bundle, and every SDK command or paginator they name. A new call that the table of grants
// (lib/infra/roleActions.ts) does not list fails here; the bundled state-machine test then proves, with
// IAM enforced, that each call a drill makes is granted to the function that makes it.

const CLIENTS = { rds: '@aws-sdk/client-rds', secretsmanager: '@aws-sdk/client-secrets-manager', s3: '@aws-sdk/client-s3', cloudwatch: '@aws-sdk/client-cloudwatch' } as const;
/** S3's actions are not its operations' names. */
const S3_ACTION: Record<string, string> = { ListObjectsV2: 's3:ListBucket', GetObject: 's3:GetObject', PutObject: 's3:PutObject' };

/** Each client's commands and paginators, as IAM actions, by the client's module name. */
async function exportsOf(): Promise<Map<string, Map<string, string>>> {
  const byModule = new Map<string, Map<string, string>>();
  for (const [prefix, module] of Object.entries(CLIENTS)) {
    const byName = new Map<string, string>();
    for (const name of Object.keys(await import(module))) {
      const operation = /^(\w+)Command$/.exec(name)?.[1] ?? /^paginate(\w+)$/.exec(name)?.[1];
      if (operation) byName.set(name, prefix === 's3' ? (S3_ACTION[operation] ?? `s3:${operation}`) : `${prefix}:${operation}`);
    }
    byModule.set(module, byName);
  }
  return byModule;
}

/** The SDK clients a source file takes its commands from (lib/providers/rds/sdk.ts re-exports client-rds). */
function clientsOf(text: string): string[] {
  return [...text.matchAll(/(?:from|import\()\s*'(@aws-sdk\/client-[\w-]+|\.\/sdk\.ts)'/g)].map((match) => (match[1] === './sdk.ts' ? CLIENTS.rds : match[1]!));
}

/** The IAM actions the code of one function's bundle names, by its source files. */
async function actionsInBundle(entry: string, sdk: Map<string, Map<string, string>>): Promise<Map<string, string[]>> {
  const options = lambdaBundling();
  const result = await build({
    entryPoints: [join(repoRoot, 'functions', entry)],
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    target: options.target,
    external: options.externalModules,
    define: { ...options.define, __RESTORE_DRILL_DEPLOYMENT__: 'undefined' },
    outdir: join(repoRoot, 'node_modules/.cache/rd-role-actions'),
    logLevel: 'silent',
  });
  const actions = new Map<string, string[]>();
  for (const input of Object.keys(result.metafile.inputs)) {
    if (input.includes('node_modules')) continue;
    const text = readFileSync(resolve(repoRoot, input), 'utf8').replace(/^import type .*$/gm, '');
    const clients = clientsOf(text);
    for (const [, name] of text.matchAll(/\b(\w+Command|paginate\w+)\b/g)) {
      for (const client of clients) {
        const action = sdk.get(client)?.get(name!);
        if (action) actions.set(action, [...(actions.get(action) ?? []), input]);
      }
    }
  }
  return actions;
}

describe('the AWS calls in the code', () => {
  test('every call a function bundle can make is in the table the stack grants from', async () => {
    const sdk = await exportsOf();
    const known = new Set([...ALL_RDS_ACTIONS, ...Object.values(REPORT_BUCKET_ACTIONS).flat(), ...SECRET_ACTIONS, ...CLI_ONLY_ACTIONS]);
    const found = new Set<string>();
    for (const entry of ['plan.ts', 'start.ts', 'poll.ts', 'verify.ts', 'cleanup.ts', 'report.ts', 'janitor.ts', 'notifier.ts']) {
      for (const [action, files] of await actionsInBundle(entry, sdk)) {
        found.add(action);
        expect(known.has(action), `${entry} can call ${action} (in ${[...new Set(files)].join(', ')}), which lib/infra/roleActions.ts does not list: add it to the row of the function that calls it`).toBe(true);
      }
    }
    // The reading is not empty by accident: the providers' and the store's calls are all found.
    for (const action of ['rds:RestoreDBInstanceToPointInTime', 'rds:RestoreDBClusterToPointInTime', 'rds:CreateDBInstance', 'rds:DescribeDBInstanceAutomatedBackups', 's3:PutObject', 's3:ListBucket', 'secretsmanager:GetSecretValue']) {
      expect(found).toContain(action);
    }
    // Every listed call is one the code makes (AddTagsToResource is how RDS authorises a create request's tags).
    for (const action of known) if (action !== 'rds:AddTagsToResource') expect(found, `${action} is listed but no bundle calls it`).toContain(action);
  }, 60_000);
});
