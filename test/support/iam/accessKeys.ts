import { createHash } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** AWS access key ids are 20 characters of A-Z and 2-7; this one is the same for the same name, every run. */
export function accessKeyIdFor(name: string): string {
  const digest = createHash('sha256').update(`access-key:${name}`).digest();
  let text = '';
  for (const byte of digest.subarray(0, 16)) text += BASE32[byte % 32];
  return `AKIA${text}`;
}

/** A secret access key to go with it (the emulators do not check signatures, but the SDK needs one to sign). */
export function secretAccessKeyFor(name: string): string {
  return createHash('sha256').update(`secret-key:${name}`).digest('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 40);
}

/**
 * The access key id of a SigV4-signed request, from its Authorization header
 * (`AWS4-HMAC-SHA256 Credential=AKID/20261125/us-east-1/rds/aws4_request, SignedHeaders=..., Signature=...`);
 * undefined when the request is not signed that way.
 */
export function accessKeyIdFromAuthorization(header: string | string[] | undefined): string | undefined {
  return credentialScopeOf(header)?.accessKeyId;
}

/** The whole credential scope of a SigV4 Authorization header: key, date, region, service. */
export function credentialScopeOf(header: string | string[] | undefined): { accessKeyId: string; date: string; region: string; service: string } | undefined {
  const text = Array.isArray(header) ? header[0] : header;
  const match = /^AWS4-HMAC-SHA256\s+Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request\s*,/.exec(text ?? '');
  if (!match) return undefined;
  return { accessKeyId: match[1]!, date: match[2]!, region: match[3]!, service: match[4]! };
}
