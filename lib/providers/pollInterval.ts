import type { ProviderConfig } from '../config/schema.ts';

/**
 * How often the drill polls a copy being restored, for each kind of provider. Here rather than in each
 * provider so that providerFor knows it before the provider's module (and its SDK) is loaded.
 */
export const POLL_INTERVAL_MS = {
  // A poll reads postmaster.pid: cheap enough to ask often, so that promotion is noticed at once.
  local: 25,
  // DescribeDB* is throttled per account: a restore takes minutes, so ask every 15 s.
  rds: 15_000,
  aurora: 15_000,
  // The drill's default.
  neon: undefined,
  // A copy restored by pgbackrest is served by the local engine: as cheap to poll.
  pgbackrest: 25,
} as const satisfies Record<ProviderConfig['kind'], number | undefined>;
