import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { escapeXml, xml, type XmlNode } from '../rds/wire.ts';
import type { Callers } from './auth.ts';
import type { DeployedStack } from './deployment.ts';

/** One stand-in on a loopback port; `handle` answers each request, authorised against `callers`, about the deployed `stacks`. */
export abstract class StandIn {
  url = '';
  /** Every request, for the tests to assert on what was (and was not) called. */
  readonly calls: { operation: string; status: number; params: Record<string, unknown> }[] = [];
  protected readonly callers: Callers;
  protected readonly stacks: () => readonly DeployedStack[];
  private server: Server | undefined;

  constructor(callers: Callers, stacks: () => readonly DeployedStack[]) {
    this.callers = callers;
    this.stacks = stacks;
  }

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      readBody(request)
        .then((body) => this.handle(request, body, response))
        .catch((error: unknown) => {
          if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
          response.end(`stand-in failure: ${(error as Error).stack ?? String(error)}`);
        });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  protected abstract handle(request: IncomingMessage, body: string, response: ServerResponse): Promise<void>;

  /** How a Query API stand-in answers: XML, the call recorded with its status and parameters. */
  protected queryAnswer(action: string, params: { toObject(): Record<string, unknown> }, response: ServerResponse): (status: number, text: string) => void {
    return (status, text) => {
      this.calls.push({ operation: action, status, params: params.toObject() });
      response.writeHead(status, { 'content-type': 'text/xml' });
      response.end(text);
    };
  }
}

export function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

/** The signing region of a SigV4 request (its credential scope). */
export function signingRegion(request: IncomingMessage): string | undefined {
  return /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(request.headers.authorization ?? '')?.[1];
}

/** Query protocol (CloudFormation, IAM): `<ActionResponse><ActionResult>...` in the API's namespace. */
export function queryResponse(namespace: string, action: string, result: XmlNode[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${namespace}"><${action}Result>${xml(result)}</${action}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`;
}

export function queryError(namespace: string, type: 'Sender' | 'Receiver', code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${namespace}"><Error><Type>${type}</Type><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`;
}
