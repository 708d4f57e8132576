import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.ts';
import type { DrillReport, ReportSignature } from '../report/types.ts';

/** Where the CLI finds the signing key: PEM text in the first, or a PEM file named by the second. */
export const SIGNING_KEY_ENV = 'RESTORE_DRILL_SIGNING_KEY';
export const SIGNING_KEY_FILE_ENV = 'RESTORE_DRILL_SIGNING_KEY_FILE';

/**
 * What a report's signature says about it:
 * - `intact`: signed by the given key, not a byte of its content changed since;
 * - `altered`: signed with the given key's id, but the content or the signature no longer match;
 * - `other-key`: signed by another key (or its key id was changed): it cannot be vouched for with this key;
 * - `unsigned`: no signature;
 * - `unchecked`: signed, but no public key was given to check it.
 */
export type SignatureState = 'intact' | 'altered' | 'other-key' | 'unsigned' | 'unchecked';

/**
 * JSON with object keys sorted by code point at every level and no whitespace; members whose value is
 * undefined are left out, as JSON.stringify leaves them out. Numbers and strings are written as
 * JSON.stringify writes them (ECMAScript's shortest form), which is what RFC 8785 prescribes too.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value);
    // undefined, functions and symbols have no JSON form; inside arrays JSON writes null for them.
    return text === undefined ? 'null' : text;
  }
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  const record = value as Record<string, unknown>;
  const members = Object.keys(record)
    .filter((key) => record[key] !== undefined && typeof record[key] !== 'function')
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`);
  return `{${members.join(',')}}`;
}

/** The bytes a signature covers: the whole report with its signature's algorithm and key id, the signature's value left out. */
export function signedBytes(report: DrillReport, signature: Pick<ReportSignature, 'algorithm' | 'keyId'>): Buffer {
  const { signature: _dropped, ...content } = report;
  return Buffer.from(canonicalJson({ ...content, signature: { algorithm: signature.algorithm, keyId: signature.keyId } }), 'utf8');
}

/** A public key's id: the first 16 hex digits of the SHA-256 of its SubjectPublicKeyInfo (DER). */
export function keyIdOf(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** The report with a fresh signature (any earlier one is replaced: a report is saved again after delivery). */
export function signReport(report: DrillReport, privateKey: KeyObject): DrillReport {
  const header = { algorithm: 'Ed25519' as const, keyId: keyIdOf(privateKey) };
  const value = sign(null, signedBytes(report, header), privateKey).toString('base64');
  const { signature: _old, ...content } = report;
  return { ...content, signature: { ...header, value } };
}

/** The state of one report against a public key (none: signed reports are `unchecked`). */
export function signatureStateOf(report: DrillReport, publicKey: KeyObject | undefined): SignatureState {
  const signature = report.signature as Partial<ReportSignature> | undefined;
  if (!signature || typeof signature !== 'object') return 'unsigned';
  if (!publicKey) return 'unchecked';
  if (signature.keyId !== keyIdOf(publicKey)) return 'other-key';
  if (signature.algorithm !== 'Ed25519' || typeof signature.value !== 'string') return 'altered';
  try {
    return verify(null, signedBytes(report, { algorithm: 'Ed25519', keyId: signature.keyId }), publicKey, Buffer.from(signature.value, 'base64')) ? 'intact' : 'altered';
  } catch {
    return 'altered';
  }
}

function ed25519(key: KeyObject, where: string): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new ConfigError(`${where} is a ${key.asymmetricKeyType ?? key.type} key; reports are signed with Ed25519 (openssl genpkey -algorithm ed25519 -out signing.pem)`);
  }
  return key;
}

/** A private key in PEM (PKCS#8), as `openssl genpkey -algorithm ed25519` writes it. */
export function privateKeyFromPem(pem: string, where: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw new ConfigError(`${where} is not a PEM private key (${(error as Error).message}); create one with: openssl genpkey -algorithm ed25519 -out signing.pem`, { cause: error });
  }
  return ed25519(key, where);
}

/**
 * `--public-key`: a PEM file's path or PEM text (`openssl pkey -in signing.pem -pubout`); a private
 * key is accepted too and its public half used.
 */
export async function loadPublicKey(value: string): Promise<KeyObject> {
  const inline = value.includes('-----BEGIN');
  const where = inline ? 'the public key given' : `the public key file ${value}`;
  const pem = inline
    ? value
    : await readFile(value, 'utf8').catch((error: NodeJS.ErrnoException) => {
        throw new ConfigError(`cannot read ${where}: ${error.code ?? error.message}`, { cause: error });
      });
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (error) {
    throw new ConfigError(`${where} is not a PEM public key (${(error as Error).message}); make one with: openssl pkey -in signing.pem -pubout -out signing.pub.pem`, { cause: error });
  }
  return ed25519(key, where);
}

/** The CLI's signing key from the environment, or undefined when neither variable is set (reports are then unsigned). */
export async function signingKeyFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<KeyObject | undefined> {
  const inline = env[SIGNING_KEY_ENV];
  if (inline) return privateKeyFromPem(inline, `the key in ${SIGNING_KEY_ENV}`);
  const file = env[SIGNING_KEY_FILE_ENV];
  if (!file) return undefined;
  const pem = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new ConfigError(`cannot read the signing key file ${file} (${SIGNING_KEY_FILE_ENV}): ${error.code ?? error.message}`, { cause: error });
  });
  return privateKeyFromPem(pem, `the key file ${file} (${SIGNING_KEY_FILE_ENV})`);
}

/** Signs the report when a signing key is configured in the environment; returns it unchanged otherwise. */
export async function signWithConfiguredKey(report: DrillReport, env: NodeJS.ProcessEnv = process.env): Promise<DrillReport> {
  const key = await signingKeyFromEnv(env);
  return key ? signReport(report, key) : report;
}
