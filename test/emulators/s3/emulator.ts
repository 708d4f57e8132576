import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { credentialScopeOf } from '../../support/iam/accessKeys.ts';
import type { IamAuthority } from '../../support/iam/authority.ts';
import { cliAuthority } from '../../support/iam/cli.ts';
import { s3ListAuthorization, s3ObjectAuthorization } from '../../support/iam/services.ts';
import type { AuthorizationRequest } from '../../support/iam/types.ts';

export interface S3EmulatorOptions {
  /** Who may call what; every request is authorised before it acts. @default the CLI's user alone (cliAuthority()) */
  iam?: IamAuthority;
}

/**
 * The three S3 calls the reports bucket gets (PutObject, GetObject, ListObjectsV2), path-style, with
 * the shapes of the S3 API reference: XML list results, XML errors (NoSuchKey, NoSuchBucket), ETags.
 * A request without a SigV4 Authorization header is refused (AccessDenied), as S3 would; a signed one
 * is authorised against its caller's policies (s3:GetObject, s3:PutObject, s3:ListBucket with s3:prefix).
 */
export class S3Emulator {
  readonly buckets = new Map<string, Map<string, { body: Buffer; contentType: string; modified: Date }>>();
  readonly requests: { method: string; bucket: string; key: string; status: number; error?: string; denied?: string }[] = [];
  /** Who may call what; a test may swap it at any time. */
  iam: IamAuthority;
  private server: Server | undefined;
  url = '';

  constructor(bucketNames: readonly string[], options: S3EmulatorOptions = {}) {
    for (const name of bucketNames) this.buckets.set(name, new Map());
    this.iam = options.iam ?? cliAuthority();
  }

  async start(): Promise<void> {
    this.server = createServer((request, response) => void this.handle(request, response));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** The objects of a bucket as text, by key. */
  objects(bucket: string): Map<string, string> {
    return new Map([...(this.buckets.get(bucket) ?? new Map()).entries()].map(([key, object]) => [key, object.body.toString('utf8')]));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://s3.local');
    const [, bucketName = '', ...rest] = url.pathname.split('/');
    const key = decodeURIComponent(rest.join('/'));
    const body = await readBody(request);
    const log = { method: request.method ?? '', bucket: bucketName, key } as S3Emulator['requests'][number];
    const answer = (status: number, xml: string, headers: Record<string, string> = {}) => {
      this.requests.push({ ...log, status });
      response.writeHead(status, { 'content-type': 'application/xml', 'x-amz-request-id': 'emulated', ...headers });
      response.end(xml);
    };
    const error = (status: number, code: string, message: string) => {
      log.error = code;
      answer(status, `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message><Resource>${escapeXml(url.pathname)}</Resource><RequestId>emulated</RequestId></Error>`);
    };
    const caller = credentialScopeOf(request.headers.authorization);
    /** The caller's refusal for these authorisations, or undefined when IAM allows them all. */
    const refusal = async (requests: AuthorizationRequest[]) => {
      const verdict = await this.iam.authorize(caller?.accessKeyId, requests, { region: caller?.region ?? 'us-east-1' });
      if (verdict.allowed) return undefined;
      log.denied = verdict.reason;
      return verdict;
    };

    if (!caller) return error(403, 'AccessDenied', 'Access Denied');
    const bucket = this.buckets.get(bucketName);
    if (!bucket) return error(404, 'NoSuchBucket', 'The specified bucket does not exist');
    const operation =
      request.method === 'PUT' && key ? s3ObjectAuthorization('s3:PutObject', bucketName, key)
      : request.method === 'GET' && key ? s3ObjectAuthorization('s3:GetObject', bucketName, key)
      : request.method === 'GET' && url.searchParams.get('list-type') === '2' ? s3ListAuthorization(bucketName, url.searchParams)
      : undefined;
    if (!operation) return error(501, 'NotImplemented', `${request.method} ${url.pathname}${url.search} is not emulated`);
    const refused = await refusal([operation]);
    if (refused?.code === 'InvalidClientTokenId') return error(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
    if (refused) return error(403, 'AccessDenied', refused.message);

    if (request.method === 'PUT') {
      // A conditional write (If-None-Match: *) succeeds only where the key holds nothing yet, as S3's does.
      if (request.headers['if-none-match'] === '*' && bucket.has(key)) return error(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
      const content = /aws-chunked/.test(String(request.headers['content-encoding'] ?? '')) ? decodeAwsChunked(body) : body;
      bucket.set(key, { body: content, contentType: String(request.headers['content-type'] ?? 'binary/octet-stream'), modified: new Date() });
      return answer(200, '', { etag: etagOf(content) });
    }
    if (key) {
      const object = bucket.get(key);
      if (!object) {
        // S3 says whether a key exists only to a caller who may list the bucket; others get 403 (GetObject, API reference).
        if (await refusal([{ action: 's3:ListBucket', resource: `arn:aws:s3:::${bucketName}`, context: {} }])) return error(403, 'AccessDenied', 'Access Denied');
        return error(404, 'NoSuchKey', 'The specified key does not exist.');
      }
      this.requests.push({ ...log, status: 200 });
      response.writeHead(200, { 'content-type': object.contentType, 'content-length': String(object.body.length), etag: etagOf(object.body), 'last-modified': object.modified.toUTCString() });
      response.end(object.body);
      return;
    }
    const prefix = url.searchParams.get('prefix') ?? '';
    const maxKeys = Number(url.searchParams.get('max-keys') ?? 1000);
    const after = url.searchParams.get('continuation-token') ?? url.searchParams.get('start-after') ?? '';
    const keys = [...bucket.keys()].filter((candidate) => candidate.startsWith(prefix) && candidate > after).sort();
    const page = keys.slice(0, maxKeys);
    const truncated = keys.length > page.length;
    const contents = page
      .map((name) => {
        const object = bucket.get(name)!;
        return `<Contents><Key>${escapeXml(name)}</Key><LastModified>${object.modified.toISOString()}</LastModified><ETag>${escapeXml(etagOf(object.body))}</ETag><Size>${object.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
      })
      .join('');
    return answer(
      200,
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${bucketName}</Name><Prefix>${escapeXml(prefix)}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${truncated ? `<NextContinuationToken>${escapeXml(page.at(-1)!)}</NextContinuationToken>` : ''}${contents}</ListBucketResult>`,
    );
  }
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** `<hex size>[;chunk-signature=...]\r\n<data>\r\n` ... `0\r\n<trailers>\r\n`: the SDK's streaming upload with a checksum trailer. */
function decodeAwsChunked(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', at);
    const size = parseInt(body.subarray(at, lineEnd).toString('latin1').split(';')[0]!, 16);
    if (!size) return Buffer.concat(parts);
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

const etagOf = (body: Buffer) => `"${createHash('md5').update(body).digest('hex')}"`;
const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
