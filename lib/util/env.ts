import { ConfigError } from '../errors.ts';

/** An environment variable that must be set; the error names it (never a value: some are secrets' names). */
export function requiredEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === '') throw new ConfigError(`the environment variable ${name} is not set`);
  return value;
}
