/**
 * Regenerates the demo's Drizzle migrations (demo/drizzle) with the real drizzle-kit, one
 * `drizzle-kit generate` per schema step, as a team would over two deploys.
 * Run with `npm run demo:migrations` and commit the output.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
rmSync(join(root, 'demo', 'drizzle'), { recursive: true, force: true });
for (const step of readdirSync(join(root, 'demo', 'schema')).sort()) {
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'drizzle-kit', 'bin.cjs'), 'generate', '--dialect', 'postgresql', '--schema', `demo/schema/${step}`, '--out', 'demo/drizzle', '--name', step.replace(/^\d+_/, '').replace('.ts', '')],
    { cwd: root, stdio: 'inherit' },
  );
}
