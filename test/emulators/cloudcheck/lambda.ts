import type { IncomingMessage, ServerResponse } from 'node:http';
import { pathToFileURL } from 'node:url';
import type { Callers } from './auth.ts';
import type { DeployedStack } from './deployment.ts';
import { signingRegion, StandIn } from './http.ts';

/**
 * What a function runs: a handler in this process, or a module file the stand-in imports at the
 * function's first invocation (its init), as Lambda's Node.js runtime does: a module that fails to
 * import answers every invocation with Runtime.ImportModuleError.
 */
export type FunctionCode = { handler: (event: unknown) => Promise<unknown> } | { module: string };

/**
 * Lambda's Invoke (REST-JSON, `POST /2015-03-31/functions/{name}/invocations`), with the shapes of
 * the API reference: a function's failure is a 200 with `X-Amz-Function-Error: Unhandled` and the
 * runtime's `{errorType, errorMessage, trace}`; an unknown function is a 404
 * ResourceNotFoundException; a payload that is not JSON is an InvalidRequestContentException.
 */
export class LambdaStandIn extends StandIn {
  readonly code = new Map<string, FunctionCode>();
  private readonly loaded = new Map<string, Promise<(event: unknown) => Promise<unknown>>>();
  protected async handle(request: IncomingMessage, body: string, response: ServerResponse): Promise<void> {
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(new URL(request.url ?? '/', 'http://lambda').pathname);
    const name = decodeURIComponent(match?.[1] ?? '').replace(/^arn:aws:lambda:[^:]+:\d+:function:/, '');
    const answer = (status: number, payload: string, headers: Record<string, string> = {}) => {
      this.calls.push({ operation: 'Invoke', status, params: { FunctionName: name, InvocationType: request.headers['x-amz-invocation-type'] ?? 'RequestResponse', Payload: body } });
      response.writeHead(status, { 'content-type': 'application/json', 'x-amzn-requestid': crypto.randomUUID(), ...headers });
      response.end(payload);
    };
    const error = (status: number, type: string, message: string) => answer(status, JSON.stringify({ Type: 'User', message }), { 'x-amzn-errortype': type });
    if (request.method !== 'POST' || !match) return error(404, 'UnknownOperationException', `Unknown operation ${request.method} ${request.url}`);
    const region = signingRegion(request) ?? '';
    const stack = this.stacks().find((candidate) => candidate.region === region && candidate.functions.has(name));
    const account = stack?.account ?? this.stacks()[0]?.account ?? '000000000000';
    const arn = `arn:aws:lambda:${region}:${account}:function:${name}`;
    const authorization = await this.callers.authorize(request, 'lambda', 'lambda:InvokeFunction', arn);
    if (!authorization.ok) return error(authorization.status, authorization.code === 'AccessDenied' ? 'AccessDeniedException' : authorization.code, authorization.message);
    const code = this.code.get(name);
    if (!stack || !code) return error(404, 'ResourceNotFoundException', `Function not found: ${arn}`);
    const type = request.headers['x-amz-invocation-type'] ?? 'RequestResponse';
    if (type !== 'RequestResponse') return error(400, 'InvalidParameterValueException', `this stand-in answers only RequestResponse invocations, not ${String(type)}`);
    let event: unknown;
    try {
      event = body === '' ? {} : (JSON.parse(body) as unknown);
    } catch {
      return error(400, 'InvalidRequestContentException', 'Could not parse request body into json: Could not parse payload into json');
    }
    const functionError = (errorType: string, errorMessage: string, trace: string[]) =>
      answer(200, JSON.stringify({ errorType, errorMessage, trace }), { 'x-amz-function-error': 'Unhandled', 'x-amz-executed-version': '$LATEST' });
    let handler: (event: unknown) => Promise<unknown>;
    try {
      handler = await this.init(name, code);
    } catch (failure) {
      const cause = failure as Error;
      return functionError('Runtime.ImportModuleError', `${cause.name}: ${cause.message}`, (cause.stack ?? '').split('\n'));
    }
    try {
      const result = await handler(event);
      answer(200, JSON.stringify(result ?? null), { 'x-amz-executed-version': '$LATEST' });
    } catch (failure) {
      const cause = failure as Error;
      functionError(cause.name ?? 'Error', cause.message ?? String(failure), (cause.stack ?? '').split('\n'));
    }
  }

  private init(name: string, code: FunctionCode): Promise<(event: unknown) => Promise<unknown>> {
    if ('handler' in code) return Promise.resolve(code.handler);
    let loading = this.loaded.get(name);
    if (!loading) {
      loading = import(pathToFileURL(code.module).href).then((module: { handler?: unknown }) => {
        if (typeof module.handler !== 'function') throw Object.assign(new Error(`${code.module}.handler is undefined or not exported`), { name: 'Runtime.HandlerNotFound' });
        return module.handler as (event: unknown) => Promise<unknown>;
      });
      this.loaded.set(name, loading);
    }
    return loading;
  }
}
