import { lambdaDependencies } from '../lib/drill/lambdaDependencies.ts';
import { drillTasks, type DrillSummary } from '../lib/drill/tasks.ts';

const tasks = drillTasks(lambdaDependencies());

export const handler = (input: { drills: DrillSummary[] }) => tasks.report(input);
