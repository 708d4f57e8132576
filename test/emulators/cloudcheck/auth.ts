import type { IncomingMessage } from 'node:http';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { PolicyDocument } from './deployment.ts';

/**
 * Who calls, from the SigV4 Authorization header's access key, and whether their identity policies
 * allow the call: evaluated with iam-simulate over the Service Authorization Reference, as the service
 * would before answering. The signature itself is not verified (the stand-ins see only loopback).
 */
export interface Caller {
  accessKeyId: string;
  arn: string;
  account: string;
  policies: { name: string; policy: PolicyDocument }[];
}

export type Authorization = { ok: true; caller: Caller } | { ok: false; status: number; code: string; message: string };

export class Callers {
  private readonly byKey = new Map<string, Caller>();

  add(caller: Caller): void {
    this.byKey.set(caller.accessKeyId, caller);
  }

  /** The caller of a request signed for `service`, if its policies allow `action` on `resource`. */
  async authorize(request: IncomingMessage, service: string, action: string, resource: string, context: Record<string, string | string[]> = {}): Promise<Authorization> {
    const header = request.headers.authorization ?? '';
    const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(header);
    if (!match) return { ok: false, status: 403, code: 'MissingAuthenticationToken', message: 'Request is missing Authentication Token' };
    const [, accessKeyId, , signedFor] = match;
    if (signedFor !== service) return { ok: false, status: 403, code: 'SignatureDoesNotMatch', message: `Credential should be scoped to correct service: '${service}'.` };
    const caller = this.byKey.get(accessKeyId!);
    if (!caller) return { ok: false, status: 403, code: 'InvalidClientTokenId', message: 'The security token included in the request is invalid.' };
    const allowed = await isAllowed(caller.arn, caller.account, caller.policies, action, resource, { 'aws:SecureTransport': 'true', ...context });
    if (allowed.decision === 'Allowed') return { ok: true, caller };
    return {
      ok: false,
      status: 403,
      code: 'AccessDenied',
      message: `User: ${caller.arn} is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`,
    };
  }
}

export interface Decision {
  decision: 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';
  /** Context keys a statement's condition failed on because the request did not carry them. */
  missing: string[];
}

/** One request, evaluated as IAM would: identity policies, and the resource's policy when it has one. */
export async function isAllowed(
  principal: string,
  account: string,
  policies: readonly { name: string; policy: PolicyDocument }[],
  action: string,
  resource: string,
  context: Record<string, string | string[]>,
  extra: { resourcePolicy?: PolicyDocument } = {},
): Promise<Decision> {
  const result = await runSimulation(
    {
      request: { principal, action, resource: { resource, accountId: account }, contextVariables: context },
      identityPolicies: policies.map((policy) => ({ name: policy.name, policy: policy.policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(extra.resourcePolicy ? { resourcePolicy: extra.resourcePolicy } : {}),
    },
    {},
  );
  if (result.resultType === 'error') throw new Error(`iam-simulate refused the request ${action} on ${resource}: ${JSON.stringify(result.errors)}`);
  const missing = new Set<string>();
  const visit = (value: unknown) => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (!value || typeof value !== 'object') return;
    const object = value as Record<string, unknown>;
    if (object.failedBecauseMissing === true && typeof object.conditionKeyValue === 'string') missing.add(object.conditionKeyValue);
    Object.values(object).forEach(visit);
  };
  if (result.resultType === 'single') visit(result.result.analysis);
  return { decision: result.overallResult as Decision['decision'], missing: [...missing] };
}
