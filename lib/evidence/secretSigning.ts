import type { KeyObject } from 'node:crypto';
import { ConfigError } from '../errors.ts';
import type { DrillReport } from '../report/types.ts';
import { privateKeyFromPem, signReport } from './signing.ts';

/** What the signer needs of a Secrets Manager client: the SDK's SecretsManagerClient, or a test's. */
export interface SecretsReader {
  send(command: unknown): Promise<unknown>;
}

/**
 * The cloud's signing key: an Ed25519 private key (PKCS#8 PEM) kept in Secrets Manager, either as the
 * whole SecretString or as its `privateKey` member (a JSON secret). Read once per warm function.
 * A KMS key (ECC_NIST_EDWARDS25519) would keep the key out of the function's memory, but its pure
 * Ed25519 (ED25519_SHA_512) signs only MessageType RAW of at most 4096 bytes, less than a report with
 * many tables, and the prehashed ED25519_PH_SHA_512 is Ed25519ph, which node:crypto does not verify.
 */
export function secretReportSigner(client: SecretsReader, secretId: string): (report: DrillReport) => Promise<DrillReport> {
  let key: Promise<KeyObject> | undefined;
  const load = async (): Promise<KeyObject> => {
    const { GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
    let text: string | undefined;
    try {
      const secret = (await client.send(new GetSecretValueCommand({ SecretId: secretId }))) as { SecretString?: string };
      text = secret.SecretString;
    } catch (error) {
      // The SDK's message names the caller and the secret, never its value.
      throw new ConfigError(`cannot read the report signing key from the secret ${secretId}: ${(error as Error).name}: ${(error as Error).message}`, { cause: error });
    }
    if (!text) throw new ConfigError(`the secret ${secretId} has no SecretString: store the Ed25519 private key as PEM text or as {"privateKey": "<PEM>"}`);
    let pem = text;
    if (text.trimStart().startsWith('{')) {
      const member = (JSON.parse(text) as { privateKey?: unknown }).privateKey;
      if (typeof member !== 'string') throw new ConfigError(`the secret ${secretId} is JSON without a "privateKey" member holding the Ed25519 private key (PEM)`);
      pem = member;
    }
    return privateKeyFromPem(pem, `the key in the secret ${secretId}`);
  };
  return async (report) => {
    key ??= load().catch((error: unknown) => {
      // A refused read is retried by the next report, not cached for the function's lifetime.
      key = undefined;
      throw error;
    });
    return signReport(report, await key);
  };
}
