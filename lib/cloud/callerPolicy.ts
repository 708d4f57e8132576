/**
 * The least privilege `restore-drill cloud check` needs, for the identity that runs it. CloudFormation
 * names the stack's functions, roles and alarms after the stack (`<stack>-<logical id>-<suffix>`;
 * the alarms `<stack>-<database>-<what>`), so each grant is held to that prefix.
 */
export function cloudCheckPolicy(options: { stackName: string; region?: string; account?: string; partition?: string; touchAlarms?: boolean }): { Version: '2012-10-17'; Statement: Record<string, unknown>[] } {
  const partition = options.partition ?? 'aws';
  const region = options.region ?? '*';
  const account = options.account ?? '*';
  const alarms = `arn:${partition}:cloudwatch:${region}:${account}:alarm:${options.stackName}-*`;
  return {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'ReadTheStack', Effect: 'Allow', Action: 'cloudformation:DescribeStacks', Resource: `arn:${partition}:cloudformation:${region}:${account}:stack/${options.stackName}/*` },
      // Plan only: Start makes copies and the Janitor removes them. CloudFormation names it <stack>-RestoreDrillPlan<hash>-<suffix>.
      { Sid: 'PlanDryRun', Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: `arn:${partition}:lambda:${region}:${account}:function:${options.stackName}-RestoreDrillPlan*` },
      { Sid: 'SimulateTheRoles', Effect: 'Allow', Action: 'iam:SimulatePrincipalPolicy', Resource: `arn:${partition}:iam::${account}:role/${options.stackName}-*` },
      // DescribeAlarms is authorised against every alarm of the region (it takes no narrower resource when listing).
      { Sid: 'ReadTheAlarms', Effect: 'Allow', Action: 'cloudwatch:DescribeAlarms', Resource: `arn:${partition}:cloudwatch:${region}:${account}:alarm:*` },
      ...(options.touchAlarms === false ? [] : [{ Sid: 'TouchTheAlarms', Effect: 'Allow', Action: ['cloudwatch:SetAlarmState', 'cloudwatch:DescribeAlarmHistory'], Resource: alarms }]),
    ],
  };
}
