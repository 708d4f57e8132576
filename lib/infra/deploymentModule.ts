import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stage } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { packDeployment, type DeploymentBundle } from '../config/deployment.ts';
import type { RestoreDrillConfig } from '../config/schema.ts';

/**
 * Writes a module exporting `__RESTORE_DRILL_DEPLOYMENT__`, for esbuild's `inject`: every use of that
 * name in the functions (lib/drill/lambdaDependencies.ts) becomes this value. Named by its content,
 * so an unchanged config gives byte-identical bundles.
 */
export function writeDeploymentModule(dir: string, bundle: DeploymentBundle): string {
  const text = `export const __RESTORE_DRILL_DEPLOYMENT__ = ${JSON.stringify(bundle)};\n`;
  const path = join(dir, `deployment-${createHash('sha256').update(text).digest('hex').slice(0, 16)}.mjs`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path, text);
  return path;
}

/** The two variants the stack injects, in its cloud assembly folder: with the migrations (Verify) and without. */
export function deploymentModules(scope: Construct, config: RestoreDrillConfig): { withMigrations: string; withoutMigrations: string } {
  const dir = join(Stage.of(scope)!.outdir, 'restore-drill');
  return {
    withMigrations: writeDeploymentModule(dir, packDeployment(config, { withMigrations: true })),
    withoutMigrations: writeDeploymentModule(dir, packDeployment(config, { withMigrations: false })),
  };
}
