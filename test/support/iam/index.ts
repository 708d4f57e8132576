export { accessKeyIdFor, accessKeyIdFromAuthorization, credentialScopeOf, secretAccessKeyFor } from './accessKeys.ts';
export { IamAuthority, IamSimulationError, type AuthorizeOptions } from './authority.ts';
export { ADMINISTRATOR_ACCESS_KEY_ID, administratorPrincipal, CLI_ACCESS_KEY_ID, CLI_ACCOUNT_ID, CLI_POLICY_FILE, CLI_SECRET_ACCESS_KEY, cliAuthority, cliPrincipal } from './cli.ts';
export { policyProblems } from './policyProblems.ts';
export { defaultKeyPolicy, kmsAuthorizations } from './kms.ts';
export { defaultOptionGroup, defaultParameterGroup, rdsAuthorizations, tagsContext, type RdsInventory, type RdsTag } from './rds.ts';
export { cloudWatchRefusal, getSecretValueAuthorization, putMetricDataAuthorization, s3ListAuthorization, s3ObjectAuthorization } from './services.ts';
export { principalsFromTemplate, type PrincipalsFromTemplateOptions, type TemplateResource } from './template.ts';
export type { AuthorizationAnswer, AuthorizationRequest, PolicyDocument, PolicyStatement, Principal } from './types.ts';
