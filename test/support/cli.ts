import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..');
/** What `npx restore-drill` runs: package.json's bin, built by npm ci's prepare step (and npm test's pretest). */
export const cliBin = join(repoRoot, 'dist', 'bin', 'cli.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI from the checkout: `npx restore-drill ...` as a user would after npm ci (`via: 'npx'`),
 * the same bin file directly, which spares npm's start-up (`'node'`, the default), or its TypeScript
 * source, which needs no build (`'source'`). `withoutEnv` drops variables of this process (AWS_ ones,
 * say) before `env` is added.
 */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; via?: 'npx' | 'node' | 'source'; cwd?: string; withoutEnv?: RegExp } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const [command, prefix] = options.via === 'npx' ? ['npx', ['--no-install', 'restore-drill']] : [process.execPath, [options.via === 'source' ? join(repoRoot, 'bin', 'cli.ts') : cliBin]];
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !options.withoutEnv?.test(name)));
    const child = spawn(command, [...prefix, ...args], {
      cwd: options.cwd ?? repoRoot,
      env: { ...inherited, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
