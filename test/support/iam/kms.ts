import type { AuthorizationRequest, PolicyDocument } from './types.ts';

/**
 * The default key policy KMS gives a customer-managed key: the account's root, that is the account's
 * IAM policies, may use it. KMS allows a call only when the key policy does too.
 */
export function defaultKeyPolicy(accountId: string, partition = 'aws'): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:${partition}:iam::${accountId}:root` }, Action: 'kms:*', Resource: '*' } as never],
  };
}

/**
 * What KMS authorises when RDS uses a customer-managed key on the caller's behalf (a restore of an
 * encrypted source): kms:CreateGrant (the grant RDS keeps for the copy's storage, for an AWS resource)
 * and kms:DescribeKey, both with kms:ViaService = rds.<region>.amazonaws.com and kms:CallerAccount,
 * under the key's own policy.
 */
export function kmsAuthorizations(keyArn: string, context: { 'kms:ViaService': string; 'kms:CallerAccount': string }, keyPolicy = defaultKeyPolicy(context['kms:CallerAccount'])): AuthorizationRequest[] {
  return [
    { action: 'kms:CreateGrant', resource: keyArn, context: { ...context, 'kms:GrantIsForAWSResource': 'true' }, resourcePolicy: keyPolicy },
    { action: 'kms:DescribeKey', resource: keyArn, context, resourcePolicy: keyPolicy },
  ];
}
