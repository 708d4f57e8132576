import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { validateConfig } from '../../../../lib/config/load.ts';
import { RestoreDrillStack } from '../../../../lib/infra/restoreDrill.ts';
import { CfnSchemas, TemplateResolver, policyDocumentsOf, iamDataProblems, emptyCoverage, alarmPublishRequests, topicInvokeRequests, scheduleRequests, type CfnTemplate, type DeployEnv } from '../index.ts';
import { repoRoot } from '../../cli.ts';
const afterAll = (_: unknown) => {};
const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const OTHER_ACCOUNT = '210987654321';

// Synthesis without bundling (the bundling-stacks context): the template is the same but for the
// asset hashes, and this file stays fast. Each template is synthesised once for the whole file.
const outdir = mkdtempSync(join(tmpdir(), 'rd-template-data-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

interface TemplateUnderTest {
  name: string;
  env: DeployEnv;
  template: CfnTemplate;
  /** A database the drills cover, for report keys. */
  database: string;
}

function synth(name: string, stackName: string, props: ConstructorParameters<typeof RestoreDrillStack>[2]): CfnTemplate {
  const app = new App({ outdir: join(outdir, name), context: { 'aws:cdk:bundling-stacks': [] } });
  new RestoreDrillStack(app, stackName, props);
  return app.synth().getStackByName(stackName).template as CfnTemplate;
}

const secret = (name: string) => `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}`;

/** rds (IAM auth, a read-only source with a partial secret ARN), aurora (master secret), neon, Slack, a VPC; deployed to an account as bin/app.ts does. */
async function builtTemplate(): Promise<TemplateUnderTest> {
  const config = await validateConfig(
    {
      rpoTargetSeconds: 900,
      rtoTargetSeconds: 3600,
      slack: { runbookUrl: 'https://wiki.example.com/runbooks/restore' },
      databases: [
        {
          name: 'orders',
          provider: { kind: 'rds', instanceId: 'orders-prod', region: REGION, instanceClass: 'db.t4g.medium', credentials: { iam: true } },
          connection: { database: 'orders', user: 'drill' },
          source: { host: 'orders-prod.abcdefghijkl.eu-west-1.rds.amazonaws.com', database: 'orders', user: 'drill_ro', passwordSecretArn: secret('orders-readonly') },
          checks: { rowCounts: [{ table: 'public.orders', min: 1, asOf: { column: 'created_at', marginSeconds: 60 } }] },
        },
        {
          name: 'billing',
          provider: { kind: 'aurora', clusterId: 'billing-prod', region: REGION, instanceClass: 'db.r6g.large', credentials: { secretArn: secret('billing-prod-master-GhIjKl') } },
          connection: { database: 'billing', user: 'postgres' },
        },
        {
          name: 'analytics',
          provider: { kind: 'neon', projectId: 'shiny-wind-028834', apiKey: { secretArn: secret('neon-api-key-MnOpQr') } },
          connection: { database: 'neondb', user: 'neondb_owner' },
        },
      ],
    },
    repoRoot,
  );
  const settings = {
    schedules: [
      { name: 'nightly', expression: 'cron(0 3 * * ? *)', timeZone: 'Europe/Berlin' },
      { name: 'orders-hourly', expression: 'rate(1 hour)', databases: ['orders'] },
    ],
    vpc: { vpcId: 'vpc-0123456789abcdef0', subnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'], availabilityZones: [`${REGION}a`, `${REGION}b`] },
    slackWebhookSecretArn: secret('restore-drill-slack-StUvWx'),
  };
  const stackName = 'RestoreDrill';
  const template = synth('built', stackName, { config, settings, env: { account: ACCOUNT, region: REGION } });
  return { name: 'rds + aurora + neon, Slack, VPC', env: { account: ACCOUNT, region: REGION, partition: 'aws', stackName }, template, database: 'orders' };
}

/** examples/cloud, as a user copies it: no account or region in the stack (the template says AWS::AccountId). */
async function exampleTemplate(): Promise<TemplateUnderTest> {
  const dir = join(repoRoot, 'examples', 'cloud');
  const config = await validateConfig(JSON.parse(readFileSync(join(dir, 'restore-drill.config.json'), 'utf8')), dir);
  const settings = JSON.parse(readFileSync(join(dir, 'cloud.json'), 'utf8')) as never;
  const template = synth('example', 'Drills', { config, settings });
  return { name: 'examples/cloud', env: { account: ACCOUNT, region: REGION, partition: 'aws', stackName: 'Drills' }, template, database: config.databases[0]!.name };
}

const templates = await Promise.all([builtTemplate(), exampleTemplate()]);
const schemas = new CfnSchemas();
for (const t of templates) {
  const resolver = new TemplateResolver(t.template, t.env); const resources = resolver.resources();
  const types = new Map<string, number>(); for (const r of Object.values(resources)) types.set(r.Type, (types.get(r.Type) ?? 0) + 1);
  const policies = policyDocumentsOf(resources); const cov = emptyCoverage(); const problems = await iamDataProblems(policies, cov);
  const kinds = new Map<string, number>(); for (const p of policies) kinds.set(p.type + ' ' + p.kind, (kinds.get(p.type + ' ' + p.kind) ?? 0) + 1);
  console.log(t.name, Object.keys(resources).length, JSON.stringify([...types]), 'policies', JSON.stringify([...kinds]), 'statements', cov.statements, 'actions', cov.actions.size, 'wild', [...cov.wildcards], 'keys', cov.conditionKeys, 'resources', cov.resources, 'problems', problems.length, 'alarms', alarmPublishRequests(resolver, resources).length, 'invokes', topicInvokeRequests(resolver, resources).length, 'schedules', scheduleRequests(resolver, resources).length);
  const def = JSON.parse(String(Object.values(resources).find(r => r.Type === 'AWS::StepFunctions::StateMachine')!.Properties.DefinitionString));
  let n = 0; const walk = (s: any) => { for (const st of Object.values(s.States) as any[]) { n++; if (st.ItemProcessor) walk(st.ItemProcessor); } }; walk(def); console.log('states', n);
}
rmSync(outdir, { recursive: true, force: true });
