/** What a config file imports: `import { defineConfig } from 'restore-drill'` (types and autocompletion). */
export { defineConfig } from './config/schema.ts';
export type { DatabaseConfig, RestoreDrillConfig, RestoreDrillConfigInput } from './config/schema.ts';
