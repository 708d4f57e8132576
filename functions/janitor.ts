import { deployedConfig } from '../lib/drill/lambdaDependencies.ts';
import { runJanitor } from '../lib/janitor.ts';

const config = deployedConfig();

/** Scheduled: removes our copies past their expiry. */
export const handler = async () => {
  const result = await runJanitor(config, { aws: { removalWaitMs: 0 } });
  console.log(JSON.stringify(result));
  if (result.failed.length > 0) throw new Error(`${result.failed.length} expired copies could not be removed: ${result.failed.map((copy) => `${copy.name} (${copy.error})`).join('; ')}`);
  return result;
};
