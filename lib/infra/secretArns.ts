import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';

/** A complete ARN ends in the six random characters Secrets Manager adds to the name; a partial one does not. */
const COMPLETE = /-[A-Za-z0-9]{6}$/;

/** The IAM resources that match a secret given by its complete or its partial ARN. */
export function secretResources(arn: string): string[] {
  return COMPLETE.test(arn) ? [arn] : [`${arn}-??????`];
}

/** The secret as a construct, by the same rule (a partial ARN read as complete would be granted nothing). */
export function importSecret(scope: Construct, id: string, arn: string): secretsmanager.ISecret {
  return COMPLETE.test(arn) ? secretsmanager.Secret.fromSecretCompleteArn(scope, id, arn) : secretsmanager.Secret.fromSecretPartialArn(scope, id, arn);
}
