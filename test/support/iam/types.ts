/** An IAM policy document as IAM stores it (after CloudFormation has resolved its intrinsics). */
export interface PolicyDocument {
  Version: string;
  Id?: string;
  Statement: PolicyStatement | PolicyStatement[];
}

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, string | boolean | number | (string | boolean | number)[]>>;
}

/** Who signs a request: an IAM user (the CLI) or a Lambda function's role session, with its identity policies. */
export interface Principal {
  /** The function's logical id in the template, or the user's name. */
  name: string;
  /** What IAM calls the caller: `arn:aws:sts::<account>:assumed-role/<role>/<function>` or `arn:aws:iam::<account>:user/<name>`. */
  arn: string;
  accountId: string;
  accessKeyId: string;
  secretAccessKey: string;
  identityPolicies: PolicyDocument[];
}

/** One authorisation the service makes for a call: an action on a resource, with the request context it sends. */
export interface AuthorizationRequest {
  action: string;
  /** A resource ARN; a list call that names nothing is authorised against the type's wildcard (`...:db:*`), as AWS does. */
  resource: string;
  context: Record<string, string | string[]>;
  /** The resource's own policy where the service requires one to allow too (a KMS key policy). */
  resourcePolicy?: PolicyDocument;
}

export type AuthorizationAnswer =
  | { allowed: true; principal: Principal }
  | {
      allowed: false;
      /** AccessDenied: the policies refuse; InvalidClientTokenId: nobody has this access key. */
      code: 'AccessDenied' | 'InvalidClientTokenId';
      principal?: Principal;
      action?: string;
      resource?: string;
      /** The message AWS puts on the wire. */
      message: string;
      /** Why, for the person reading a failed test: the statements that came close and the condition that failed. */
      reason: string;
    };
