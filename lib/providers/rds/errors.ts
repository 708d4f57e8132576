import { RestoreDrillError, RestoreFailedError, type FailureKind } from '../../errors.ts';

/** An AWS API call that failed, explained for the person on call; `code` is AWS's error code. */
export class AwsApiError extends RestoreDrillError {
  readonly code: string;

  constructor(kind: FailureKind, code: string, message: string, options?: { cause?: unknown }) {
    super(kind, message, options);
    this.name = 'AwsApiError';
    this.code = code;
  }
}

export interface CallContext {
  /** The API action, e.g. RestoreDBInstanceToPointInTime. */
  action: string;
  /** What it was about, for the message: `DB instance "app-prod"`. */
  resource: string;
  region: string;
  endpoint?: string | undefined;
}

const ACCESS = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'AuthorizationError', 'NotAuthorized', 'UnauthorizedException']);
const CREDENTIALS = new Set(['InvalidClientTokenId', 'UnrecognizedClientException', 'ExpiredToken', 'ExpiredTokenException', 'SignatureDoesNotMatch', 'IncompleteSignature', 'CredentialsProviderError', 'MissingAuthenticationToken']);
const THROTTLING = new Set(['Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException']);
const BAD_REQUEST = new Set(['InvalidParameterValue', 'InvalidParameterCombination', 'MissingParameter', 'DBSubnetGroupNotFoundFault', 'InvalidVPCNetworkStateFault', 'InvalidSubnet', 'DBSubnetGroupDoesNotCoverEnoughAZs', 'StorageTypeNotSupported', 'InvalidDBSubnetGroupStateFault']);
/** Quota codes and the quota each names (Service Quotas, Amazon RDS). */
const QUOTAS: Record<string, string> = {
  InstanceQuotaExceeded: 'DB instances quota',
  StorageQuotaExceeded: 'total storage quota (allocated storage of all DB instances)',
  DBClusterQuotaExceeded: 'DB clusters quota',
};
const NETWORK = /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|EAI_AGAIN|socket hang up/;

/** AWS's code of an SDK error: the wire code where the SDK kept it, else the exception's name without `Fault`. */
export function awsErrorCode(error: unknown): string {
  const e = error as { Code?: string; name?: string; code?: string };
  return e.Code ?? e.name ?? e.code ?? 'Error';
}

export function isAwsError(error: unknown, ...codes: string[]): boolean {
  const code = awsErrorCode(error);
  return codes.some((wanted) => code === wanted || code === `${wanted}Fault` || `${code}Fault` === wanted);
}

/** Turns an SDK error into one of ours, with a message that names the value and what to do. */
export function explainAwsError(error: unknown, context: CallContext): Error {
  if (error instanceof RestoreDrillError) return error;
  const code = awsErrorCode(error);
  const message = (error as Error).message ?? String(error);
  const attempts = (error as { $metadata?: { attempts?: number } }).$metadata?.attempts;
  const where = `${context.action} on ${context.resource} in ${context.region}`;
  if (isAwsError(error, 'DBInstanceNotFound')) {
    return new AwsApiError('input', code, `RDS has no ${context.resource} in ${context.region} (${context.action}: DBInstanceNotFound). Check the identifier and provider.region, and that these AWS credentials belong to the account that owns it.`, { cause: error });
  }
  if (isAwsError(error, 'DBClusterNotFoundFault')) {
    return new AwsApiError('input', code, `RDS has no ${context.resource} in ${context.region} (${context.action}: DBClusterNotFoundFault). Check provider.clusterId and provider.region, and that these AWS credentials belong to the account that owns it.`, { cause: error });
  }
  if (isAwsError(error, 'InvalidRestoreFault', 'PointInTimeRestoreNotEnabled')) {
    return new RestoreFailedError(`RDS refused to restore ${context.resource}: ${message} (${code}). Check the source's automated backups (retention period) and the restore window.`, { cause: error });
  }
  if (isAwsError(error, 'KMSKeyNotAccessibleFault')) {
    return new AwsApiError(
      'input',
      code,
      `RDS could not use the KMS key of ${context.resource} in ${context.region} (${context.action}: KMSKeyNotAccessibleFault: ${message}). The caller needs kms:CreateGrant and kms:DescribeKey on the source's key through RDS (condition kms:ViaService = rds.${context.region}.amazonaws.com), and the key must be enabled: name it in provider.kmsKeyId (the stack then grants Start exactly that).`,
      { cause: error },
    );
  }
  const quota = QUOTAS[code] ?? QUOTAS[code.replace(/Fault$/, '')];
  if (quota) {
    return new AwsApiError('input', code, `RDS refused ${where}: ${message} (${code}). The account's ${quota} is used up: copies count against it too. Remove leftover copies (restore-drill janitor), run fewer drills at once (concurrency), or raise the quota in Service Quotas (Amazon RDS).`, { cause: error });
  }
  if (isAwsError(error, 'InsufficientDBInstanceCapacity')) {
    return new AwsApiError('tool', code, `AWS has no capacity for ${where} right now (${code}: ${message}). Try again later, or pick another class in provider.instanceClass (or provider.subnetGroup with other availability zones).`, { cause: error });
  }
  if (isAwsError(error, 'InsufficientDBClusterCapacityFault')) {
    return new AwsApiError('tool', code, `AWS has no capacity for ${where} right now (${code}: ${message}): try again later, or another provider.instanceClass.`, { cause: error });
  }
  if (ACCESS.has(code)) {
    return new AwsApiError('input', code, `AWS denied ${where}: ${message}. Allow rds:${context.action} for the role restore-drill runs as (IAM conditions: our tag restore-drill:managed for copies).`, { cause: error });
  }
  if (CREDENTIALS.has(code)) {
    return new AwsApiError('input', code, `AWS rejected the credentials for ${where} (${code}): ${message}. Check AWS_PROFILE / AWS_ACCESS_KEY_ID and that the session has not expired.`, { cause: error });
  }
  if (THROTTLING.has(code)) {
    return new AwsApiError('tool', code, `RDS kept throttling ${where}${attempts ? ` after ${attempts} attempts` : ''} (${code}). Run fewer drills at once (concurrency) or try again later.`, { cause: error });
  }
  if (BAD_REQUEST.has(code)) {
    return new AwsApiError('input', code, `RDS rejected ${where}: ${message} (${code}). Check provider.subnetGroup, provider.securityGroupIds and provider.instanceClass.`, { cause: error });
  }
  if (NETWORK.test(`${code} ${message}`)) {
    return new AwsApiError('tool', code, `cannot reach the RDS API at ${context.endpoint ?? `rds.${context.region}.amazonaws.com`} for ${context.action}: ${message}. Check the network, provider.endpoint and provider.region.`, { cause: error });
  }
  return new AwsApiError('tool', code, `${where} failed: ${code}: ${message}`, { cause: error });
}
