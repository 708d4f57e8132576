export { neonProvider, type NeonCopyHandle } from './provider.ts';
export { NeonApi, NEON_API_BASE_URL, MANAGED_ANNOTATION, EXPIRES_ANNOTATION, DATABASE_ANNOTATION, type NeonProviderOptions } from './api.ts';
export { neonBranchCapacity, type NeonBranchCapacity } from './capacity.ts';
export { NeonApiError, NeonBranchLimitError, NeonHistoryError, NeonParentRestoredError, NeonPasswordUnavailableError } from './errors.ts';
