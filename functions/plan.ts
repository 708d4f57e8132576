import { lambdaDependencies } from '../lib/drill/lambdaDependencies.ts';
import { drillTasks, type ExecutionInput } from '../lib/drill/tasks.ts';

const tasks = drillTasks(lambdaDependencies());

export const handler = (input: ExecutionInput) => tasks.plan(input);
