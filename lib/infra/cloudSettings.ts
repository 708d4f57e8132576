import { z } from 'zod';
import type { RestoreDrillConfig } from '../config/schema.ts';

/** The cloud settings bin/app.ts reads next to the config file (cdk.json context `restore-drill:cloud`). */
export const cloudSettingsSchema = z
  .object({
    /** One EventBridge Scheduler schedule per drill group. */
    schedules: z
      .array(
        z
          .object({
            name: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,39}$/, { message: 'letters, digits and hyphens, starting with a letter, at most 40 characters' }),
            /** An EventBridge Scheduler expression: `cron(0 3 * * ? *)` or `rate(1 day)`. */
            expression: z.string().regex(/^(cron|rate)\(.+\)$/, { message: 'expected cron(...) or rate(...), e.g. cron(0 3 * * ? *)' }),
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
    pollIntervalSeconds: z.number().int().min(10).max(3600).default(60),
    /** Map concurrency. @default the config's `concurrency` */
    mapConcurrency: z.number().int().min(1).max(40).optional(),
    /** Secrets Manager secret holding the Slack incoming webhook URL. @default no Slack messages */
    slackWebhookSecretArn: z.string().regex(/^arn:aws[a-z-]*:secretsmanager:/, { message: 'expected a Secrets Manager secret ARN' }).optional(),
    logRetentionDays: z.number().int().positive().default(30),
    /** How long reports are kept in the bucket. */
    reportRetentionDays: z.number().int().positive().default(400),
    /** How often the janitor removes expired copies. */
    janitorExpression: z.string().regex(/^(cron|rate)\(.+\)$/).default('rate(1 hour)'),
    /** The alarms' "no drill result" watches for silence over two of these. */
    schedulePeriodSeconds: z.number().int().positive().default(86_400),
  })
  .strict();

/** Lambda's limit, which the verify function runs at. */
export const VERIFY_TIMEOUT_SECONDS = 900;
/** A check query may take at most this long in the cloud: one query must leave Verify time to connect and return. */
const MAX_CLOUD_STATEMENT_TIMEOUT_MS = (VERIFY_TIMEOUT_SECONDS - 60) * 1000;

export type CloudSettingsInput = z.input<typeof cloudSettingsSchema>;
export type CloudSettings = z.output<typeof cloudSettingsSchema>;

/** Every problem of the settings and of the config as the cloud sees it, all at once. */
export function cloudProblems(config: RestoreDrillConfig, settings: unknown): { settings?: CloudSettings; problems: string[] } {
  const problems: string[] = [];
  const parsed = cloudSettingsSchema.safeParse(settings);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.map(String).join('.') || '(cloud settings)'}: ${issue.message}`);
  }
  for (const database of config.databases) {
    if (database.provider.kind === 'local') problems.push(`databases.${database.name}: the local provider does not run in the cloud: use rds, aurora or neon`);
    if (database.provider.kind === 'neon' && 'env' in database.provider.apiKey) {
      problems.push(`databases.${database.name}.provider.apiKey: in the cloud the Neon API key comes from Secrets Manager: { "secretArn": "arn:aws:secretsmanager:..." }`);
    }
    if (database.source?.passwordEnv) problems.push(`databases.${database.name}.source.passwordEnv: in the cloud use source.passwordSecretArn`);
    if (database.checks.statementTimeoutMs > MAX_CLOUD_STATEMENT_TIMEOUT_MS) {
      problems.push(
        `databases.${database.name}.checks.statementTimeoutMs: ${database.checks.statementTimeoutMs} ms does not fit the verify function's ${VERIFY_TIMEOUT_SECONDS / 60}-minute limit; at most ${MAX_CLOUD_STATEMENT_TIMEOUT_MS}`,
      );
    }
  }
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
    if (parsed.data.vpc && parsed.data.vpc.subnetIds.length !== parsed.data.vpc.availabilityZones.length) {
      problems.push('vpc.availabilityZones: give one per subnet id, in the same order');
    }
  }
  return parsed.success ? { settings: parsed.data, problems } : { problems };
}
