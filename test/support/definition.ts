import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { POLL_INTERVAL_SECONDS } from '../../lib/infra/cloudSettings.ts';
import { drillDefinition } from '../../lib/infra/restoreDrill.ts';

// The state machine's definition as the stack synthesises it (tokens resolved to plain ARNs), run by
// aws-local-stepfunctions with each Lambda task mapped to the task the handler calls.
export const TASKS = ['Plan', 'Start', 'Poll', 'Verify', 'Cleanup', 'Report'] as const;
/** The pollIntervalSeconds the definition is synthesised with: the stack's default. */
export const SYNTHESISED_POLL_INTERVAL_SECONDS = POLL_INTERVAL_SECONDS.default;
export function synthesisedDefinition(): Record<string, unknown> {
  const stack = new Stack(new App(), 'Definition');
  const fn = (name: string) => new lambda.Function(stack, name, { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = 0') });
  const [plan, start, poll, verify, cleanup, report] = TASKS.map(fn) as [lambda.Function, lambda.Function, lambda.Function, lambda.Function, lambda.Function, lambda.Function];
  new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(drillDefinition(new Construct(stack, 'States'), { plan, start, poll, verify, verifyInVpc: undefined, cleanup, report }, SYNTHESISED_POLL_INTERVAL_SECONDS, 2)) });
  return definitionFromTemplate(Template.fromStack(stack).toJSON() as Parameters<typeof definitionFromTemplate>[0]);
}

/** The state machine's definition in a template, each Lambda ARN as `arn:aws:lambda:...:function:<logical id>`. */
export function definitionFromTemplate(template: { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> }): Record<string, unknown> {
  const machine = Object.values(template.Resources).find((resource) => resource.Type === 'AWS::StepFunctions::StateMachine')!;
  const parts = (machine.Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
  const text = parts.map((part) => (typeof part === 'string' ? part : `${LAMBDA_ARN_PREFIX}${(part as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0]}`)).join('');
  return JSON.parse(text) as Record<string, unknown>;
}

export const LAMBDA_ARN_PREFIX = 'arn:aws:lambda:eu-west-1:123456789012:function:';
