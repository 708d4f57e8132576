import type { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * Reads a secret's SecretString, loading the SDK at the first read: a Lambda function that reads no
 * secret never loads it (each SDK package costs tens of milliseconds of cold start).
 */
export function secretStrings(): (arn: string) => Promise<string | undefined> {
  let sdk: Promise<{ client: SecretsManagerClient; Command: typeof GetSecretValueCommand }> | undefined;
  return async (arn) => {
    sdk ??= import('@aws-sdk/client-secrets-manager').then((module) => ({ client: new module.SecretsManagerClient({}), Command: module.GetSecretValueCommand }));
    const { client, Command } = await sdk;
    return (await client.send(new Command({ SecretId: arn }))).SecretString;
  };
}
