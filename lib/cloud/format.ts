import { formatSeconds } from '../report/format.ts';
import type { CloudCheckResult } from './check.ts';
import type { Denial } from './roleCheck.ts';

const PASS = '✅';
const FAIL = '❌';
const WARN = '⚠️ ';

/** The check's result for the terminal: one section per part, then what a person must still check. */
export function formatCloudCheck(result: CloudCheckResult, options: { touchAlarms: boolean }): string {
  const lines: string[] = [];
  const { stack } = result;
  lines.push(`restore-drill cloud check: stack ${stack.name} in ${stack.region}${stack.account ? `, account ${stack.account}` : ''} (${stack.status})`);
  if (stack.statusProblem) lines.push(`  ${stack.statusProblem.status === 'fail' ? FAIL : WARN} ${stack.status}: ${stack.statusProblem.message}`);
  if (result.missingOutputs.length) {
    lines.push(`  ${FAIL} the stack lacks outputs the check reads: ${result.missingOutputs.join(', ')} (deployed by a restore-drill without lib/infra/outputs.ts: run cdk deploy again)`);
  }

  const plan = result.plan;
  lines.push('', `Plan, dry run (reads each database's restore window, creates nothing)${plan.functionName ? `: ${plan.functionName}` : ''}`);
  if (plan.message) lines.push(`  ${plan.status === 'incomplete' ? WARN : FAIL} ${plan.message}`);
  for (const database of plan.databases) {
    if (database.error || !database.window) {
      lines.push(`  ${FAIL} ${database.name} (${database.provider}): ${database.error ?? 'no window'}`);
      continue;
    }
    const rpo = database.rpoClaimedSeconds === undefined ? '' : `; RPO (claimed) ${formatSeconds(database.rpoClaimedSeconds)}${database.rpoTargetSeconds ? ` (target ${formatSeconds(database.rpoTargetSeconds)})` : ''}`;
    const over = database.rpoClaimedSeconds !== undefined && database.rpoTargetSeconds !== undefined && database.rpoClaimedSeconds > database.rpoTargetSeconds;
    lines.push(`  ${over ? WARN : PASS} ${database.name} (${database.provider}): restorable from ${database.window.earliest} to ${database.window.latest}${rpo}${over ? ': over target, its RPO alarm will fire' : ''}`);
    if (database.window.note) lines.push(`     ${database.window.note}`);
  }

  lines.push('', 'Roles, simulated by your account (iam:SimulatePrincipalPolicy: identity policies, permissions boundaries, SCPs)');
  if (result.roles.simulation === 'denied') {
    lines.push(`  ${WARN} could not simulate: allow iam:SimulatePrincipalPolicy on the stack's roles to the identity running this check (${result.roles.deniedMessage ?? 'AccessDenied'})`);
  }
  for (const role of result.roles.roles) {
    if (role.message && role.status !== 'pass') lines.push(`  ${role.status === 'fail' ? FAIL : WARN} ${role.function}: ${role.message}`);
    for (const denial of role.denied) lines.push(`  ${FAIL} ${role.function}: ${describeDenial(denial)}`);
    if (role.status === 'pass') lines.push(`  ${PASS} ${role.function}: ${role.allowed.length} call${role.allowed.length === 1 ? '' : 's'} allowed${role.allowed.length ? ` (${role.allowed.join(', ')})` : ''}`);
    for (const note of role.notes) lines.push(`     ${role.function}: ${note}`);
  }

  lines.push('', `Alarms (${result.alarmCount})`);
  if (!options.touchAlarms || !result.alarms) {
    lines.push('  not touched: run with --yes-touch-alarms to put each alarm in ALARM and back, proving its message reaches the topic (and Slack)');
  } else {
    if (result.alarms.message) lines.push(`  ${result.alarms.status === 'incomplete' ? WARN : FAIL} ${result.alarms.message}`);
    for (const alarm of result.alarms.touched) {
      const mark = alarm.action === 'succeeded' && alarm.restored ? PASS : alarm.action === 'unknown' ? WARN : FAIL;
      const change = alarm.tested ? `${alarm.previous ?? '?'} -> ${alarm.tested}${alarm.restored ? ` -> ${alarm.previous}` : ''}` : 'not touched';
      lines.push(`  ${mark} ${alarm.name}: ${change}: ${alarm.action}${alarm.detail ? `; ${alarm.detail}` : ''}`);
    }
    if (result.alarms.touched.some((alarm) => alarm.action === 'succeeded')) lines.push('  Look in Slack for the messages: each names "restore-drill cloud check" in its reason.');
  }

  lines.push('', 'For a person to check (nothing here can)');
  for (const check of result.humanChecks) lines.push(`  - ${check}`);

  lines.push('', result.outcome === 'passed' ? `${PASS} the deployment passed every check` : result.outcome === 'failed' ? `${FAIL} a check failed (exit 1)` : `${WARN} the check could not finish (exit 3)`);
  return lines.join('\n');
}

function describeDenial(denial: Denial): string {
  const missing = denial.missingContext.length ? `; a condition needs ${denial.missingContext.join(', ')}, which this call does not send` : '';
  return `${denial.action} denied on ${denial.resource} (${denial.decision}${denial.by ? `, by a ${denial.by}` : ''})${missing}`;
}
