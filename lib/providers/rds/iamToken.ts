import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, Checksum, SourceData } from '@smithy/types';

/** SHA-256 (or its HMAC with a key) as SignatureV4 wants it, from Node's crypto. */
class Sha256 implements Checksum {
  private hash: Hash | Hmac;
  private readonly secret: SourceData | undefined;
  constructor(secret?: SourceData) {
    this.secret = secret;
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', typeof this.secret === 'string' ? this.secret : Buffer.from(this.secret as Uint8Array));
  }
  update(data: Uint8Array | string): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

/** RFC 3986 escaping, as the signer canonicalises query values. */
const escape = (value: string) => encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * An RDS IAM authentication token: the SigV4-presigned `connect` request of a database user, valid
 * for 15 minutes (what @aws-sdk/rds-signer makes). Signed with the RDS client's own credentials, so
 * that no other credential chain is loaded or bundled.
 */
export async function iamAuthToken(request: {
  hostname: string;
  port: number;
  username: string;
  region: string;
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
}): Promise<string> {
  const { SignatureV4 } = await import('@smithy/signature-v4');
  const signer = new SignatureV4({ service: 'rds-db', region: request.region, credentials: request.credentials, sha256: Sha256 });
  const presigned = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname: request.hostname,
      port: request.port,
      path: '/',
      query: { Action: 'connect', DBUser: request.username },
      headers: { host: `${request.hostname}:${request.port}` },
    },
    { expiresIn: 900 },
  );
  const signed = presigned.query ?? {};
  const query = Object.keys(signed)
    .sort()
    .map((key) => `${escape(key)}=${escape(String(signed[key]))}`)
    .join('&');
  return `${request.hostname}:${request.port}/?${query}`;
}
