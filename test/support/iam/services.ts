import type { AuthorizationAnswer, AuthorizationRequest } from './types.ts';

/**
 * Secrets Manager's GetSecretValue: authorised against the secret's full ARN (whatever form SecretId
 * takes), with secretsmanager:SecretId as the caller wrote it, the version asked for, and the secret's
 * tags. (The reference also lists secretsmanager:ResourceTag/<key>; iam-simulate cannot type that key,
 * so only aws:ResourceTag/<key> is sent.)
 */
export function getSecretValueAuthorization(
  input: { SecretId?: string; VersionStage?: string; VersionId?: string },
  secret: { arn: string; tags?: readonly { Key: string; Value: string }[] } | undefined,
  where: { region: string; accountId: string; partition?: string },
): AuthorizationRequest {
  const id = input.SecretId ?? '';
  const resource = secret?.arn ?? (id.startsWith('arn:') ? id : `arn:${where.partition ?? 'aws'}:secretsmanager:${where.region}:${where.accountId}:secret:${id}`);
  const context: Record<string, string> = { 'secretsmanager:SecretId': id };
  if (input.VersionStage) context['secretsmanager:VersionStage'] = input.VersionStage;
  if (input.VersionId) context['secretsmanager:VersionId'] = input.VersionId;
  for (const tag of secret?.tags ?? []) context[`aws:ResourceTag/${tag.Key}`] = tag.Value;
  return { action: 'secretsmanager:GetSecretValue', resource, context };
}

/** S3 objects: s3:GetObject / s3:PutObject on `arn:aws:s3:::bucket/key`. */
export function s3ObjectAuthorization(action: 's3:GetObject' | 's3:PutObject', bucket: string, key: string, partition = 'aws'): AuthorizationRequest {
  return { action, resource: `arn:${partition}:s3:::${bucket}/${key}`, context: {} };
}

/** ListObjectsV2 is s3:ListBucket on the bucket, with s3:prefix, s3:delimiter and s3:max-keys as the request sets them. */
export function s3ListAuthorization(bucket: string, query: URLSearchParams, partition = 'aws'): AuthorizationRequest {
  const context: Record<string, string> = {};
  for (const [parameter, key] of [['prefix', 's3:prefix'], ['delimiter', 's3:delimiter'], ['max-keys', 's3:max-keys']] as const) {
    const value = query.get(parameter);
    if (value !== null) context[key] = value;
  }
  return { action: 's3:ListBucket', resource: `arn:${partition}:s3:::${bucket}`, context };
}

/** CloudWatch's PutMetricData takes no resource (`*`); its one key is the namespace. */
export function putMetricDataAuthorization(namespace: string): AuthorizationRequest {
  return { action: 'cloudwatch:PutMetricData', resource: '*', context: { 'cloudwatch:namespace': namespace } };
}

/**
 * A refusal as CloudWatch puts it on the wire for the SDK's AWS JSON 1.0 protocol (awsQueryCompatible:
 * the query error code travels in x-amzn-query-error). For a stand-in of CloudWatch in a test.
 */
export function cloudWatchRefusal(answer: Extract<AuthorizationAnswer, { allowed: false }>): { status: number; headers: Record<string, string>; body: string } {
  const code = answer.code === 'InvalidClientTokenId' ? 'InvalidClientTokenId' : 'AccessDenied';
  const type = answer.code === 'InvalidClientTokenId' ? 'UnrecognizedClientException' : 'AccessDeniedException';
  return {
    status: answer.code === 'InvalidClientTokenId' ? 403 : 400,
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-query-error': `${code};Sender` },
    body: JSON.stringify({ __type: `com.amazonaws.cloudwatch#${type}`, message: answer.message }),
  };
}
