import type { IncomingMessage, ServerResponse } from 'node:http';
import { QueryParams, xmlList, type XmlNode } from '../rds/wire.ts';
import { isAllowed, type Callers, type Decision } from './auth.ts';
import type { DeployedStack } from './deployment.ts';
import { queryError, queryResponse, StandIn } from './http.ts';

const NAMESPACE = 'https://iam.amazonaws.com/doc/2010-05-08/';
const VERSION = '2010-05-08';
const CONTEXT_TYPES = new Set(['string', 'stringList', 'numeric', 'numericList', 'boolean', 'booleanList', 'ip', 'ipList', 'binary', 'binaryList', 'date', 'dateList']);
const DECISION: Record<Decision['decision'], string> = { Allowed: 'allowed', ExplicitlyDenied: 'explicitDeny', ImplicitlyDenied: 'implicitDeny' };

/**
 * IAM's Query API, SimulatePrincipalPolicy only: the role's policies from the deployed template, evaluated with iam-simulate over the Service
 * Authorization Reference. One EvaluationResult per action, the most restrictive decision on top and
 * each resource's in ResourceSpecificResults, as IAM answers today. A resource ARN that does not fit
 * the action's resource types is refused (InvalidInput) rather than guessed at.
 */
export class IamStandIn extends StandIn {
  protected async handle(request: IncomingMessage, body: string, response: ServerResponse): Promise<void> {
    const params = new QueryParams(body);
    const action = params.string('Action') ?? '';
    const answer = this.queryAnswer(action, params, response);
    const error = (status: number, code: string, message: string) => answer(status, queryError(NAMESPACE, 'Sender', code, message));
    if (params.string('Version') !== VERSION) return error(400, 'InvalidParameterValue', `Version ${params.string('Version') ?? '(none)'} is not ${VERSION}`);
    if (action !== 'SimulatePrincipalPolicy') return error(400, 'InvalidAction', `Could not find operation ${action} for version ${VERSION}`);
    const source = params.string('PolicySourceArn');
    const actions = params.list('ActionNames');
    const problems = [
      ...(source ? [] : ["Value null at 'policySourceArn' failed to satisfy constraint: Member must not be null"]),
      ...(actions.length ? [] : ["Value null at 'actionNames' failed to satisfy constraint: Member must not be null"]),
    ];
    if (problems.length) return error(400, 'ValidationError', `${problems.length} validation error${problems.length > 1 ? 's' : ''} detected: ${problems.join('; ')}`);
    const authorization = await this.callers.authorize(request, 'iam', 'iam:SimulatePrincipalPolicy', source!);
    if (!authorization.ok) return error(authorization.status, authorization.code, authorization.message);
    const role = this.stacks().flatMap((stack) => [...stack.roles.values()].map((item) => ({ stack, role: item }))).find((item) => item.role.arn === source);
    if (!role) return error(404, 'NoSuchEntity', `The role with name ${source!.split('/').pop()} cannot be found.`);

    const context: Record<string, string | string[]> = {};
    for (const entry of params.structures('ContextEntries')) {
      const name = entry.get('ContextKeyName');
      const type = entry.get('ContextKeyType');
      if (!name || !type || !CONTEXT_TYPES.has(type)) return error(400, 'InvalidInput', `ContextEntries: a key needs ContextKeyName and a ContextKeyType of ${[...CONTEXT_TYPES].join(', ')}`);
      const values = [...entry.entries()].filter(([key]) => /^ContextKeyValues\.member\.\d+$/.test(key)).sort(([a], [b]) => Number(a.split('.').pop()) - Number(b.split('.').pop())).map(([, value]) => value);
      context[name] = type.endsWith('List') ? values : (values[0] ?? '');
    }
    const resources = params.list('ResourceArns');
    const results: XmlNode[] = [];
    for (const name of actions) {
      const each: { resource: string; decision: Decision }[] = [];
      for (const resource of resources.length ? resources : ['*']) {
        try {
          each.push({ resource, decision: await isAllowed(role.role.arn, role.stack.account, role.role.policies, name, resource, context) });
        } catch (failure) {
          return error(400, 'InvalidInput', `cannot simulate ${name} on ${resource}: ${(failure as Error).message}`);
        }
      }
      const rank = (decision: Decision) => ['Allowed', 'ImplicitlyDenied', 'ExplicitlyDenied'].indexOf(decision.decision);
      const worst = each.reduce((a, b) => (rank(b.decision) > rank(a.decision) ? b : a));
      const missing = [...new Set(each.flatMap((item) => item.decision.missing))];
      results.push([
        'member',
        [
          ['EvalActionName', name],
          ['EvalResourceName', resources.length === 1 ? resources[0] : '*'],
          ['EvalDecision', DECISION[worst.decision.decision]],
          ['MatchedStatements', []],
          ['MissingContextValues', xmlList('member', missing, (key) => key)],
          [
            'ResourceSpecificResults',
            xmlList('member', each, (item) => [
              ['EvalResourceName', item.resource],
              ['EvalResourceDecision', DECISION[item.decision.decision]],
              ['MatchedStatements', []],
              ['MissingContextValues', xmlList('member', item.decision.missing, (key) => key)],
            ]),
          ],
        ],
      ]);
    }
    answer(200, queryResponse(NAMESPACE, 'SimulatePrincipalPolicy', [['IsTruncated', false], ['EvaluationResults', results]]));
  }
}
