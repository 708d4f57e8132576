import { z } from 'zod';
import { describeIssue } from '../config/load.ts';
import type { RestoreDrillConfig } from '../config/schema.ts';
import { readSchedule } from './schedule.ts';

const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+$/;

/** The cloud settings bin/app.ts reads next to the config file (cdk.json context `restore-drill:cloud`). */
/** The longest wait, in seconds, between two polls of a copy being restored (earlier waits are shorter: nextPollWaitSeconds). */
export const POLL_INTERVAL_SECONDS = { min: 10, max: 3600, default: 60 } as const;

export const cloudSettingsSchema = z
  .object({
    /** One EventBridge Scheduler schedule per drill group. */
    schedules: z
      .array(
        z
          .object({
            name: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,39}$/, { message: 'letters, digits and hyphens, starting with a letter, at most 40 characters' }),
            /** An EventBridge Scheduler expression: `cron(0 3 * * ? *)` or `rate(1 day)`. */
            expression: z.string().superRefine(scheduleExpressionIssue),
            /** IANA time zone the cron expression is read in. @default 'UTC' */
            timeZone: z.string().min(1).default('UTC'),
            /** The databases this group drills. @default every configured database */
            databases: z.array(z.string()).min(1).optional(),
          })
          .strict(),
      )
      .min(1, { message: 'at least one schedule is needed' }),
    /** For RDS and Aurora copies: the VPC, its private subnets (two AZs at least) and their AZs. No lookup: synth needs no account. */
    vpc: z
      .object({
        vpcId: z.string().regex(/^vpc-[0-9a-f]+$/, { message: 'expected a VPC id such as vpc-0123abcd' }),
        subnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]+$/, { message: 'expected a subnet id such as subnet-0123abcd' })).min(2, { message: 'RDS needs subnets in two availability zones at least' }),
        availabilityZones: z.array(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+[a-z]$/, { message: 'expected an availability zone such as eu-west-1a' })).min(2),
      })
      .strict()
      .optional(),
    pollIntervalSeconds: z.number().int().min(POLL_INTERVAL_SECONDS.min).max(POLL_INTERVAL_SECONDS.max).default(POLL_INTERVAL_SECONDS.default),
    /** Map concurrency. @default the config's `concurrency` */
    mapConcurrency: z.number().int().min(1).max(40).optional(),
    /** Secrets Manager secret holding the Slack incoming webhook URL. @default no Slack messages */
    slackWebhookSecretArn: z.string().regex(/^arn:aws[a-z-]*:secretsmanager:/, { message: 'expected a Secrets Manager secret ARN' }).optional(),
    /**
     * Secrets Manager secret holding the Ed25519 private key (PKCS#8 PEM, or JSON `{"privateKey": "<PEM>"}`)
     * that signs every report the functions write; its public key is what `verify-report` checks against.
     * @default reports are not signed
     */
    signingKeySecretArn: z.string().regex(SECRET_ARN, { message: "expected a secret's ARN: arn:aws:secretsmanager:<region>:<account>:secret:<name>" }).optional(),
    /** The customer managed KMS key the signing key's secret is encrypted with. @default the account's aws/secretsmanager key (no grant needed) */
    signingKeyKmsKeyArn: z.string().regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[\w-]+$/, { message: 'expected a KMS key ARN: arn:aws:kms:<region>:<account>:key/<key id> (not an alias)' }).optional(),
    logRetentionDays: z.number().int().positive().default(30),
    /** How long reports are kept in the bucket; with reportObjectLock, how long each version cannot be deleted. */
    reportRetentionDays: z.number().int().positive().default(400),
    /**
     * S3 Object Lock on the reports bucket: every version of every object is retained for
     * reportRetentionDays. `governance` (the default): only a caller holding s3:BypassGovernanceRetention,
     * with the bypass header, can delete one early; `compliance`: no one can, the account's root included.
     * Once on, the bucket's Object Lock cannot be turned off.
     * @default no Object Lock
     */
    reportObjectLock: z.object({ mode: z.enum(['governance', 'compliance']).default('governance') }).strict().optional(),
    /** How often the janitor removes expired copies. */
    janitorExpression: z.string().superRefine(scheduleExpressionIssue).default('rate(1 hour)'),
    /**
     * The alarms' "no drill result" watches for silence over two of these.
     * @default - per database, the longest time between two runs of the schedules that drill it
     */
    schedulePeriodSeconds: z.number().int().min(60).optional(),
  })
  .strict();

/** Lambda's limit, which the verify function runs at. */
export const VERIFY_TIMEOUT_SECONDS = 900;
/** A check query may take at most this long in the cloud: one query must leave Verify time to connect and return. */
const MAX_CLOUD_STATEMENT_TIMEOUT_MS = (VERIFY_TIMEOUT_SECONDS - 60) * 1000;

function scheduleExpressionIssue(expression: string, context: z.RefinementCtx): void {
  const reading = readSchedule(expression);
  if (!reading.ok) context.addIssue({ code: 'custom', message: reading.problem });
}

export type CloudSettingsInput = z.input<typeof cloudSettingsSchema>;
export type CloudSettings = z.output<typeof cloudSettingsSchema>;

/** Every problem of the settings and of the config as the cloud sees it, all at once. */
export function cloudProblems(config: RestoreDrillConfig, settings: unknown): { settings?: CloudSettings; problems: string[] } {
  const problems: string[] = [];
  const parsed = cloudSettingsSchema.safeParse(settings);
  if (!parsed.success) {
    problems.push(...settingsIssues(parsed.error.issues));
  }
  for (const database of config.databases) {
    if (database.provider.kind === 'local') problems.push(`databases.${database.name}: the local provider does not run in the cloud: use rds, aurora or neon`);
    if (database.provider.kind === 'pgbackrest') problems.push(`databases.${database.name}: the pgbackrest provider restores on the machine that runs restore-drill, not in the cloud: run it with the CLI there`);
    if (database.provider.kind === 'neon' && 'env' in database.provider.apiKey) {
      problems.push(`databases.${database.name}.provider.apiKey: in the cloud the Neon API key comes from Secrets Manager: { "secretArn": "arn:aws:secretsmanager:..." }`);
    }
    if (database.source?.passwordEnv) problems.push(`databases.${database.name}.source.passwordEnv: in the cloud use source.passwordSecretArn`);
    for (const [key, arn] of secretArnsOf(database)) {
      if (!SECRET_ARN.test(arn)) problems.push(`databases.${database.name}.${key}: "${arn}" is not a secret's ARN: give arn:aws:secretsmanager:<region>:<account>:secret:<name> (IAM grants need the ARN, not the name)`);
    }
    if (database.checks.statementTimeoutMs > MAX_CLOUD_STATEMENT_TIMEOUT_MS) {
      problems.push(
        `databases.${database.name}.checks.statementTimeoutMs: ${database.checks.statementTimeoutMs} ms does not fit the verify function's ${VERIFY_TIMEOUT_SECONDS / 60}-minute limit; at most ${MAX_CLOUD_STATEMENT_TIMEOUT_MS}`,
      );
    }
  }
  const regions = awsRegionsOf(config);
  if (regions.length > 1) problems.push(`databases: the RDS and Aurora sources are in ${regions.join(' and ')}; one stack drills one region (its VPC is there): deploy one stack per region`);
  const names = new Set(config.databases.map((database) => database.name));
  const hasAws = config.databases.some((database) => database.provider.kind === 'rds' || database.provider.kind === 'aurora');
  if (parsed.success) {
    const seen = new Set<string>();
    for (const schedule of parsed.data.schedules) {
      if (seen.has(schedule.name)) problems.push(`schedules.${schedule.name}: two schedules have this name`);
      seen.add(schedule.name);
      for (const name of schedule.databases ?? []) if (!names.has(name)) problems.push(`schedules.${schedule.name}.databases: no database named ${name}; configured: ${[...names].join(', ')}`);
      try {
        Intl.DateTimeFormat('en', { timeZone: schedule.timeZone });
      } catch {
        problems.push(`schedules.${schedule.name}.timeZone: "${schedule.timeZone}" is not an IANA time zone such as Europe/Berlin`);
      }
    }
    if (hasAws && !parsed.data.vpc) problems.push('vpc: RDS and Aurora copies need { vpcId, subnetIds, availabilityZones } (private subnets of the sources\' VPC)');
    if (parsed.data.vpc && regions.length === 1) {
      const elsewhere = parsed.data.vpc.availabilityZones.filter((zone) => !zone.startsWith(regions[0]!));
      if (elsewhere.length) problems.push(`vpc.availabilityZones: ${elsewhere.join(', ')} not in ${regions[0]}, where the sources are`);
    }
    for (const database of config.databases) {
      if (!parsed.data.schedules.some((schedule) => !schedule.databases || schedule.databases.includes(database.name))) {
        problems.push(`schedules: no schedule drills ${database.name}; add it to a schedule's databases, or leave databases out to drill every database`);
      }
    }
    if (parsed.data.signingKeyKmsKeyArn && !parsed.data.signingKeySecretArn) problems.push('signingKeyKmsKeyArn: the key of the signing key\'s secret, given without signingKeySecretArn: give both, or neither');
    if (parsed.data.vpc && parsed.data.vpc.subnetIds.length !== parsed.data.vpc.availabilityZones.length) {
      problems.push('vpc.availabilityZones: give one per subnet id, in the same order');
    }
  }
  return parsed.success ? { settings: parsed.data, problems } : { problems };
}

/** Problems of the settings' shape, worded and pathed as the config file's are. */
export function settingsIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.flatMap((issue) => describeIssue(issue, cloudSettingsSchema));
}

/** The one region of the RDS and Aurora sources (the stack's VPC is there), or several: a problem. */
export function awsRegionsOf(config: RestoreDrillConfig): string[] {
  return [...new Set(config.databases.flatMap((database) => (database.provider.kind === 'rds' || database.provider.kind === 'aurora' ? [database.provider.region] : [])))];
}

function secretArnsOf(database: RestoreDrillConfig['databases'][number]): [string, string][] {
  const provider = database.provider;
  return [
    ...((provider.kind === 'rds' || provider.kind === 'aurora') && 'secretArn' in provider.credentials ? [['provider.credentials.secretArn', provider.credentials.secretArn] as [string, string]] : []),
    ...(provider.kind === 'neon' && 'secretArn' in provider.apiKey ? [['provider.apiKey.secretArn', provider.apiKey.secretArn] as [string, string]] : []),
    ...(database.source?.passwordSecretArn ? [['source.passwordSecretArn', database.source.passwordSecretArn] as [string, string]] : []),
  ];
}

/**
 * How long each database may go without a drill before "no drill result" counts as silence: the
 * setting when given, else the longest gap between runs of the schedules that drill it (the most
 * frequent one, when several do).
 */
export function drillPeriodsOf(config: RestoreDrillConfig, settings: CloudSettings): Map<string, number> {
  const periods = new Map<string, number>();
  for (const database of config.databases) {
    const gaps = settings.schedules
      .filter((schedule) => !schedule.databases || schedule.databases.includes(database.name))
      .map((schedule) => readSchedule(schedule.expression))
      .flatMap((reading) => (reading.ok ? [reading.longestGapSeconds] : []));
    periods.set(database.name, settings.schedulePeriodSeconds ?? Math.min(...gaps));
  }
  return periods;
}
