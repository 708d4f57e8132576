import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';

// Lambda as it runs a nodejs24.x function: the asset folder alone as the task root (nothing above it:
// no package.json, no node_modules, so no AWS SDK but the bundle's own), the environment the template
// gives it plus what Lambda sets (region, the role's credentials, the function's name and limits), a
// writable /tmp of its own, one sandbox per concurrent invocation, and a time limit that ends it.

export interface LambdaTemplateFunction {
  Type: string;
  Properties: Record<string, unknown>;
}

export interface LambdaLayoutOptions {
  /** The cloud assembly folder (cdk.out) the template's assets are in. */
  assemblyDir: string;
  /** The template's value of an environment variable (a Ref or Fn::GetAtt) as the test's stand-ins know it. */
  resolve: (value: unknown) => string;
  /** The credentials Lambda hands the function: its role's. */
  credentialsFor: (logicalId: string) => { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  region: string;
  /** Set beside the template's environment (the emulators' endpoints: a deployment never sets them). */
  extraEnvironment?: Record<string, string>;
}

/** What Lambda answers for a failed invocation, and Step Functions passes on as Error and Cause. */
export class LambdaInvocationError extends Error {
  constructor(errorType: string, errorMessage: string, trace: string[] = []) {
    super(JSON.stringify({ errorType, errorMessage, trace }));
    this.name = errorType;
  }
}

interface Sandbox {
  worker: Worker;
  busy: boolean;
}

/** One deployed function: invoked like Lambda invokes it, its log lines kept (stdout and stderr, as CloudWatch Logs would get them). */
export class LambdaFunction {
  readonly logicalId: string;
  readonly taskRoot: string;
  readonly logs: string[] = [];
  readonly timeoutSeconds: number;
  readonly invocations: { at: Date; error?: string }[] = [];
  /** Each sandbox's /tmp, in the order the sandboxes were made. */
  readonly tmpFolders: string[] = [];
  private readonly sandboxes: Sandbox[] = [];
  private readonly env: Record<string, string>;
  private readonly bootstrap: string;

  constructor(logicalId: string, taskRoot: string, bootstrap: string, env: Record<string, string>, timeoutSeconds: number) {
    this.logicalId = logicalId;
    this.taskRoot = taskRoot;
    this.bootstrap = bootstrap;
    this.env = env;
    this.timeoutSeconds = timeoutSeconds;
  }

  async invoke(event: unknown): Promise<unknown> {
    const sandbox = this.sandboxes.find((candidate) => !candidate.busy) ?? this.newSandbox();
    sandbox.busy = true;
    const id = randomUUID();
    const record: { at: Date; error?: string } = { at: new Date() };
    this.invocations.push(record);
    try {
      return await new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          // Lambda ends the sandbox at the limit: whatever the function was doing stops there.
          this.discard(sandbox);
          reject(new LambdaInvocationError('Sandbox.Timedout', `Task timed out after ${this.timeoutSeconds.toFixed(2)} seconds`));
        }, this.timeoutSeconds * 1000);
        const onMessage = (message: { id: string; result?: unknown; error?: { errorType: string; errorMessage: string; trace: string[] } }) => {
          if (message.id !== id) return;
          clearTimeout(timer);
          sandbox.worker.off('message', onMessage);
          sandbox.worker.off('error', onError);
          if (message.error) reject(new LambdaInvocationError(message.error.errorType, message.error.errorMessage, message.error.trace));
          else resolve(message.result);
        };
        // A crash at init (or outside the handler's promise) ends the sandbox, as Lambda's runtime reports it.
        const onError = (error: Error) => {
          clearTimeout(timer);
          this.discard(sandbox);
          reject(new LambdaInvocationError(error.name === 'Error' ? 'Runtime.UnhandledError' : error.name, error.message));
        };
        sandbox.worker.on('message', onMessage);
        sandbox.worker.once('error', onError);
        sandbox.worker.postMessage({ id, event, deadline: Date.now() + this.timeoutSeconds * 1000 });
      });
    } catch (error) {
      record.error = (error as Error).name;
      throw error;
    } finally {
      sandbox.busy = false;
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.sandboxes.splice(0).map((sandbox) => sandbox.worker.terminate()));
  }

  private newSandbox(): Sandbox {
    // Lambda's /tmp belongs to one execution environment: the functions write their config's files there at init.
    const tmp = join(dirname(this.taskRoot), `tmp-${this.tmpFolders.length + 1}`);
    mkdirSync(tmp);
    this.tmpFolders.push(tmp);
    const worker = new Worker(this.bootstrap, { env: { ...this.env, TMPDIR: tmp }, workerData: { taskRoot: this.taskRoot }, stdout: true, stderr: true });
    for (const stream of [worker.stdout, worker.stderr]) {
      let pending = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (pending + chunk).split('\n');
        pending = lines.pop() ?? '';
        this.logs.push(...lines);
      });
      stream.on('end', () => pending && this.logs.push(pending));
    }
    const sandbox = { worker, busy: false };
    this.sandboxes.push(sandbox);
    return sandbox;
  }

  private discard(sandbox: Sandbox): void {
    this.sandboxes.splice(this.sandboxes.indexOf(sandbox), 1);
    void sandbox.worker.terminate();
  }
}

/** Lambda's runtime, in the sandbox: imports the handler from the task root and answers each invocation. */
const BOOTSTRAP = `
import { parentPort, workerData } from 'node:worker_threads';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
const module = await import(pathToFileURL(join(workerData.taskRoot, 'index.mjs')).href);
parentPort.on('message', async ({ id, event, deadline }) => {
  const context = { awsRequestId: id, getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) };
  try {
    parentPort.postMessage({ id, result: JSON.parse(JSON.stringify((await module.handler(event, context)) ?? null)) });
  } catch (error) {
    parentPort.postMessage({ id, error: { errorType: error?.name ?? 'Error', errorMessage: error?.message ?? String(error), trace: String(error?.stack ?? '').split('\\n') } });
  }
});
`;

/**
 * Copies each function's asset folder alone into a fresh folder outside the checkout and gives each
 * its environment. Refuses a layout with a package.json or node_modules above a task root: the
 * bundle must carry everything it needs.
 */
export async function layOutFunctions(resources: Record<string, LambdaTemplateFunction>, options: LambdaLayoutOptions): Promise<{ functions: Map<string, LambdaFunction>; root: string; remove: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'rd-lambda-'));
  for (let dir = root; dir !== dirname(dir); dir = dirname(dir)) {
    for (const name of ['package.json', 'node_modules']) {
      if (existsSync(join(dir, name))) throw new Error(`${join(dir, name)} lies above the Lambda layout: the bundles would find what Lambda does not give them`);
    }
  }
  const bootstrap = join(root, 'runtime', 'bootstrap.mjs');
  await mkdir(dirname(bootstrap), { recursive: true });
  await writeFile(bootstrap, BOOTSTRAP);
  const functions = new Map<string, LambdaFunction>();
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const code = resource.Properties.Code as { S3Key?: string };
    if (!code.S3Key) continue;
    const taskRoot = join(root, logicalId, 'task');
    await cp(join(options.assemblyDir, `asset.${code.S3Key.replace(/\.zip$/, '')}`), taskRoot, { recursive: true });
    const variables = (resource.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
    const credentials = options.credentialsFor(logicalId);
    const timeoutSeconds = Number(resource.Properties.Timeout ?? 3);
    const env: Record<string, string> = {
      ...Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, options.resolve(value)])),
      AWS_REGION: options.region,
      AWS_DEFAULT_REGION: options.region,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      ...(credentials.sessionToken ? { AWS_SESSION_TOKEN: credentials.sessionToken } : {}),
      AWS_LAMBDA_FUNCTION_NAME: logicalId,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(resource.Properties.MemorySize ?? 128),
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
      LAMBDA_TASK_ROOT: taskRoot,
      TZ: ':UTC',
      PATH: '/usr/local/bin:/usr/bin:/bin',
      ...options.extraEnvironment,
    };
    functions.set(logicalId, new LambdaFunction(logicalId, taskRoot, bootstrap, env, timeoutSeconds));
  }
  return {
    functions,
    root,
    remove: async () => {
      await Promise.all([...functions.values()].map((fn) => fn.stop()));
      await rm(root, { recursive: true, force: true });
    },
  };
}
