import { lambdaDependencies } from '../lib/drill/lambdaDependencies.ts';
import type { DrillState } from '../lib/drill/steps.ts';
import { drillTasks } from '../lib/drill/tasks.ts';

const tasks = drillTasks(lambdaDependencies());

export const handler = (input: DrillState, context?: { getRemainingTimeInMillis(): number }) => tasks.verify(input, { remainingMs: context?.getRemainingTimeInMillis() });
