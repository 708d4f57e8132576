import { lambdaDependencies } from '../lib/drill/lambdaDependencies.ts';
import { drillTasks, type CleanupInput } from '../lib/drill/tasks.ts';

const tasks = drillTasks(lambdaDependencies());

export const handler = (input: CleanupInput) => tasks.cleanup(input);
