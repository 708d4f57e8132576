import { LAMBDA_ARN_PREFIX } from '../definition.ts';
import type { LambdaFunction } from './runtime.ts';

/** The stand-ins' names for the stack's deploy-time values (the bucket, the copies' network). */
export interface StackStandIns {
  bucket: string;
  subnetGroup: string;
  securityGroup: string;
}

/** A deploy-time value of the synthesised RestoreDrillStack (Ref, Fn::GetAtt) as the emulators know it; undefined for any other. */
export function stackTokenResolver(standIns: StackStandIns): (value: unknown) => string | undefined {
  return (value) => {
    if (typeof value === 'string') return value;
    const id = (value as { Ref?: string }).Ref ?? (value as { 'Fn::GetAtt'?: [string] })['Fn::GetAtt']?.[0] ?? '';
    if (id.startsWith('RestoreDrillReports')) return (value as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt']?.[1] === 'Arn' ? `arn:aws:s3:::${standIns.bucket}` : standIns.bucket;
    if (id.startsWith('RestoreDrillCopySubnetGroup')) return standIns.subnetGroup;
    if (id.startsWith('RestoreDrillCopySecurityGroup')) return standIns.securityGroup;
    return undefined;
  };
}

/** Every Task state of the definition (the Map's included) mapped to the sandbox of the function its Resource names. */
export function taskHandlers(definition: Record<string, unknown>, functions: Map<string, LambdaFunction>): Record<string, (input: unknown) => Promise<unknown>> {
  const mapped: Record<string, (input: unknown) => Promise<unknown>> = {};
  const visit = (states: Record<string, Record<string, unknown>>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task') {
        const fn = functions.get(String(state.Resource).slice(LAMBDA_ARN_PREFIX.length));
        if (!fn) throw new Error(`no function for the task ${name} (${String(state.Resource)})`);
        mapped[name] = (input) => fn.invoke(input);
      }
      const inner = (state.ItemProcessor as { States?: Record<string, Record<string, unknown>> } | undefined)?.States;
      if (inner) visit(inner);
    }
  };
  visit(definition.States as Record<string, Record<string, unknown>>);
  return mapped;
}
