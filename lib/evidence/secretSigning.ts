import type { KeyObject } from 'node:crypto';
import { ConfigError, RestoreDrillError } from '../errors.ts';
import type { DrillReport } from '../report/types.ts';
import { privateKeyFromPem, signReport } from './signing.ts';

/** The signing key's secret, in the environment of each function that writes reports (the stack sets it from `signingKeySecretArn`). */
export const SIGNING_KEY_SECRET_ENV = 'RESTORE_DRILL_SIGNING_KEY_SECRET_ARN';

/** A report that could not be signed: it was stored unsigned, and says so in its error. */
export class ReportSigningError extends RestoreDrillError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('tool', message, options);
    this.name = 'ReportSigningError';
  }
}

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

/**
 * Records on the report that it could not be signed, as its error (unless it has one already: that
 * one says more about the drill) and so as an `error` status where it had passed. Such a report is
 * still stored: unsigned, it reads as such to verify-report and the evidence page, and the run's
 * metrics, alarms and Slack say why; dropped, it would be a drill missing from the history.
 */
export function recordUnsigned(report: DrillReport, cause: unknown): void {
  const failure = new ReportSigningError(
    `the report is stored unsigned: ${(cause as Error).message ?? String(cause)}; the functions that write reports must read the stack's SigningKeySecretArn (restore-drill cloud check simulates it)`,
    { cause },
  );
  report.error ??= { step: 'report', message: failure.message, kind: failure.kind, name: failure.name };
  if (report.status === 'passed') report.status = 'error';
}

/** The signer of a function the stack gave a signing key (SIGNING_KEY_SECRET_ENV), or undefined; the SDK loads at the first report. */
export function reportSignerFromEnv(env: NodeJS.ProcessEnv = process.env): ((report: DrillReport) => Promise<DrillReport>) | undefined {
  const secretId = env[SIGNING_KEY_SECRET_ENV];
  if (!secretId) return undefined;
  let client: Promise<{ send(command: unknown): Promise<unknown> }> | undefined;
  const lazy: SecretsReader = {
    send: async (command) => {
      client ??= import('@aws-sdk/client-secrets-manager').then((sdk) => new sdk.SecretsManagerClient({}) as unknown as { send(command: unknown): Promise<unknown> });
      return (await client).send(command);
    },
  };
  return secretReportSigner(lazy, secretId);
}
