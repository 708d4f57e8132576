import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IamAuthority } from './authority.ts';
import type { PolicyDocument, Principal } from './types.ts';

/** The least-privilege policy for the CLI's user, as the README prints it. */
export const CLI_POLICY_FILE = join(import.meta.dirname, '..', '..', '..', 'examples', 'iam', 'cli-policy.json');
/** The key useFakeAwsCredentials (test/emulators/rds/world.ts) gives the CLI and the providers in tests. */
export const CLI_ACCESS_KEY_ID = 'AKIAEMULATOR000000000';
export const CLI_SECRET_ACCESS_KEY = 'emulator-secret-access-key';
/** The example policy's account, which is also the emulators' default account. */
export const CLI_ACCOUNT_ID = '123456789012';

/** The IAM user the CLI runs as, with examples/iam/cli-policy.json as its only policy. */
export function cliPrincipal(): Principal {
  const policy = JSON.parse(readFileSync(CLI_POLICY_FILE, 'utf8')) as PolicyDocument;
  return {
    name: 'restore-drill-cli',
    arn: `arn:aws:iam::${CLI_ACCOUNT_ID}:user/restore-drill-cli`,
    accountId: CLI_ACCOUNT_ID,
    accessKeyId: CLI_ACCESS_KEY_ID,
    secretAccessKey: CLI_SECRET_ACCESS_KEY,
    identityPolicies: [policy],
  };
}

/**
 * An administrator (AdministratorAccess: every action on every resource), for a test that probes what
 * the service itself rejects (a bad parameter, a state that forbids a delete) past IAM, as AWS checks
 * IAM first. Never the credentials of the code under test.
 */
export const ADMINISTRATOR_ACCESS_KEY_ID = 'AKIAADMINISTRATOR000';

export function administratorPrincipal(): Principal {
  return {
    name: 'administrator',
    arn: `arn:aws:iam::${CLI_ACCOUNT_ID}:user/administrator`,
    accountId: CLI_ACCOUNT_ID,
    accessKeyId: ADMINISTRATOR_ACCESS_KEY_ID,
    secretAccessKey: 'administrator-secret-access-key',
    identityPolicies: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }],
  };
}

/**
 * What every emulator enforces unless a test gives it another: the CLI's user (whose key
 * useFakeAwsCredentials sets) and an administrator for probes of the service's own rules.
 */
export function cliAuthority(): IamAuthority {
  return new IamAuthority([cliPrincipal(), administratorPrincipal()]);
}
