import { CfnOutput, Fn, Stack } from 'aws-cdk-lib';
import type { RestoreDrillConfig } from '../config/schema.ts';
import { OUTPUT } from '../cloud/deploymentOutputs.ts';
import type { RestoreDrill } from './restoreDrill.ts';

/**
 * The outputs `restore-drill cloud check` reads after `cdk deploy` (names in lib/cloud/deploymentOutputs.ts):
 * - `<Function>FunctionName` and `<Function>RoleArn` for Plan, Start, Poll, Verify, VerifyInVpc (with
 *   RDS/Aurora), Cleanup, Report, Janitor, and SlackNotifier (with Slack);
 * - `AlarmTopicArn`, and `AlarmNames` (comma-separated);
 * - `SigningKeySecretArn` (and `SigningKeyKmsKeyArn`) when reports are signed;
 * - `Databases` (with `config`): JSON `[{ name, provider, source }]`, source being the RDS instance's or
 *   Aurora cluster's ARN, so that the check simulates a restore against the real source.
 * Each output is added once: calling this again (with the config, say) adds only what is missing.
 */
export function addDeploymentOutputs(stack: Stack, drill: RestoreDrill, config?: RestoreDrillConfig): void {
  const output = (id: string, value: string, description: string) => {
    if (!stack.node.tryFindChild(id)) new CfnOutput(stack, id, { value, description });
  };
  const functions = [...Object.entries(drill.functions), ...(drill.monitoring.notifier ? [['SlackNotifier', drill.monitoring.notifier] as const] : [])];
  for (const [id, f] of functions) {
    output(OUTPUT.functionName(id), f.functionName, `restore-drill ${id} function (restore-drill cloud check invokes Plan)`);
    if (f.role) output(OUTPUT.roleArn(id), f.role.roleArn, `the ${id} function's role (restore-drill cloud check simulates its calls)`);
  }
  if (drill.signingKey) {
    output(OUTPUT.signingKeySecretArn, drill.signingKey.secretArn, 'the secret holding the Ed25519 key the functions sign reports with (restore-drill cloud check simulates reading it)');
    if (drill.signingKey.kmsKeyArn) output(OUTPUT.signingKeyKmsKeyArn, drill.signingKey.kmsKeyArn, 'the KMS key the signing key\'s secret is encrypted with');
  }
  output(OUTPUT.alarmTopicArn, drill.monitoring.alarmTopic.topicArn, 'every restore-drill alarm notifies this topic on ALARM and OK');
  const alarms = [...Object.values(drill.monitoring.alarms), drill.monitoring.runAlarms].flatMap((group) => Object.values(group).filter((alarm) => alarm !== undefined));
  output(OUTPUT.alarmNames, Fn.join(',', alarms.map((alarm) => alarm.alarmName)), 'the restore-drill alarms, comma-separated');
  if (config) {
    const databases = config.databases.map((database) => {
      const provider = database.provider;
      const region = 'region' in provider ? provider.region : stack.region;
      const source =
        provider.kind === 'rds' ? `arn:${stack.partition}:rds:${region}:${stack.account}:db:${provider.instanceId}`
        : provider.kind === 'aurora' ? `arn:${stack.partition}:rds:${region}:${stack.account}:cluster:${provider.clusterId}`
        : undefined;
      return { name: database.name, provider: provider.kind, ...(source ? { source } : {}) };
    });
    output(OUTPUT.databases, stack.toJsonString(databases), 'the drilled databases (JSON): name, provider, source');
  }
}
