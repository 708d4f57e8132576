import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './packageRoot.ts';

/** Put into each Lambda bundle by esbuild's `define` (lambdaBundling): nothing lies above /var/task to read it from. */
declare const __RESTORE_DRILL_VERSION__: string | undefined;

export const toolVersion: string =
  typeof __RESTORE_DRILL_VERSION__ === 'string' ? __RESTORE_DRILL_VERSION__ : (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
