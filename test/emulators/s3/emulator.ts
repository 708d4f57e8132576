import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { credentialScopeOf } from '../../support/iam/accessKeys.ts';
import type { IamAuthority } from '../../support/iam/authority.ts';
import { cliAuthority } from '../../support/iam/cli.ts';
import { s3ListAuthorization, s3ObjectAuthorization } from '../../support/iam/services.ts';
import type { AuthorizationRequest } from '../../support/iam/types.ts';

/** A bucket as S3 holds it: versioning, and Object Lock's default retention (which needs versioning, as S3 says). */
export interface S3BucketSettings {
  versioned?: boolean;
  objectLock?: { mode: 'GOVERNANCE' | 'COMPLIANCE'; days: number };
}

/** One version of a key, or a delete marker, oldest first. */
export interface S3ObjectVersion {
  versionId: string;
  body: Buffer;
  contentType: string;
  modified: Date;
  deleteMarker?: boolean;
  /** Object Lock: the version cannot be deleted before retainUntil (governance: but with the bypass). */
  retention?: { mode: 'GOVERNANCE' | 'COMPLIANCE'; retainUntil: Date };
}

export interface S3EmulatorOptions {
  /** Who may call what; every request is authorised before it acts. @default the CLI's user alone (cliAuthority()) */
  iam?: IamAuthority;
  /** Buckets that are versioned or locked, by name (S3Emulator.bucketSettingsOf reads them from a template). @default plain buckets */
  buckets?: Record<string, S3BucketSettings>;
  /** The clock retention is judged by. @default the system clock */
  now?: () => Date;
}

/**
 * The S3 calls the reports bucket gets (PutObject, GetObject, ListObjectsV2, DeleteObject), path-style,
 * with the shapes of the S3 API reference: XML list results, XML errors (NoSuchKey, NoSuchBucket), ETags.
 * A request without a SigV4 Authorization header is refused (AccessDenied), as S3 would; a signed one
 * is authorised against its caller's policies (s3:GetObject, s3:PutObject, s3:ListBucket with s3:prefix,
 * s3:DeleteObject, and the Version actions with a versionId).
 * A versioned bucket keeps every version; a delete without a versionId adds a delete marker. With Object
 * Lock, each new version takes the bucket's default retention; a write must carry Content-MD5 or an
 * x-amz-checksum header (or trailer); a retained version cannot be deleted: in compliance mode by no
 * one, in governance mode only with x-amz-bypass-governance-retention: true and s3:BypassGovernanceRetention.
 */
export class S3Emulator {
  /** The current object of each key (a key whose newest version is a delete marker has none). */
  readonly buckets = new Map<string, Map<string, { body: Buffer; contentType: string; modified: Date }>>();
  private readonly versions = new Map<string, Map<string, S3ObjectVersion[]>>();
  private readonly settings: Record<string, S3BucketSettings>;
  private readonly now: () => Date;
  readonly requests: { method: string; bucket: string; key: string; status: number; error?: string; denied?: string }[] = [];
  /** Who may call what; a test may swap it at any time. */
  iam: IamAuthority;
  private server: Server | undefined;
  url = '';

  constructor(bucketNames: readonly string[], options: S3EmulatorOptions = {}) {
    for (const name of bucketNames) this.buckets.set(name, new Map());
    this.iam = options.iam ?? cliAuthority();
    this.settings = {};
    this.now = options.now ?? (() => new Date());
    for (const [name, settings] of Object.entries(options.buckets ?? {})) this.configureBucket(name, settings);
  }

  /** Makes an empty bucket versioned or locked (a test that learns the settings from the synthesised template). */
  configureBucket(name: string, settings: S3BucketSettings): void {
    if (!this.buckets.has(name)) throw new Error(`settings for ${name}, which is not one of the buckets`);
    if (this.buckets.get(name)!.size) throw new Error(`${name} holds objects already: configure it before it is written`);
    // S3: "Object Lock requires versioning"; a bucket with Object Lock cannot suspend it.
    if (settings.objectLock && !settings.versioned) throw new Error(`${name}: Object Lock needs a versioned bucket (InvalidBucketState)`);
    this.settings[name] = settings;
    if (settings.versioned) this.versions.set(name, new Map());
  }

  /** A bucket's settings as its CloudFormation properties give them (VersioningConfiguration, ObjectLockConfiguration). */
  static bucketSettingsOf(properties: Record<string, unknown>): S3BucketSettings {
    const versioning = properties.VersioningConfiguration as { Status?: string } | undefined;
    const lock = properties.ObjectLockConfiguration as { ObjectLockEnabled?: string; Rule?: { DefaultRetention?: { Mode?: 'GOVERNANCE' | 'COMPLIANCE'; Days?: number; Years?: number } } } | undefined;
    const retention = lock?.ObjectLockEnabled === 'Enabled' ? lock.Rule?.DefaultRetention : undefined;
    return {
      versioned: versioning?.Status === 'Enabled',
      ...(retention?.Mode ? { objectLock: { mode: retention.Mode, days: retention.Days ?? (retention.Years ?? 0) * 365 } } : {}),
    };
  }

  /** Every version of a key (delete markers too), oldest first; empty for a bucket that is not versioned. */
  versionsOf(bucket: string, key: string): S3ObjectVersion[] {
    return [...(this.versions.get(bucket)?.get(key) ?? [])];
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
    const versionId = url.searchParams.get('versionId') ?? undefined;
    // PutObjectRetention, PutObjectLegalHold and the like are not emulated: refused, never taken for a plain write.
    const subresource = [...url.searchParams.keys()].find((name) => name !== 'x-id' && name !== 'versionId');
    const objectArn = `arn:aws:s3:::${bucketName}/${key}`;
    // With a versionId, S3 authorises the Version actions (the Service Authorization Reference).
    const operation =
      request.method === 'PUT' && key && !subresource ? s3ObjectAuthorization('s3:PutObject', bucketName, key)
      : request.method === 'GET' && key ? (versionId ? { action: 's3:GetObjectVersion', resource: objectArn, context: {} } : s3ObjectAuthorization('s3:GetObject', bucketName, key))
      : request.method === 'DELETE' && key ? { action: versionId ? 's3:DeleteObjectVersion' : 's3:DeleteObject', resource: objectArn, context: {} }
      : request.method === 'GET' && url.searchParams.get('list-type') === '2' ? s3ListAuthorization(bucketName, url.searchParams)
      : undefined;
    if (!operation) return error(501, 'NotImplemented', `${request.method} ${url.pathname}${url.search} is not emulated`);
    const refused = await refusal([operation]);
    if (refused?.code === 'InvalidClientTokenId') return error(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
    if (refused) return error(403, 'AccessDenied', refused.message);
    const settings = this.settings[bucketName] ?? {};
    const history = this.versions.get(bucketName);

    if (request.method === 'PUT') {
      const lock = settings.objectLock;
      // S3 refuses an unchecked body where a retention applies (the bucket's default retention here).
      if (lock && !request.headers['content-md5'] && !Object.keys(request.headers).some((name) => name.startsWith('x-amz-checksum-')) && !/^x-amz-checksum-/.test(String(request.headers['x-amz-trailer'] ?? ''))) {
        return error(400, 'InvalidRequest', 'Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters');
      }
      // A conditional write (If-None-Match: *) succeeds only where the key holds nothing yet, as S3's does.
      if (request.headers['if-none-match'] === '*' && bucket.has(key)) return error(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
      const content = /aws-chunked/.test(String(request.headers['content-encoding'] ?? '')) ? decodeAwsChunked(body) : body;
      const modified = this.now();
      const object = { body: content, contentType: String(request.headers['content-type'] ?? 'binary/octet-stream'), modified };
      bucket.set(key, object);
      if (!history) return answer(200, '', { etag: etagOf(content) });
      const version: S3ObjectVersion = { versionId: newVersionId(), ...object, ...(lock ? { retention: { mode: lock.mode, retainUntil: new Date(modified.getTime() + lock.days * 86_400_000) } } : {}) };
      history.set(key, [...(history.get(key) ?? []), version]);
      return answer(200, '', { etag: etagOf(content), 'x-amz-version-id': version.versionId });
    }
    if (request.method === 'DELETE') {
      const versions = history?.get(key) ?? [];
      if (!history) {
        bucket.delete(key);
        return answer(204, '');
      }
      if (!versionId) {
        // A versioned bucket keeps the data: the delete is a marker on top, which Object Lock allows.
        const marker: S3ObjectVersion = { versionId: newVersionId(), body: Buffer.alloc(0), contentType: '', modified: this.now(), deleteMarker: true };
        history.set(key, [...versions, marker]);
        bucket.delete(key);
        return answer(204, '', { 'x-amz-delete-marker': 'true', 'x-amz-version-id': marker.versionId });
      }
      const version = versions.find((candidate) => candidate.versionId === versionId);
      if (!version) return answer(204, '', { 'x-amz-version-id': versionId });
      const retained = version.retention && version.retention.retainUntil.getTime() > this.now().getTime() ? version.retention : undefined;
      if (retained) {
        const bypass = String(request.headers['x-amz-bypass-governance-retention'] ?? '').toLowerCase() === 'true';
        const mayBypass = retained.mode === 'GOVERNANCE' && bypass && !(await refusal([{ action: 's3:BypassGovernanceRetention', resource: objectArn, context: {} }]));
        if (!mayBypass) return error(403, 'AccessDenied', 'Access Denied because object protected by Object Lock');
      }
      history.set(key, versions.filter((candidate) => candidate !== version));
      const newest = history.get(key)!.at(-1);
      if (newest && !newest.deleteMarker) bucket.set(key, { body: newest.body, contentType: newest.contentType, modified: newest.modified });
      else bucket.delete(key);
      if (!history.get(key)!.length) history.delete(key);
      return answer(204, '', { 'x-amz-version-id': versionId, ...(version.deleteMarker ? { 'x-amz-delete-marker': 'true' } : {}) });
    }
    if (key) {
      const chosen = versionId ? history?.get(key)?.find((candidate) => candidate.versionId === versionId && !candidate.deleteMarker) : undefined;
      if (versionId && !chosen) return error(404, 'NoSuchVersion', 'The specified version does not exist.');
      const object = chosen ?? bucket.get(key);
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

const newVersionId = () => randomBytes(24).toString('base64url');
const etagOf = (body: Buffer) => `"${createHash('md5').update(body).digest('hex')}"`;
const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
