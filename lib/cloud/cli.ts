import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { IAMClient } from '@aws-sdk/client-iam';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { ConfigError } from '../errors.ts';
import { runCloudCheck } from './check.ts';
import { formatCloudCheck } from './format.ts';

export interface CloudCheckCommandOptions {
  stack: string;
  region?: string;
  yesTouchAlarms?: boolean;
  json?: boolean;
}

/** The stack's name when cdk.json's context names none (lib/infra: restore-drill:stackName). */
export const DEFAULT_STACK_NAME = 'RestoreDrill';

/**
 * `restore-drill cloud check`: clients with the SDK's usual credentials and region (AWS_ENDPOINT_URL_<SERVICE>
 * points one elsewhere), the check, its text on stdout, progress on stderr. Returns the exit code.
 */
export async function cloudCheckCommand(options: CloudCheckCommandOptions, io: { out: (text: string) => void; err: (line: string) => void }): Promise<number> {
  const settings = options.region ? { region: options.region } : {};
  const cloudFormation = new CloudFormationClient(settings);
  let region: string;
  try {
    region = await cloudFormation.config.region();
  } catch {
    throw new ConfigError('no AWS region: give --region, or set AWS_REGION (or a profile with a region)');
  }
  const result = await runCloudCheck({
    stackName: options.stack,
    region,
    touchAlarms: options.yesTouchAlarms ?? false,
    clients: { cloudFormation, lambda: new LambdaClient({ region }), iam: new IAMClient({ region }), cloudWatch: new CloudWatchClient({ region }) },
    onProgress: (line) => io.err(`restore-drill: ${line}\n`),
  });
  io.out(options.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatCloudCheck(result, { touchAlarms: options.yesTouchAlarms ?? false })}\n`);
  return result.exitCode;
}
