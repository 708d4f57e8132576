import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { IAMClient } from '@aws-sdk/client-iam';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { Callers, type Caller } from './auth.ts';
import { CloudFormationStandIn } from './cloudformation.ts';
import { CloudWatchStandIn } from './cloudwatch.ts';
import { deployTemplate, type DeployedStack, type PolicyDocument, type Template } from './deployment.ts';
import { IamStandIn } from './iam.ts';
import { LambdaStandIn } from './lambda.ts';

export const ACCOUNT = '123456789012';
const SECRET = 'stand-in-secret-access-key';

/**
 * The four services `restore-drill cloud check` calls, on loopback, over one set of deployed stacks
 * and one set of callers (access keys with their identity policies). The real SDK clients reach them
 * through their endpoint settings (or AWS_ENDPOINT_URL_<SERVICE> for the CLI).
 */
export class CloudCheckWorld {
  readonly stacks: DeployedStack[] = [];
  readonly callers = new Callers();
  readonly cloudFormation: CloudFormationStandIn;
  readonly lambda: LambdaStandIn;
  readonly iam: IamStandIn;
  readonly cloudWatch: CloudWatchStandIn;

  private constructor() {
    const stacks = () => this.stacks;
    this.cloudFormation = new CloudFormationStandIn(this.callers, stacks);
    this.lambda = new LambdaStandIn(this.callers, stacks);
    this.iam = new IamStandIn(this.callers, stacks);
    this.cloudWatch = new CloudWatchStandIn(this.callers, stacks);
  }

  static async start(): Promise<CloudCheckWorld> {
    const world = new CloudCheckWorld();
    await Promise.all([world.cloudFormation.start(), world.lambda.start(), world.iam.start(), world.cloudWatch.start()]);
    return world;
  }

  async stop(): Promise<void> {
    await Promise.all([this.cloudFormation.stop(), this.lambda.stop(), this.iam.stop(), this.cloudWatch.stop()]);
  }

  deploy(template: Template, options: { stackName: string; region: string }): DeployedStack {
    const stack = deployTemplate(template, { ...options, account: ACCOUNT });
    this.stacks.push(stack);
    return stack;
  }

  /** A user with these identity policies, signing with its own access key. */
  addCaller(name: string, policy: PolicyDocument): Caller {
    const caller: Caller = { accessKeyId: `AKIA${name.toUpperCase().replace(/[^A-Z0-9]/g, '').padEnd(16, '0').slice(0, 16)}`, arn: `arn:aws:iam::${ACCOUNT}:user/${name}`, account: ACCOUNT, policies: [{ name: `${name}-policy`, policy }] };
    this.callers.add(caller);
    return caller;
  }

  clients(caller: Caller, region: string) {
    const settings = (endpoint: string) => ({ region, endpoint, credentials: { accessKeyId: caller.accessKeyId, secretAccessKey: SECRET }, maxAttempts: 1 });
    return {
      cloudFormation: new CloudFormationClient(settings(this.cloudFormation.url)),
      lambda: new LambdaClient(settings(this.lambda.url)),
      iam: new IAMClient(settings(this.iam.url)),
      cloudWatch: new CloudWatchClient(settings(this.cloudWatch.url)),
    };
  }

  /** The environment the CLI reaches the stand-ins with, as a caller. */
  env(caller: Caller, region: string): NodeJS.ProcessEnv {
    return {
      AWS_ACCESS_KEY_ID: caller.accessKeyId,
      AWS_SECRET_ACCESS_KEY: SECRET,
      AWS_REGION: region,
      AWS_ENDPOINT_URL_CLOUDFORMATION: this.cloudFormation.url,
      AWS_ENDPOINT_URL_LAMBDA: this.lambda.url,
      AWS_ENDPOINT_URL_IAM: this.iam.url,
      AWS_ENDPOINT_URL_CLOUDWATCH: this.cloudWatch.url,
      AWS_MAX_ATTEMPTS: '1',
    };
  }
}
