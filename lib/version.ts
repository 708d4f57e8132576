import { readFileSync } from 'node:fs';

/** restore-drill's own version, from package.json (one level above lib/ in the checkout and in dist/). */
export const toolVersion: string = (() => {
  for (const candidate of ['../package.json', '../../package.json']) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(candidate, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'restore-drill' && manifest.version) return manifest.version;
    } catch {
      // try the next location
    }
  }
  return 'unknown';
})();
