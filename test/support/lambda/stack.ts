import type { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { StateMachine } from 'aws-local-stepfunctions';
import { definitionFromTemplate, LAMBDA_ARN_PREFIX } from '../definition.ts';
import { IamAuthority } from '../iam/authority.ts';
import { principalsFromTemplate } from '../iam/template.ts';
import type { Principal } from '../iam/types.ts';
import { layOutFunctions, type LambdaFunction } from './runtime.ts';

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

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

/** What the stack's functions reach: the AWS emulator (RDS with Secrets Manager, or another) and the S3 stand-in, each enforcing IAM. */
export interface StackEmulators {
  aws: { iam?: IamAuthority; url: string; accountId: string; region: string };
  s3: { iam?: IamAuthority; url: string };
}

/** A synthesised RestoreDrillStack on the stand-ins: its functions laid out as Lambda lays them out, each with its role. */
export interface StackOnStandIns {
  resources: Resources;
  definition: Record<string, unknown>;
  principals: Map<string, Principal>;
  functions: Map<string, LambdaFunction>;
  machine: StateMachine;
  /** One execution, its tasks run in the functions' sandboxes, waiting `waitForCopyMs` between polls. */
  run(input: Record<string, unknown>, waitForCopyMs: number): ReturnType<StateMachine['run']>;
  remove(): Promise<void>;
}

/**
 * Synthesises `stack` into `outdir`, gives each function its role from the template (changed first by
 * `adjustPrincipals`, as an SCP would), makes both emulators enforce those roles, and lays the functions out.
 */
export async function stackOnStandIns(
  app: App,
  stack: Stack,
  options: { outdir: string; resolve: (value: unknown) => string | undefined; emulators: StackEmulators; adjustPrincipals?: (principals: Map<string, Principal>) => void },
): Promise<StackOnStandIns> {
  const { aws, s3 } = options.emulators;
  const resources = Template.fromStack(stack).toJSON().Resources as Resources;
  app.synth();
  const definition = definitionFromTemplate({ Resources: resources });
  const principals = principalsFromTemplate({ Resources: resources }, { accountId: aws.accountId, region: aws.region, resolve: options.resolve });
  options.adjustPrincipals?.(principals);
  const iam = new IamAuthority(principals.values());
  aws.iam = iam;
  s3.iam = iam;
  const layout = await layOutFunctions(resources, {
    assemblyDir: options.outdir,
    resolve: (value) => options.resolve(value) ?? (() => { throw new Error(`no stand-in for ${JSON.stringify(value)}`); })(),
    credentialsFor: (id) => principals.get(id) ?? (() => { throw new Error(`no role for ${id}`); })(),
    region: aws.region,
    extraEnvironment: { AWS_ENDPOINT_URL_S3: s3.url, AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url },
  });
  const machine = new StateMachine(definition as never, { validationOptions: { checkArn: false } });
  return {
    resources,
    definition,
    principals,
    functions: layout.functions,
    machine,
    run: (input, waitForCopyMs) => machine.run(input as never, { overrides: { taskResourceLocalHandlers: taskHandlers(definition, layout.functions) as never, waitTimeOverrides: { WaitForCopy: waitForCopyMs } } }),
    remove: layout.remove,
  };
}
