import { lambdaDependencies, REPORTS_BUCKET_ENV } from '../lib/drill/lambdaDependencies.ts';
import { requiredEnv } from '../lib/util/env.ts';
import { drillTasks, type DrillSummary } from '../lib/drill/tasks.ts';

const dependencies = lambdaDependencies();
const bucket = requiredEnv(REPORTS_BUCKET_ENV);

// Only Report makes the evidence page: its charting library stays out of the other bundles.
const tasks = drillTasks({
  ...dependencies,
  publishEvidence: async (now) => {
    const [{ S3Client }, { publishEvidence }] = await Promise.all([import('@aws-sdk/client-s3'), import('../lib/evidence/publish.ts')]);
    return publishEvidence(new S3Client({}), bucket, now);
  },
});

export const handler = (input: { drills: DrillSummary[] }) => tasks.report(input);
