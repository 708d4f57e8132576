import type { RestoreDrillConfig } from '../lib/config/schema.ts';
import { CONFIG_ENV } from '../lib/drill/lambdaDependencies.ts';
import { runJanitor } from '../lib/janitor.ts';
import { requiredEnv } from '../lib/util/env.ts';

const config = JSON.parse(requiredEnv(CONFIG_ENV)) as RestoreDrillConfig;

/** Scheduled: removes our copies past their expiry. */
export const handler = async () => {
  const result = await runJanitor(config);
  console.log(JSON.stringify(result));
  if (result.failed.length > 0) throw new Error(`${result.failed.length} expired copies could not be removed: ${result.failed.map((copy) => `${copy.name} (${copy.error})`).join('; ')}`);
  return result;
};
