import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildSync } from 'esbuild';
import type { MigrationsLayout } from '../checks/ledger.ts';

/**
 * What the schema check runs in the Verify function beside its bundle (lib/checks/schemaKit.ts finds
 * it there as it does beside the checkout): drizzle-kit for each migrations layout the config uses, the
 * drizzle-orm it requires and the `pg` driver its `pull` loads, as a node_modules folder in the asset;
 * and the check's two child-process entries (schemaDiffer, schemaKitAlias) bundled next to index.mjs.
 * Run by esbuild's afterBundling hook as `node verifyKit.ts <asset folder> <layout>...`.
 */

const here = fileURLToPath(import.meta.url);
/** The folder whose node_modules restore-drill was installed with: the checkout, or the project that installed it. */
const checkout = (() => {
  for (let dir = dirname(here); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'node_modules', 'pg', 'package.json'))) return dir;
    if (dir === dirname(dir)) throw new Error(`no node_modules with pg above ${here}: the schema check's Verify asset is made from restore-drill's installed dependencies`);
  }
})();

/**
 * The packages, without their own dependencies: drizzle-kit's (esbuild, tsx, brocli) load TypeScript
 * configs and are bundled into its bin where used; our config is CommonJS, and esbuild's binary would be
 * the deployer's platform, not Lambda's arm64. `pg` is taken with its dependency tree.
 */
const KIT_FILES: Record<MigrationsLayout, string[]> = {
  '0.x': ['drizzle-kit', 'drizzle-orm'],
  '1.x': ['drizzle-kit-v1', 'drizzle-orm-v1'],
};
/** Of the kits, the CLI and the programmatic API the check loads (each a self-contained bundle): not the other dialects' copies, 90 MB in 1.x. */
const KIT_ENTRIES: Record<string, string[]> = {
  'drizzle-kit': ['package.json', 'bin.cjs', 'api.js'],
  'drizzle-kit-v1': ['package.json', 'bin.cjs', 'api-postgres.js'],
};
const WITH_DEPENDENCIES = ['pg'];
/**
 * 0.x's bin requires `esbuild` when it reads a config (tsx's loader, bundled in it), but transforms
 * only TypeScript or ESM: the JavaScript API is enough, without the platform binary it would start.
 */
const REQUIRED_NOT_RUN: Record<string, { from: string; files: string[] }> = { esbuild: { from: 'drizzle-kit', files: ['package.json', 'lib/main.js'] } };

/** Types, source maps and docs: nothing a process loads. */
const SKIPPED = /(\.d\.(c|m)?ts|\.map|\.md)$/;

/** The folder of an installed package, as Node would find it from `from`. */
function packageDir(name: string, from: string): string | null {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === dirname(dir)) return null;
  }
}

function withDependencies(name: string, from: string, found: Set<string>): void {
  const dir = packageDir(name, from);
  if (!dir) throw new Error(`${name} is not installed in ${checkout}: the schema check's Verify asset needs it (npm ci)`);
  if (found.has(dir)) return;
  found.add(dir);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
  for (const dependency of Object.keys(manifest.dependencies ?? {})) withDependencies(dependency, dir, found);
  for (const dependency of Object.keys(manifest.optionalDependencies ?? {})) if (packageDir(dependency, dir)) withDependencies(dependency, dir, found);
}

/** Package folders to copy, each as installed under the checkout. */
export function verifyKitPackages(layouts: readonly MigrationsLayout[]): string[] {
  const found = new Set<string>();
  for (const layout of layouts) {
    for (const name of KIT_FILES[layout]) {
      const dir = packageDir(name, checkout);
      if (!dir) throw new Error(`${name} is not installed in ${checkout}: the schema check's Verify asset needs it (npm ci)`);
      found.add(dir);
    }
  }
  for (const name of WITH_DEPENDENCIES) withDependencies(name, checkout, found);
  return [...found].sort();
}

/** Copies the kit into `assetDir` (node_modules laid out as in the checkout) and bundles the check's child entries beside index.mjs. */
export function addVerifyKit(assetDir: string, layouts: readonly MigrationsLayout[]): void {
  for (const dir of verifyKitPackages(layouts)) {
    const target = join(assetDir, relative(checkout, dir));
    const entries = KIT_ENTRIES[relative(join(checkout, 'node_modules'), dir)];
    if (entries) {
      mkdirSync(target, { recursive: true });
      for (const name of entries) cpSync(join(dir, name), join(target, name));
      continue;
    }
    cpSync(dir, target, {
      recursive: true,
      // A package's own node_modules holds its dependencies: taken (or not) by verifyKitPackages.
      filter: (path) => {
        const inside = relative(dir, path).split(sep);
        return !inside.includes('node_modules') && !SKIPPED.test(path);
      },
    });
  }
  if (layouts.includes('0.x')) {
    for (const [name, { from, files }] of Object.entries(REQUIRED_NOT_RUN)) {
      const dir = packageDir(name, packageDir(from, checkout)!);
      if (!dir) throw new Error(`${name} is not installed beside ${from} in ${checkout}: the schema check's Verify asset needs it (npm ci)`);
      for (const file of files) {
        mkdirSync(dirname(join(assetDir, relative(checkout, dir), file)), { recursive: true });
        cpSync(join(dir, file), join(assetDir, relative(checkout, dir), file));
      }
    }
  }
  for (const name of ['schemaDiffer', 'schemaKitAlias']) {
    buildSync({
      entryPoints: [join(dirname(here), '..', 'checks', `${name}${extname(here)}`)],
      outfile: join(assetDir, `${name}.mjs`),
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node24',
      minify: true,
      logLevel: 'warning',
      banner: { js: "import { createRequire as __rdCreateRequire } from 'node:module'; const require = __rdCreateRequire(import.meta.url);" },
    });
  }
}

/** Bytes under a folder, for the size check against Lambda's 250 MB unzipped limit. */
export function folderBytes(dir: string): number {
  let bytes = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) bytes += statSync(join(entry.parentPath, entry.name)).size;
  }
  return bytes;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [assetDir, ...layouts] = process.argv.slice(2);
  if (!assetDir || layouts.length === 0 || layouts.some((layout) => layout !== '0.x' && layout !== '1.x')) {
    console.error('usage: node verifyKit.ts <asset folder> <0.x|1.x>...');
    process.exit(2);
  }
  mkdirSync(assetDir, { recursive: true });
  addVerifyKit(assetDir, layouts as MigrationsLayout[]);
}
