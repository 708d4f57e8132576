import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { drillDefinition } from '../../lib/infra/restoreDrill.ts';

// The state machine's definition as the stack synthesises it (tokens resolved to plain ARNs), run by
// aws-local-stepfunctions with each Lambda task mapped to the task the handler calls.
export const TASKS = ['Plan', 'Start', 'Poll', 'Verify', 'Cleanup', 'Report'] as const;
export function synthesisedDefinition(): Record<string, unknown> {
  const stack = new Stack(new App(), 'Definition');
  const fn = (name: string) => new lambda.Function(stack, name, { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = 0') });
  const [plan, start, poll, verify, cleanup, report] = TASKS.map(fn) as [lambda.Function, lambda.Function, lambda.Function, lambda.Function, lambda.Function, lambda.Function];
  new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(drillDefinition(new Construct(stack, 'States'), { plan, start, poll, verify, verifyInVpc: undefined, cleanup, report }, 60, 2)) });
  const machine = Object.values(Template.fromStack(stack).findResources('AWS::StepFunctions::StateMachine'))[0]!;
  const parts = (machine.Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
  const text = parts.map((part) => (typeof part === 'string' ? part : `arn:aws:lambda:eu-west-1:123456789012:function:${(part as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0]}`)).join('');
  return JSON.parse(text) as Record<string, unknown>;
}

