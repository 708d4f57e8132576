export { auroraProvider, auroraInstanceId, type AuroraCopyHandle } from './aurora.ts';
export { rdsInstanceProvider, type RdsCopyHandle } from './instance.ts';
export { AwsApiError, explainAwsError } from './errors.ts';
export type { AwsProviderOptions } from './api.ts';
export { MANAGED_TAG, EXPIRES_TAG, DRILL_TAG } from './tags.ts';
