import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

let found: string | undefined;

/**
 * The package's root folder, from lib/ in the checkout or dist/lib/ once built. Looked up at the
 * first call, never at import: a Lambda bundle has nothing above it, and must not fail at init.
 */
export function packageRoot(): string {
  if (found) return found;
  for (let dir = import.meta.dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'restore-drill') return (found = dir);
  }
  throw new Error(`cannot find restore-drill's package.json above ${import.meta.dirname}`);
}
