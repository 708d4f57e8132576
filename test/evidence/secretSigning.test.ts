import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { secretReportSigner } from '../../lib/evidence/secretSigning.ts';
import { signatureStateOf } from '../../lib/evidence/signing.ts';
import { RdsEmulator } from '../emulators/rds/emulator.ts';
import { makeTestCa } from '../emulators/rds/tls.ts';
import { IamAuthority } from '../support/iam/authority.ts';
import type { Principal } from '../support/iam/types.ts';
import { history } from './history.ts';

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

function role(name: string, accessKeyId: string, statements: unknown[]): Principal {
  return {
    name,
    arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${name}Role/${name}`,
    accountId: ACCOUNT,
    accessKeyId,
    secretAccessKey: `${name}-secret-access-key`,
    identityPolicies: [{ Version: '2012-10-17', Statement: statements as never }],
  };
}

let dir: string;
let emulator: RdsEmulator;
let secretArn: string;
let reporter: Principal;
let other: Principal;
const clientOf = (principal: Principal) => new SecretsManagerClient({ region: REGION, endpoint: emulator.url, credentials: { accessKeyId: principal.accessKeyId, secretAccessKey: principal.secretAccessKey }, maxAttempts: 1 });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rd-secret-signing-'));
  const authority = new IamAuthority();
  emulator = new RdsEmulator({ tls: await makeTestCa(dir), region: REGION, accountId: ACCOUNT, iam: authority });
  await emulator.start();
  secretArn = emulator.addSecret('restore-drill/report-signing-key', { privateKey: pem });
  // The Report function may read the signing key and nothing else; another function may not read it.
  reporter = role('Report', 'AKIAREPORTSIGNER0000', [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: secretArn }]);
  other = role('Verify', 'AKIAVERIFYNOSIGNING0', [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:db/*` }]);
  authority.add(reporter).add(other);
});

afterAll(async () => {
  await emulator?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('the cloud signs reports with a key from Secrets Manager, IAM enforced', () => {
  test('the Report role reads the key once and signs; the reports verify with the public key', async () => {
    const sign = secretReportSigner(clientOf(reporter), secretArn);
    const [first, second] = history({ databases: ['app'], days: 2, lastDay: '2026-11-30' }).map((entry) => entry.report);

    const signed = [await sign(first!), await sign(second!)];

    expect(signed.map((report) => signatureStateOf(report, publicKey))).toEqual(['intact', 'intact']);
    expect(emulator.requests.filter((request) => request.action === 'secretsmanager.GetSecretValue' && !request.denied)).toHaveLength(1);
  });

  test('a role without the grant is refused by IAM: the error names the secret and the action, never a key', async () => {
    const sign = secretReportSigner(clientOf(other), secretArn);

    const failure = await sign(history({ databases: ['app'], days: 1, lastDay: '2026-11-30' })[0]!.report).catch((error: Error) => error);

    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).name).toBe('ConfigError');
    expect((failure as Error).message).toMatch(new RegExp(`^cannot read the report signing key from the secret ${secretArn}: AccessDeniedException: .*not authorized to perform: secretsmanager:GetSecretValue`));
    expect((failure as Error).message).not.toContain('PRIVATE KEY');
  });
});
