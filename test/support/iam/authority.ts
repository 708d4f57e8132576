import { runSimulation, type RequestAnalysis, type RunSimulationResults, type StatementExplain } from '@cloud-copilot/iam-simulate';

type StatementAnalysis = NonNullable<RequestAnalysis['identityAnalysis']>['allowStatements'][number];
import type { AuthorizationAnswer, AuthorizationRequest, Principal } from './types.ts';

/** The emulator asked something IAM could not evaluate (an action iam-data does not know, a context key the action does not have). */
export class IamSimulationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IamSimulationError';
  }
}

export interface AuthorizeOptions {
  /** The region the call went to (aws:RequestedRegion); by default the resource ARN's. */
  region?: string;
  /** aws:CurrentTime. @default now */
  now?: Date;
}

// iam-simulate reads a `*` in the request's resource as a pattern and answers for the resources it could
// stand for. AWS compares the literal string: `...:db:*` (a Describe that names nothing) matches a policy's
// `*` or `db:*`, never `db:rd-*`. A stand-in character keeps that literal meaning.
const LITERAL_ASTERISK = '%2A';

/**
 * IAM for the emulators: principals by access key id, each request evaluated with iam-simulate
 * (identity policies, Strict mode: a condition on a key the request does not carry fails) over
 * iam-data, the Service Authorization Reference as data.
 */
export class IamAuthority {
  private readonly byKey = new Map<string, Principal>();

  constructor(principals: Iterable<Principal> = []) {
    for (const principal of principals) this.add(principal);
  }

  add(principal: Principal): this {
    const known = this.byKey.get(principal.accessKeyId);
    if (known && known.name !== principal.name) {
      throw new Error(`access key id ${principal.accessKeyId} is already ${known.name}'s; ${principal.name} needs its own`);
    }
    this.byKey.set(principal.accessKeyId, principal);
    return this;
  }

  principal(accessKeyId: string | undefined): Principal | undefined {
    return accessKeyId ? this.byKey.get(accessKeyId) : undefined;
  }

  get principals(): Principal[] {
    return [...this.byKey.values()];
  }

  /**
   * Every authorisation one call needs, in order; the first refusal is the answer. An unknown access
   * key is InvalidClientTokenId, as AWS answers a key that belongs to nobody.
   */
  async authorize(accessKeyId: string | undefined, requests: readonly AuthorizationRequest[], options: AuthorizeOptions = {}): Promise<AuthorizationAnswer> {
    const principal = this.principal(accessKeyId);
    if (!principal) {
      return {
        allowed: false,
        code: 'InvalidClientTokenId',
        message: 'The security token included in the request is invalid.',
        reason: `no principal has the access key id ${accessKeyId ?? '(none)'}; known: ${this.principals.map((p) => `${p.name} (${p.accessKeyId})`).join(', ') || 'none'}`,
      };
    }
    for (const request of requests) {
      const refusal = await this.evaluate(principal, request, options);
      if (refusal) return refusal;
    }
    return { allowed: true, principal };
  }

  private async evaluate(principal: Principal, request: AuthorizationRequest, options: AuthorizeOptions): Promise<AuthorizationAnswer | undefined> {
    const resource = request.resource === '*' ? '*' : request.resource.replaceAll('*', LITERAL_ASTERISK);
    const results = await runSimulation(
      {
        request: {
          principal: principal.arn,
          action: request.action,
          resource: { resource, accountId: accountOf(request.resource) ?? principal.accountId },
          contextVariables: { ...globalContext(principal, request.resource, options), ...request.context },
        },
        identityPolicies: principal.identityPolicies.map((policy, index) => ({ name: `${principal.name}#${index + 1}`, policy })),
        ...(request.resourcePolicy ? { resourcePolicy: request.resourcePolicy } : {}),
        serviceControlPolicies: [],
        resourceControlPolicies: [],
      },
      { simulationMode: 'Strict' },
    );
    const analysis = analysisOf(results, request);
    if (analysis.result === 'Allowed') return undefined;
    const explicit = analysis.result === 'ExplicitlyDenied';
    const message =
      `User: ${principal.arn} is not authorized to perform: ${request.action} on resource: ${request.resource} ` +
      (explicit ? 'with an explicit deny in an identity-based policy' : `because no identity-based policy allows the ${request.action} action`);
    return { allowed: false, code: 'AccessDenied', principal, action: request.action, resource: request.resource, message, reason: reasonOf(analysis, request) };
  }
}

function analysisOf(results: RunSimulationResults, request: AuthorizationRequest): RequestAnalysis {
  if (results.resultType === 'error') {
    throw new IamSimulationError(`iam-simulate cannot evaluate ${request.action} on ${request.resource}: ${results.errors.message} ${JSON.stringify(results.errors)}`);
  }
  const single = results.resultType === 'single' ? [results.result] : results.results;
  const ignored = [...new Set(single.flatMap((result) => result.ignoredContextKeys ?? []))];
  // Strict about the emulators themselves: a key the Service Authorization Reference does not list for
  // this action and resource type is one the real service never sends.
  if (ignored.length) throw new IamSimulationError(`${request.action} on ${request.resource} has no context key ${ignored.join(', ')} (iam-data): the emulator must not send it`);
  const first = single[0];
  if (!first) return { result: 'ImplicitlyDenied' } as RequestAnalysis;
  return single.find((result) => result.analysis.result === 'Allowed')?.analysis ?? first.analysis;
}

function globalContext(principal: Principal, resource: string, options: AuthorizeOptions): Record<string, string> {
  const now = options.now ?? new Date();
  const role = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\//.exec(principal.arn);
  const region = options.region ?? resource.split(':')[3];
  return {
    // For a role session, aws:PrincipalArn is the role's ARN, not the session's.
    'aws:PrincipalArn': role ? `arn:${role[1]}:iam::${role[2]}:role/${role[3]}` : principal.arn,
    'aws:PrincipalAccount': principal.accountId,
    'aws:PrincipalType': role ? 'AssumedRole' : 'User',
    ...(role ? {} : { 'aws:username': principal.arn.split('/').at(-1)! }),
    'aws:SecureTransport': 'true',
    'aws:CurrentTime': now.toISOString(),
    'aws:EpochTime': String(Math.floor(now.getTime() / 1000)),
    ...(region ? { 'aws:RequestedRegion': region } : {}),
  };
}

function accountOf(arn: string): string | undefined {
  const account = arn.split(':')[4];
  return account && /^\d{12}$/.test(account) ? account : undefined;
}

/** The statements that came close (action and resource matched) and the conditions that failed them. */
function reasonOf(analysis: RequestAnalysis, request: AuthorizationRequest): string {
  const identity = analysis.identityAnalysis;
  const context = `request context ${JSON.stringify(request.context)}`;
  if (!identity) return `no identity policy was evaluated; ${context}`;
  if (identity.denyStatements.length) {
    return `denied by ${identity.denyStatements.map(describe).join('; ')}; ${context}`;
  }
  const close = identity.unmatchedStatements.filter((s) => s.actionMatch && s.resourceMatch);
  if (!close.length) return `no statement allows ${request.action} on ${request.resource}; ${context}`;
  return `statements for ${request.action} on this resource failed their conditions: ${close.map((s) => `${describe(s)}: ${failedConditions(s.explain)}`).join('; ')}; ${context}`;
}

function describe(analysis: StatementAnalysis): string {
  const sid = analysis.statement.sid();
  return `${analysis.policyId} statement ${analysis.explain.identifier}${sid ? ` (${sid})` : ''}`;
}

function failedConditions(explain: StatementExplain): string {
  const failed = (explain.conditions ?? []).filter((condition) => !condition.matches);
  return failed
    .map((condition) => {
      const wanted = [condition.values].flat().map((value) => value.value);
      const missing = (condition as { failedBecauseMissing?: boolean }).failedBecauseMissing;
      return `${condition.operator} ${condition.conditionKeyValue} ${missing ? 'is not in the request' : `is ${JSON.stringify(condition.resolvedConditionKeyValue)}`} (wanted ${JSON.stringify(wanted)})`;
    })
    .join(', ');
}
