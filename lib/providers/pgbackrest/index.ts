export { pgbackrestProvider, sourceOf, type PgbackrestProviderOptions } from './provider.ts';
export { startRepoCopy, type RepoCopyOptions } from './copy.ts';
export { readRepoWindow, planRepoRestore } from './plan.ts';
export type { PgbackrestSource } from './command.ts';
