import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The package's root folder, from lib/ in the checkout or dist/lib/ once built. */
export const packageRoot: string = (() => {
  for (let dir = import.meta.dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'restore-drill') return dir;
  }
  throw new Error(`cannot find restore-drill's package.json above ${import.meta.dirname}`);
})();
