import { SimulatePrincipalPolicyCommand, type EvaluationResult, type IAMClient } from '@aws-sdk/client-iam';
import type { AwsDatabaseKind, DrillRole } from '../infra/roleActions.ts';
import { awsErrorName, awsErrorText, isAccessDenied } from './awsErrors.ts';
import { FUNCTION_ROLES, type DeployedFunction } from './deploymentOutputs.ts';
import { simulationRequests, type SimulationRequest, type SimulationScope } from './simulation.ts';

export interface Denial {
  action: string;
  resource: string;
  decision: string;
  /** Context keys a condition needed that the call does not send (a condition on a key the service does not have). */
  missingContext: string[];
  /** Which kind of policy denied it, when not the role's own: an SCP of the organisation, the role's permissions boundary. */
  by?: 'service control policy' | 'permissions boundary';
}

export interface RoleCheck {
  function: string;
  role: DrillRole | undefined;
  roleArn: string | undefined;
  /** pass: every call allowed; fail: a call denied, or the role is gone; warn: nothing to simulate; incomplete: IAM did not answer. */
  status: 'pass' | 'fail' | 'warn' | 'incomplete';
  allowed: string[];
  denied: Denial[];
  notes: string[];
  message?: string;
}

export interface RoleChecks {
  /** simulated: the account answered; denied: this identity may not simulate (a warning, not a failure). */
  simulation: 'simulated' | 'denied';
  /** Set when simulation was denied: what IAM said. */
  deniedMessage?: string;
  roles: RoleCheck[];
}

/** Simulations in flight at once: IAM throttles its control plane. */
const CONCURRENCY = 4;

/**
 * Simulates, with the account's own iam:SimulatePrincipalPolicy (identity policies, permissions
 * boundary, the organisation's SCPs), every call each function's role must be allowed (the role table).
 */
export async function checkRoles(iam: IAMClient, functions: readonly DeployedFunction[], scopeOf: (f: DeployedFunction, role: DrillRole) => SimulationScope): Promise<RoleChecks> {
  const checks: RoleCheck[] = functions.map((f) => ({ function: f.id, role: FUNCTION_ROLES[f.id], roleArn: f.roleArn, status: 'pass', allowed: [], denied: [], notes: [] }));
  const work: { check: RoleCheck; request: SimulationRequest }[] = [];
  for (const [index, f] of functions.entries()) {
    const check = checks[index]!;
    if (!check.role) {
      check.status = 'warn';
      check.message = f.id in FUNCTION_ROLES ? 'nothing to simulate: its only call (the Slack webhook\'s secret) is not in the role table' : `not a function the role table knows (${f.id}): not simulated`;
      continue;
    }
    if (!f.roleArn) {
      check.status = 'fail';
      check.message = `the stack has no ${f.id}RoleArn output: cannot tell which role it runs as`;
      continue;
    }
    for (const request of simulationRequests(check.role, scopeOf(f, check.role))) {
      check.notes.push(...request.notes.filter((note) => !check.notes.includes(note)));
      if (request.resources.length) work.push({ check, request });
    }
  }
  let denied: string | undefined;
  let next = 0;
  const worker = async () => {
    while (next < work.length && denied === undefined) {
      const { check, request } = work[next++]!;
      if (check.status === 'fail' && check.message) continue;
      try {
        const results = await simulate(iam, check.roleArn!, request);
        const denials = denialsOf(request, results);
        if (denials.length) check.denied.push(...denials);
        else check.allowed.push(request.action);
      } catch (error) {
        if (isAccessDenied(error)) {
          denied ??= awsErrorText(error);
          return;
        }
        if (awsErrorName(error) === 'NoSuchEntity' || awsErrorName(error) === 'NoSuchEntityException') {
          check.status = 'fail';
          check.message = `its role ${check.roleArn} does not exist in IAM: it was deleted outside CloudFormation; run cdk deploy again`;
          continue;
        }
        if (check.status !== 'fail') check.status = 'incomplete';
        check.message = `IAM did not simulate ${request.action}: ${awsErrorText(error)}`;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, work.length) }, worker));
  if (denied !== undefined) return { simulation: 'denied', deniedMessage: denied, roles: [] };
  for (const check of checks) {
    if (check.denied.length) check.status = 'fail';
    check.allowed.sort();
  }
  return { simulation: 'simulated', roles: checks };
}

async function simulate(iam: IAMClient, roleArn: string, request: SimulationRequest): Promise<EvaluationResult[]> {
  const results: EvaluationResult[] = [];
  let marker: string | undefined;
  do {
    const page = await iam.send(
      new SimulatePrincipalPolicyCommand({
        PolicySourceArn: roleArn,
        ActionNames: [request.action],
        ResourceArns: request.resources,
        ...(request.context.length ? { ContextEntries: request.context } : {}),
        ...(marker ? { Marker: marker } : {}),
      }),
    );
    results.push(...(page.EvaluationResults ?? []));
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  return results;
}

/**
 * Each requested resource's decision: from ResourceSpecificResults (IAM now answers one result per
 * action with the decision of each resource there), else from the result naming the resource.
 */
function denialsOf(request: SimulationRequest, results: readonly EvaluationResult[]): Denial[] {
  const denials: Denial[] = [];
  for (const resource of request.resources) {
    let decision: string | undefined;
    let missing: string[] = [];
    let by: Denial['by'];
    for (const result of results.filter((item) => item.EvalActionName === request.action)) {
      const specific = result.ResourceSpecificResults?.find((item) => item.EvalResourceName === resource);
      if (specific) {
        decision = specific.EvalResourceDecision;
        missing = specific.MissingContextValues ?? result.MissingContextValues ?? [];
        if (specific.PermissionsBoundaryDecisionDetail?.AllowedByPermissionsBoundary === false) by = 'permissions boundary';
      } else if (!result.ResourceSpecificResults?.length && (result.EvalResourceName === resource || request.resources.length === 1)) {
        decision = result.EvalDecision;
        missing = result.MissingContextValues ?? [];
        if (result.PermissionsBoundaryDecisionDetail?.AllowedByPermissionsBoundary === false) by = 'permissions boundary';
      }
      if (result.OrganizationsDecisionDetail?.AllowedByOrganizations === false) by = 'service control policy';
    }
    if (decision !== 'allowed') denials.push({ action: request.action, resource, decision: decision ?? 'no answer for this resource', missingContext: missing, ...(by ? { by } : {}) });
  }
  return denials;
}

/** Which database kinds a function works on, as far as the stack says. */
export function kindsOf(provider: readonly string[]): Set<AwsDatabaseKind> {
  return new Set(provider.filter((kind): kind is AwsDatabaseKind => kind === 'rds' || kind === 'aurora'));
}
