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
 * or the same bin file directly, which spares npm's start-up.
 */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; via?: 'npx' | 'node' } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const [command, prefix] = options.via === 'npx' ? ['npx', ['--no-install', 'restore-drill']] : [process.execPath, [cliBin]];
    const child = spawn(command, [...prefix, ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...options.env },
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
