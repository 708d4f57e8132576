import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { DrillState } from '../drill/steps.ts';
import { awsErrorName, awsErrorText } from './awsErrors.ts';

/** What Plan answers for one database: its window and claimed RPO, or why it could not read them. */
export interface PlannedDatabase {
  name: string;
  provider: string;
  window?: { earliest: string; latest: string; note?: string };
  rpoClaimedSeconds?: number;
  rpoTargetSeconds?: number;
  error?: string;
}

export interface PlanCheck {
  /** pass: every window read; fail: Plan failed or a window could not be read; incomplete: Plan could not be invoked. */
  status: 'pass' | 'fail' | 'incomplete';
  functionName: string | undefined;
  databases: PlannedDatabase[];
  /** Lambda's own answer when the function failed (FunctionError): an init crash reads Runtime.ImportModuleError. */
  functionError?: { errorType: string; errorMessage: string };
  message?: string;
}

/** The dry run: Plan only reads each database's restore window and resolves its target; it creates nothing (lib/drill/tasks.ts). */
export const PLAN_DRY_RUN = { mode: 'drill', trigger: 'manual' } as const;

export async function checkPlan(lambda: LambdaClient, functionName: string | undefined): Promise<PlanCheck> {
  if (!functionName) return { status: 'fail', functionName, databases: [], message: 'the stack has no PlanFunctionName output: deploy a stack that writes the deployment outputs (lib/infra/outputs.ts)' };
  let output;
  try {
    output = await lambda.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'RequestResponse', Payload: new TextEncoder().encode(JSON.stringify(PLAN_DRY_RUN)) }));
  } catch (error) {
    const name = awsErrorName(error);
    if (name === 'ResourceNotFoundException') {
      return { status: 'fail', functionName, databases: [], message: `Lambda has no function ${functionName}, which the stack names: it was deleted outside CloudFormation; run cdk deploy again (${awsErrorText(error)})` };
    }
    const hint = name === 'AccessDeniedException' ? ': allow this identity lambda:InvokeFunction on the Plan function (see the README\'s policy for cloud check)' : '';
    return { status: 'incomplete', functionName, databases: [], message: `could not invoke ${functionName}: ${awsErrorText(error)}${hint}` };
  }
  const text = output.Payload ? new TextDecoder().decode(output.Payload) : '';
  if (output.FunctionError) {
    const failure = parseJson(text) as { errorType?: unknown; errorMessage?: unknown } | undefined;
    const errorType = typeof failure?.errorType === 'string' ? failure.errorType : output.FunctionError;
    const errorMessage = typeof failure?.errorMessage === 'string' ? failure.errorMessage : text;
    return { status: 'fail', functionName, databases: [], functionError: { errorType, errorMessage }, message: `Plan failed (${output.FunctionError}): ${errorType}: ${firstLines(errorMessage)}` };
  }
  const answer = parseJson(text) as { drills?: DrillState[] } | undefined;
  if (!Array.isArray(answer?.drills)) return { status: 'fail', functionName, databases: [], message: `Plan answered something that is not a plan: ${firstLines(text)}` };
  const databases = answer.drills.map((drill): PlannedDatabase => {
    const report = drill.report;
    return {
      name: report.database,
      provider: report.provider,
      ...(report.window ? { window: report.window } : {}),
      ...(report.rpo.claimedSeconds !== null ? { rpoClaimedSeconds: report.rpo.claimedSeconds } : {}),
      rpoTargetSeconds: report.rpo.targetSeconds,
      ...(report.error ? { error: report.error.message } : {}),
    };
  });
  return { status: databases.some((database) => database.error || !database.window) ? 'fail' : 'pass', functionName, databases };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Lambda's error messages carry a require stack or a trace: the first lines say what happened. */
function firstLines(text: string, lines = 3): string {
  const all = text.split('\n');
  return all.slice(0, lines).join('\n') + (all.length > lines ? ' ...' : '');
}
