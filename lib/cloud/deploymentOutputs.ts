import type { DrillRole } from '../infra/roleActions.ts';

/**
 * The stack outputs `restore-drill cloud check` reads (lib/infra/outputs.ts writes them). Their names
 * are part of the public API: users read them with `aws cloudformation describe-stacks` too.
 * No CDK here: the CLI reads these without loading aws-cdk-lib.
 */
export const OUTPUT = {
  stateMachineArn: 'StateMachineArn',
  reportsBucketName: 'ReportsBucketName',
  alarmTopicArn: 'AlarmTopicArn',
  /** Every alarm of the stack, comma-separated. */
  alarmNames: 'AlarmNames',
  /** JSON: `[{ "name", "provider", "source"? }]`, source being the RDS instance's or Aurora cluster's ARN. */
  databases: 'Databases',
  /** The secret with the report signing key, and the KMS key it is encrypted with: only when reports are signed. */
  signingKeySecretArn: 'SigningKeySecretArn',
  signingKeyKmsKeyArn: 'SigningKeyKmsKeyArn',
  functionName: (id: string) => `${id}FunctionName`,
  roleArn: (id: string) => `${id}RoleArn`,
} as const;

/** The construct ids of the stack's functions (RestoreDrill's `functions`, and the Slack notifier), with the role whose calls they make. */
export const FUNCTION_ROLES: Readonly<Record<string, DrillRole | undefined>> = {
  Plan: 'plan',
  Start: 'start',
  Poll: 'poll',
  Verify: 'verify',
  VerifyInVpc: 'verifyInVpc',
  Cleanup: 'cleanup',
  Report: 'report',
  Janitor: 'janitor',
  // Reads only the Slack webhook's secret, which the role table does not list.
  SlackNotifier: undefined,
};

export interface DeployedDatabase {
  name: string;
  provider: string;
  /** The RDS instance's or Aurora cluster's ARN. */
  source?: string;
}

export interface DeployedFunction {
  /** The construct id: Plan, Start, ..., SlackNotifier. */
  id: string;
  name: string;
  roleArn: string | undefined;
}

/** What the check knows of a deployment, from its outputs alone. */
export interface Deployment {
  functions: DeployedFunction[];
  alarmNames: string[];
  alarmTopicArn: string | undefined;
  reportsBucketName: string | undefined;
  /** Undefined when the stack has no Databases output. */
  databases: DeployedDatabase[] | undefined;
  /** Undefined when reports are not signed. */
  signingKeySecretArn?: string | undefined;
  signingKeyKmsKeyArn?: string | undefined;
}

/** The deployment as its outputs describe it; the names of expected outputs it lacks. */
export function readDeployment(outputs: readonly { OutputKey?: string | undefined; OutputValue?: string | undefined }[]): { deployment: Deployment; missing: string[] } {
  const values = new Map(outputs.filter((output) => output.OutputKey).map((output) => [output.OutputKey!, output.OutputValue ?? '']));
  const functions: DeployedFunction[] = [];
  for (const [key, value] of values) {
    const id = /^(\w+)FunctionName$/.exec(key)?.[1];
    if (id && value) functions.push({ id, name: value, roleArn: values.get(OUTPUT.roleArn(id)) || undefined });
  }
  const order = Object.keys(FUNCTION_ROLES);
  const rank = (id: string) => (order.includes(id) ? order.indexOf(id) : order.length);
  functions.sort((a, b) => rank(a.id) - rank(b.id) || a.id.localeCompare(b.id));
  const missing = [
    ...(functions.some((f) => f.id === 'Plan') ? [] : [OUTPUT.functionName('Plan')]),
    ...functions.filter((f) => !f.roleArn).map((f) => OUTPUT.roleArn(f.id)),
    ...(values.has(OUTPUT.alarmNames) ? [] : [OUTPUT.alarmNames]),
    ...(values.has(OUTPUT.alarmTopicArn) ? [] : [OUTPUT.alarmTopicArn]),
  ];
  return {
    deployment: {
      functions,
      alarmNames: (values.get(OUTPUT.alarmNames) ?? '').split(',').map((name) => name.trim()).filter(Boolean),
      alarmTopicArn: values.get(OUTPUT.alarmTopicArn) || undefined,
      reportsBucketName: values.get(OUTPUT.reportsBucketName) || undefined,
      databases: parseDatabases(values.get(OUTPUT.databases)),
      signingKeySecretArn: values.get(OUTPUT.signingKeySecretArn) || undefined,
      signingKeyKmsKeyArn: values.get(OUTPUT.signingKeyKmsKeyArn) || undefined,
    },
    missing,
  };
}

function parseDatabases(text: string | undefined): DeployedDatabase[] | undefined {
  if (!text) return undefined;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (!Array.isArray(parsed)) return undefined;
    return parsed.filter((item): item is DeployedDatabase => typeof item === 'object' && item !== null && typeof (item as DeployedDatabase).name === 'string' && typeof (item as DeployedDatabase).provider === 'string');
  } catch {
    return undefined;
  }
}
