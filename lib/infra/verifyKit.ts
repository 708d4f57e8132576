import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildSync } from 'esbuild';
import type { MigrationsLayout } from '../checks/ledger.ts';

/**
 * What the schema check runs in the Verify function beside its bundle (lib/checks/schemaKit.ts finds
 * it there as it finds it beside the checkout): drizzle-kit for each migrations layout the config uses,
 * the drizzle-orm it requires and the `pg` driver its `pull` loads, in a node_modules folder of the
 * asset; and the check's two child-process entries (schemaDiffer, schemaKitAlias) bundled next to
 * index.mjs. Run by esbuild's afterBundling hook (bundling.ts) as `node verifyKit.ts <asset folder> <layout>...`.
 */

const here = fileURLToPath(import.meta.url);

/**
 * The packages, without their own dependencies: drizzle-kit's (esbuild, tsx, brocli) are bundled into
 * its bin, and our config is CommonJS, which they leave alone. `pg` comes with its dependency tree.
 */
const KITS: Record<MigrationsLayout, { kit: string; orm: string; entries: string[] }> = {
  // Of a kit, its CLI and the programmatic API the check loads, each self-contained: not the other dialects' copies (90 MB in 1.x).
  '0.x': { kit: 'drizzle-kit', orm: 'drizzle-orm', entries: ['package.json', 'bin.cjs', 'api.js'] },
  '1.x': { kit: 'drizzle-kit-v1', orm: 'drizzle-orm-v1', entries: ['package.json', 'bin.cjs', 'api-postgres.js'] },
};
const DRIVER = 'pg';
/**
 * 0.x's bin requires `esbuild` as it reads a config (tsx's loader, bundled in it) but transforms only
 * TypeScript or ESM: its JavaScript API is enough, without the platform binary (the deployer's, not
 * Lambda's arm64) it would start.
 */
const REQUIRED_NOT_RUN = { name: 'esbuild', by: 'drizzle-kit', files: ['package.json', 'lib/main.js'] };

/** Types, source maps and docs: nothing a process loads. */
const SKIPPED = /(\.d\.(c|m)?ts|\.map|\.md)$/;

function missing(name: string, from: string): Error {
  return new Error(`${name} is not installed where ${from} can load it: the schema check's Verify asset is made from restore-drill's installed dependencies (npm ci)`);
}

/** The folder of an installed package, as Node finds it from `from`. */
function packageDir(name: string, from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === dirname(dir)) throw missing(name, from);
  }
}

/** `name` and its dependencies (optional ones when installed), by name: laid out flat, as npm would. */
function withDependencies(name: string, from: string, found: Map<string, string>): void {
  const dir = packageDir(name, from);
  const known = found.get(name);
  if (known === dir) return;
  if (known) throw new Error(`two versions of ${name} (${known}, ${dir}) would go beside the Verify bundle: dedupe them (npm dedupe)`);
  found.set(name, dir);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
  for (const dependency of Object.keys(manifest.dependencies ?? {})) withDependencies(dependency, dir, found);
  for (const dependency of Object.keys(manifest.optionalDependencies ?? {})) {
    if (tryPackageDir(dependency, dir)) withDependencies(dependency, dir, found);
  }
}

function tryPackageDir(name: string, from: string): string | null {
  try {
    return packageDir(name, from);
  } catch {
    return null;
  }
}

function copyPackage(dir: string, target: string): void {
  cpSync(dir, target, {
    recursive: true,
    // A package's own node_modules holds its dependencies: taken (or not) by withDependencies.
    filter: (path) => !relative(dir, path).split(sep).includes('node_modules') && !SKIPPED.test(path),
  });
}

/** Copies the kit for `layouts` into `assetDir`'s node_modules and bundles the check's child entries beside index.mjs. */
export function addVerifyKit(assetDir: string, layouts: readonly MigrationsLayout[]): void {
  const modules = join(assetDir, 'node_modules');
  const from = dirname(here);
  for (const layout of layouts) {
    const { kit, orm, entries } = KITS[layout];
    const kitDir = packageDir(kit, from);
    mkdirSync(join(modules, kit), { recursive: true });
    for (const entry of entries) cpSync(join(kitDir, entry), join(modules, kit, entry));
    copyPackage(packageDir(orm, from), join(modules, orm));
    if (kit === REQUIRED_NOT_RUN.by) {
      const dir = packageDir(REQUIRED_NOT_RUN.name, kitDir);
      for (const file of REQUIRED_NOT_RUN.files) {
        const target = join(modules, kit, 'node_modules', REQUIRED_NOT_RUN.name, file);
        mkdirSync(dirname(target), { recursive: true });
        cpSync(join(dir, file), target);
      }
    }
  }
  const driver = new Map<string, string>();
  withDependencies(DRIVER, from, driver);
  for (const [name, dir] of driver) copyPackage(dir, join(modules, name));
  for (const name of ['schemaDiffer', 'schemaKitAlias']) {
    buildSync({
      entryPoints: [join(from, '..', 'checks', `${name}${extname(here)}`)],
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

/** Bytes under a folder, for Lambda's 250 MB unzipped limit. */
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
  addVerifyKit(assetDir, layouts as MigrationsLayout[]);
}
