import type { IncomingMessage, ServerResponse } from 'node:http';
import { QueryParams, xmlList } from '../rds/wire.ts';
import type { Callers } from './auth.ts';
import type { DeployedStack } from './deployment.ts';
import { queryError, queryResponse, signingRegion, StandIn } from './http.ts';

const NAMESPACE = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';
const VERSION = '2010-05-15';

/**
 * CloudFormation's Query API, DescribeStacks only, with the shapes of the API reference: a stack is
 * found by name or stack id in the request's region only; an unknown one is a ValidationError
 * "Stack with id X does not exist", as CloudFormation answers it.
 */
export class CloudFormationStandIn extends StandIn {
  protected async handle(request: IncomingMessage, body: string, response: ServerResponse): Promise<void> {
    const params = new QueryParams(body);
    const action = params.string('Action') ?? '';
    const answer = this.queryAnswer(action, params, response);
    if (request.method !== 'POST') return answer(400, queryError(NAMESPACE, 'Sender', 'InvalidAction', 'The Query API takes POST requests'));
    if (params.string('Version') !== VERSION) return answer(400, queryError(NAMESPACE, 'Sender', 'InvalidParameterValue', `Version ${params.string('Version') ?? '(none)'} is not ${VERSION}`));
    if (action !== 'DescribeStacks') return answer(400, queryError(NAMESPACE, 'Sender', 'InvalidAction', `Could not find operation ${action} for version ${VERSION}`));
    const region = signingRegion(request) ?? '';
    const wanted = params.string('StackName');
    const inRegion = this.stacks().filter((stack) => stack.region === region);
    const found = wanted === undefined ? inRegion : inRegion.filter((stack) => stack.name === wanted || stack.stackId === wanted);
    const account = inRegion[0]?.account ?? this.stacks()[0]?.account ?? '000000000000';
    const resource = found[0]?.stackId ?? `arn:aws:cloudformation:${region}:${account}:stack/${wanted ?? 'none'}/00000000-0000-4000-8000-000000000000`;
    const authorization = await this.callers.authorize(request, 'cloudformation', 'cloudformation:DescribeStacks', resource);
    if (!authorization.ok) return answer(authorization.status, queryError(NAMESPACE, 'Sender', authorization.code, authorization.message));
    if (wanted !== undefined && !found.length) return answer(400, queryError(NAMESPACE, 'Sender', 'ValidationError', `Stack with id ${wanted} does not exist`));
    answer(
      200,
      queryResponse(NAMESPACE, 'DescribeStacks', [
        [
          'Stacks',
          xmlList('member', found, (stack) => [
            ['StackId', stack.stackId],
            ['StackName', stack.name],
            ['CreationTime', new Date('2026-11-30T12:00:00Z')],
            ['StackStatus', stack.status],
            ['DisableRollback', false],
            ['Capabilities', [['member', 'CAPABILITY_IAM']]],
            ['Outputs', xmlList('member', stack.outputs, (output) => [['OutputKey', output.OutputKey], ['OutputValue', output.OutputValue], ['Description', output.Description]])],
          ]),
        ],
      ]),
    );
  }
}
