import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { AddTagsToResourceCommand, DeleteDBInstanceCommand, DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RdsEmulator } from '../../emulators/rds/emulator.ts';
import type { TestCa } from '../../emulators/rds/tls.ts';
import { QueryParams } from '../../emulators/rds/wire.ts';
import { S3Emulator } from '../../emulators/s3/emulator.ts';
import {
  accessKeyIdFor,
  accessKeyIdFromAuthorization,
  CLI_ACCESS_KEY_ID,
  CLI_SECRET_ACCESS_KEY,
  cliPrincipal,
  cloudWatchRefusal,
  IamAuthority,
  IamSimulationError,
  policyProblems,
  principalsFromTemplate,
  putMetricDataAuthorization,
  rdsAuthorizations,
  secretAccessKeyFor,
  type Principal,
} from './index.ts';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const OUR_TAGS = [
  { Key: 'restore-drill:managed', Value: 'true' },
  { Key: 'restore-drill:expires-at', Value: '2026-11-26T00:00:00.000Z' },
  { Key: 'restore-drill:drill', Value: 'rd-app-20261125000000-ab12' },
  { Key: 'restore-drill:database', Value: 'app' },
];

/** A Lambda role session with one policy, as principalsFromTemplate makes them. */
function rolePrincipal(name: string, statements: unknown[]): Principal {
  return {
    name,
    arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${name}Role/${name}`,
    accountId: ACCOUNT,
    accessKeyId: accessKeyIdFor(name),
    secretAccessKey: secretAccessKeyFor(name),
    identityPolicies: [{ Version: '2012-10-17', Statement: statements as never }],
  };
}

const reportsWriter = rolePrincipal('Verify', [
  { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: 'arn:aws:s3:::reports-bucket/reports/*' },
  { Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::reports-bucket', Condition: { StringLike: { 's3:prefix': 'reports/*' } } },
]);
const authority = new IamAuthority([cliPrincipal(), reportsWriter]);
const credentialsOf = (principal: Principal) => ({ accessKeyId: principal.accessKeyId, secretAccessKey: principal.secretAccessKey });
const cli = { accessKeyId: CLI_ACCESS_KEY_ID, secretAccessKey: CLI_SECRET_ACCESS_KEY };
const unknown = { accessKeyId: 'AKIANOBODY0000000000', secretAccessKey: 'nobody' };
type AwsError = { name: string; Code?: string; message: string; $metadata: { httpStatusCode?: number } };
const failureOf = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error as AwsError);

let rds: RdsEmulator;
let s3: S3Emulator;
let cloudWatch: { server: Server; url: string; namespaces: string[] };
let secretArn: string;
let otherSecretArn: string;

beforeAll(async () => {
  // No restore runs here: the copies' TLS is never served.
  rds = new RdsEmulator({ tls: {} as TestCa, iam: authority });
  await rds.start();
  rds.addOtherInstance({ id: 'app-prod', tags: [{ Key: 'team', Value: 'payments' }] });
  rds.addOtherInstance({ id: 'legacy-reporting', tags: [{ Key: 'restore-drill:managed', Value: 'true' }] });
  rds.addOtherInstance({ id: 'rd-app-20261125000000-ab12' });
  secretArn = rds.addSecret('app-prod/postgres', { username: 'postgres', password: 'pw' });
  otherSecretArn = rds.addSecret('billing-prod/postgres', { username: 'postgres', password: 'pw' });
  s3 = new S3Emulator(['reports-bucket'], { iam: authority });
  await s3.start();
  // A CloudWatch stand-in of a few lines: what a test's PutMetricData server does with the authority.
  const namespaces: string[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      const { Namespace } = JSON.parse(body) as { Namespace: string };
      void authority.authorize(accessKeyIdFromAuthorization(request.headers.authorization), [putMetricDataAuthorization(Namespace)]).then((answer) => {
        if (!answer.allowed) {
          const refusal = cloudWatchRefusal(answer);
          response.writeHead(refusal.status, refusal.headers).end(refusal.body);
          return;
        }
        namespaces.push(Namespace);
        response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end('{}');
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cloudWatch = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, namespaces };
});

afterAll(async () => {
  await Promise.all([rds?.stop(), s3?.stop(), new Promise((resolve) => cloudWatch?.server.close(resolve))]);
});

describe('RDS (Query API, XML errors)', () => {
  const client = (credentials = cli) => new RDSClient({ region: REGION, endpoint: rds.url, credentials, maxAttempts: 1 });

  test('allowed: the CLI describes an instance; denied: it deletes one that is not a copy, and the SDK surfaces AccessDenied (403)', async () => {
    const described = await client().send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'app-prod' }));
    const denied = await failureOf(client().send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'legacy-reporting', SkipFinalSnapshot: true })));

    expect(described.DBInstances?.[0]?.DBInstanceIdentifier).toBe('app-prod');
    expect(denied).toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    expect(denied!.message).toBe(
      `User: arn:aws:iam::${ACCOUNT}:user/restore-drill-cli is not authorized to perform: rds:DeleteDBInstance on resource: arn:aws:rds:${REGION}:${ACCOUNT}:db:legacy-reporting because no identity-based policy allows the rds:DeleteDBInstance action`,
    );
    expect(rds.instances.get('legacy-reporting')?.status).toBe('available');
    expect(rds.calls('DeleteDBInstance').at(-1)?.denied).toMatch(/^no statement allows rds:DeleteDBInstance on arn:aws:rds:us-east-1:123456789012:db:legacy-reporting/);
  });

  test('the wire: an ErrorResponse with Type Sender and Code AccessDenied, status 403', async () => {
    const response = await fetch(rds.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `AWS4-HMAC-SHA256 Credential=${CLI_ACCESS_KEY_ID}/20261125/${REGION}/rds/aws4_request, SignedHeaders=host, Signature=00` },
      body: 'Action=DeleteDBInstance&Version=2014-10-31&DBInstanceIdentifier=app-prod&SkipFinalSnapshot=true',
    });

    expect(response.status).toBe(403);
    expect(await response.text()).toMatch(
      /^<\?xml[^>]*>\n<ErrorResponse xmlns="http:\/\/rds\.amazonaws\.com\/doc\/2014-10-31\/"><Error><Type>Sender<\/Type><Code>AccessDenied<\/Code><Message>User: arn:aws:iam::123456789012:user\/restore-drill-cli is not authorized to perform: rds:DeleteDBInstance on resource: arn:aws:rds:us-east-1:123456789012:db:app-prod /,
    );
  });

  test('an access key nobody has is InvalidClientTokenId; an unsigned request is MissingAuthenticationToken', async () => {
    const unknownKey = await failureOf(client(unknown).send(new DescribeDBInstancesCommand({})));
    const unsigned = await fetch(rds.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=DescribeDBInstances&Version=2014-10-31' });

    expect(unknownKey).toMatchObject({ name: 'InvalidClientTokenId', $metadata: { httpStatusCode: 403 } });
    expect(unsigned.status).toBe(403);
    expect(await unsigned.text()).toContain('<Code>MissingAuthenticationToken</Code>');
  });

  test('tags: our keys on a copy are allowed; the same on the production instance, or a key not ours on a copy, are refused', async () => {
    const copyArn = `arn:aws:rds:${REGION}:${ACCOUNT}:db:rd-app-20261125000000-ab12`;
    const productionArn = `arn:aws:rds:${REGION}:${ACCOUNT}:db:app-prod`;

    await client().send(new AddTagsToResourceCommand({ ResourceName: copyArn, Tags: OUR_TAGS }));
    const production = await failureOf(client().send(new AddTagsToResourceCommand({ ResourceName: productionArn, Tags: OUR_TAGS })));
    const foreignKey = await failureOf(client().send(new AddTagsToResourceCommand({ ResourceName: copyArn, Tags: [...OUR_TAGS, { Key: 'team', Value: 'payments' }] })));

    expect(rds.instances.get('rd-app-20261125000000-ab12')?.tags).toEqual(OUR_TAGS);
    expect(production).toMatchObject({ name: 'AccessDenied' });
    expect(production!.message).toContain(`rds:AddTagsToResource on resource: ${productionArn}`);
    expect(foreignKey).toMatchObject({ name: 'AccessDenied' });
    expect(rds.instances.get('app-prod')?.tags).toEqual([{ Key: 'team', Value: 'payments' }]);
  });

  test('a restore is authorised against the source, the new db, its subnet, option and parameter groups, and its tags as AddTagsToResource', () => {
    const params = new QueryParams(
      new URLSearchParams({
        Action: 'RestoreDBInstanceToPointInTime',
        SourceDBInstanceIdentifier: 'app-prod',
        TargetDBInstanceIdentifier: 'rd-app-20261125000000-ab12',
        DBSubnetGroupName: 'drill-subnets',
        PubliclyAccessible: 'false',
        'Tags.Tag.1.Key': 'restore-drill:managed',
        'Tags.Tag.1.Value': 'true',
      }).toString(),
    );

    const requests = rdsAuthorizations('RestoreDBInstanceToPointInTime', params, rds.inventory());

    const arn = (resource: string) => `arn:aws:rds:${REGION}:${ACCOUNT}:${resource}`;
    expect(requests.map((request) => [request.action, request.resource])).toEqual([
      ['rds:RestoreDBInstanceToPointInTime', arn('db:app-prod')],
      ['rds:RestoreDBInstanceToPointInTime', arn('db:rd-app-20261125000000-ab12')],
      ['rds:RestoreDBInstanceToPointInTime', arn('subgrp:drill-subnets')],
      ['rds:RestoreDBInstanceToPointInTime', arn('og:default:postgres-15')],
      ['rds:RestoreDBInstanceToPointInTime', arn('pg:default.postgres15')],
      ['rds:AddTagsToResource', arn('db:rd-app-20261125000000-ab12')],
    ]);
    const requestTags = { 'aws:RequestTag/restore-drill:managed': 'true', 'rds:req-tag/restore-drill:managed': 'true', 'aws:TagKeys': ['restore-drill:managed'] };
    expect(requests[0]!.context).toEqual({ ...requestTags, 'rds:PubliclyAccessible': 'false', 'aws:ResourceTag/team': 'payments', 'rds:db-tag/team': 'payments' });
    expect(requests[1]!.context).toEqual({ ...requestTags, 'rds:PubliclyAccessible': 'false' });
    expect(requests[5]!.context).toEqual(requestTags);
  });

  test('a Describe that names nothing is authorised against db:* literally: a grant on db:rd-* does not cover it', async () => {
    const copiesOnly = new IamAuthority([rolePrincipal('Poll', [{ Effect: 'Allow', Action: 'rds:DescribeDBInstances', Resource: `arn:aws:rds:${REGION}:${ACCOUNT}:db:rd-*` }])]);
    const describeAll = { action: 'rds:DescribeDBInstances', resource: `arn:aws:rds:${REGION}:${ACCOUNT}:db:*`, context: {} };
    const describeCopy = { ...describeAll, resource: `arn:aws:rds:${REGION}:${ACCOUNT}:db:rd-app-20261125000000-ab12` };

    expect(await copiesOnly.authorize(accessKeyIdFor('Poll'), [describeCopy])).toMatchObject({ allowed: true });
    expect(await copiesOnly.authorize(accessKeyIdFor('Poll'), [describeAll])).toMatchObject({ allowed: false, code: 'AccessDenied', resource: describeAll.resource });
    expect(await authority.authorize(CLI_ACCESS_KEY_ID, [describeAll])).toMatchObject({ allowed: true });
  });

  test('strict about the emulators: a context key the action does not have (iam-data) is an error, not a silent drop', async () => {
    const request = { action: 'rds:DeleteDBInstance', resource: `arn:aws:rds:${REGION}:${ACCOUNT}:db:rd-x`, context: { 'rds:cluster-tag/restore-drill:managed': 'true' } };
    await expect(authority.authorize(CLI_ACCESS_KEY_ID, [request])).rejects.toThrow(IamSimulationError);
    await expect(authority.authorize(CLI_ACCESS_KEY_ID, [{ ...request, action: 'rds:DropEverything', context: {} }])).rejects.toThrow(/invalid\.action/);
  });
});

describe('Secrets Manager (JSON errors)', () => {
  const client = (credentials = cli) => new SecretsManagerClient({ region: REGION, endpoint: rds.url, credentials, maxAttempts: 1 });

  test('allowed: the configured secret; denied: another one, which the SDK surfaces as AccessDeniedException (400)', async () => {
    const read = await client().send(new GetSecretValueCommand({ SecretId: secretArn }));
    const denied = await failureOf(client().send(new GetSecretValueCommand({ SecretId: otherSecretArn })));
    const unknownKey = await failureOf(client(unknown).send(new GetSecretValueCommand({ SecretId: secretArn })));

    expect(JSON.parse(read.SecretString!)).toMatchObject({ username: 'postgres' });
    expect(denied).toMatchObject({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } });
    expect(denied!.message).toContain(`is not authorized to perform: secretsmanager:GetSecretValue on resource: ${otherSecretArn}`);
    expect(unknownKey).toMatchObject({ name: 'UnrecognizedClientException' });
  });

  test('the wire: {"__type":"AccessDeniedException","message":...}', async () => {
    const response = await fetch(rds.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'secretsmanager.GetSecretValue',
        authorization: `AWS4-HMAC-SHA256 Credential=${CLI_ACCESS_KEY_ID}/20261125/${REGION}/secretsmanager/aws4_request, SignedHeaders=host, Signature=00`,
      },
      body: JSON.stringify({ SecretId: otherSecretArn }),
    });

    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ __type: 'AccessDeniedException', message: expect.stringMatching(/^User: arn:aws:iam::123456789012:user\/restore-drill-cli is not authorized to perform: secretsmanager:GetSecretValue/) });
  });
});

describe('S3 (XML errors)', () => {
  const client = (credentials: { accessKeyId: string; secretAccessKey: string }) => new S3Client({ region: REGION, endpoint: s3.url, forcePathStyle: true, credentials, maxAttempts: 1 });

  test('allowed: the role writes and lists under reports/; denied: the CLI, which has no S3 grant, gets AccessDenied (403)', async () => {
    const verify = client(credentialsOf(reportsWriter));
    await verify.send(new PutObjectCommand({ Bucket: 'reports-bucket', Key: 'reports/app/1.json', Body: '{}' }));
    const listed = await verify.send(new ListObjectsV2Command({ Bucket: 'reports-bucket', Prefix: 'reports/app/' }));
    const denied = await failureOf(client(cli).send(new GetObjectCommand({ Bucket: 'reports-bucket', Key: 'reports/app/1.json' })));
    const outsidePrefix = await failureOf(verify.send(new ListObjectsV2Command({ Bucket: 'reports-bucket', Prefix: 'other/' })));

    expect(listed.Contents?.map((object) => object.Key)).toEqual(['reports/app/1.json']);
    expect(denied).toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    expect(denied!.message).toContain('is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::reports-bucket/reports/app/1.json');
    expect(outsidePrefix).toMatchObject({ name: 'AccessDenied' });
  });

  test('a missing key is NoSuchKey only to a caller who may list the bucket; an unknown access key is InvalidAccessKeyId', async () => {
    const lister = client(credentialsOf(reportsWriter));
    const reader = rolePrincipal('Report', [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::reports-bucket/reports/*' }]);
    authority.add(reader);
    authority.add(rolePrincipal('Lister', [...reportsWriter.identityPolicies.flatMap((p) => [p.Statement].flat()), { Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::reports-bucket' }]));

    const withoutList = await failureOf(client(credentialsOf(reader)).send(new GetObjectCommand({ Bucket: 'reports-bucket', Key: 'reports/none.json' })));
    const withPrefixedList = await failureOf(lister.send(new GetObjectCommand({ Bucket: 'reports-bucket', Key: 'reports/none.json' })));
    const withList = await failureOf(client(credentialsOf(authority.principal(accessKeyIdFor('Lister'))!)).send(new GetObjectCommand({ Bucket: 'reports-bucket', Key: 'reports/none.json' })));
    const unknownKey = await failureOf(client(unknown).send(new GetObjectCommand({ Bucket: 'reports-bucket', Key: 'reports/app/1.json' })));

    expect(withoutList).toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    // A grant conditioned on s3:prefix does not let S3 tell a missing key apart: that check carries no prefix.
    expect(withPrefixedList).toMatchObject({ name: 'AccessDenied' });
    expect(withList).toMatchObject({ name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
    expect(unknownKey).toMatchObject({ name: 'InvalidAccessKeyId', $metadata: { httpStatusCode: 403 } });
  });
});

describe('CloudWatch (AWS JSON 1.0, query-compatible errors)', () => {
  const client = (credentials = cli) => new CloudWatchClient({ region: REGION, endpoint: cloudWatch.url, credentials, maxAttempts: 1 });
  const put = (namespace: string, credentials = cli) => client(credentials).send(new PutMetricDataCommand({ Namespace: namespace, MetricData: [{ MetricName: 'DrillSucceeded', Value: 1, Unit: 'Count' }] }));

  test('allowed: the CLI puts metrics in RestoreDrill; denied: another namespace, which the SDK surfaces as AccessDenied', async () => {
    await put('RestoreDrill');
    const denied = await failureOf(put('SomeoneElse'));
    const unknownKey = await failureOf(put('RestoreDrill', unknown));

    expect(cloudWatch.namespaces).toEqual(['RestoreDrill']);
    expect(denied).toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 400 } });
    expect(denied!.message).toContain('is not authorized to perform: cloudwatch:PutMetricData on resource: *');
    expect(unknownKey).toMatchObject({ name: 'InvalidClientTokenId' });
  });
});

describe('principals from a template', () => {
  const template = {
    Resources: {
      FnRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          ManagedPolicyArns: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/service-role/AWSLambdaBasicExecutionRole']] }],
          Policies: [{ PolicyName: 'inline', PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'rds:DescribeDBInstances', Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*' } }] } }],
        },
      },
      FnRoleDefaultPolicy: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          Roles: [{ Ref: 'FnRole' }],
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: 's3:PutObject', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Bucket', 'Arn'] }, '/reports/*']] } },
              { Effect: 'Allow', Action: 'rds:ListTagsForResource', Resource: { 'Fn::Select': [1, { 'Fn::Split': [',', 'x,arn:aws:rds:us-east-1:123456789012:db:rd-*'] }] } },
            ],
          },
        },
      },
      Bucket: { Type: 'AWS::S3::Bucket', Properties: {} },
      Fn: { Type: 'AWS::Lambda::Function', Properties: { Role: { 'Fn::GetAtt': ['FnRole', 'Arn'] } } },
      Other: { Type: 'AWS::Lambda::Function', Properties: { Role: { 'Fn::GetAtt': ['FnRole', 'Arn'] } } },
    },
  };

  test('each function runs as its role\'s session with every attached policy, intrinsics resolved, and a key of its own', () => {
    const principals = principalsFromTemplate(template, { accountId: ACCOUNT, region: REGION, resolve: (token) => ((token as { Ref?: string }).Ref === 'Bucket' ? 'reports-bucket' : undefined) });

    const fn = principals.get('Fn')!;
    expect(fn.arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/FnRole/Fn`);
    expect(fn.accessKeyId).toMatch(/^AKIA[A-Z2-7]{16}$/);
    expect(principals.get('Other')!.accessKeyId).not.toBe(fn.accessKeyId);
    expect(fn.identityPolicies.flatMap((policy) => [policy.Statement].flat()).map((statement) => [statement.Action, statement.Resource])).toEqual([
      ['rds:DescribeDBInstances', `arn:aws:rds:${REGION}:${ACCOUNT}:db:*`],
      [['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], '*'],
      ['s3:PutObject', 'arn:aws:s3:::reports-bucket/reports/*'],
      ['rds:ListTagsForResource', 'arn:aws:rds:us-east-1:123456789012:db:rd-*'],
    ]);
  });

  test('a value the template cannot give, and a managed policy with no model, are named', () => {
    const unresolved = () => principalsFromTemplate(template, { accountId: ACCOUNT, region: REGION, resolve: () => undefined });
    const managed = { Resources: { ...template.Resources, FnRole: { Type: 'AWS::IAM::Role', Properties: { ManagedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess'] } } } };

    expect(unresolved).toThrow(/no value for \{"Ref":"Bucket"\}/);
    expect(() => principalsFromTemplate(managed, { accountId: ACCOUNT, region: REGION, resolve: () => 'reports-bucket' })).toThrow(/AdministratorAccess: no model of that managed policy/);
  });
});

describe('policies held to iam-data', () => {
  test('the CLI policy names only real actions and keys they have', async () => {
    expect(await policyProblems(cliPrincipal().identityPolicies[0]!, 'cli-policy.json')).toEqual([]);
  });

  test('rds:CreateAction (EC2 has it, RDS does not) and an unknown action are found', async () => {
    const problems = await policyProblems({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'rds:AddTagsToResource', Resource: '*', Condition: { 'ForAnyValue:StringEquals': { 'rds:CreateAction': ['CreateDBInstance'] }, StringEquals: { 'aws:RequestTag/restore-drill:managed': 'true' } } },
        { Effect: 'Allow', Action: 'rds:DescribeEverything', Resource: '*' },
        { Effect: 'Allow', Action: 'rds:DescribeDBInstances', Resource: '*', Condition: { StringEquals: { 'aws:RequestTag/x': 'y' } } },
      ],
    });

    expect(problems).toEqual([
      'policy statement 1: rds:AddTagsToResource has no condition key rds:CreateAction (iam-data), so the Allow never applies',
      'policy statement 2: rds:DescribeEverything is not an action of rds (iam-data)',
      'policy statement 3: rds:DescribeDBInstances has no condition key aws:RequestTag/x (iam-data), so the Allow never applies',
    ]);
  });
});

describe('access keys', () => {
  test('the access key id of a SigV4 Authorization header', () => {
    expect(accessKeyIdFromAuthorization('AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/us-east-1/rds/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc')).toBe('AKIDEXAMPLE');
    expect(accessKeyIdFromAuthorization('Basic dXNlcjpwYXNz')).toBeUndefined();
    expect(accessKeyIdFromAuthorization(undefined)).toBeUndefined();
    expect(accessKeyIdFor('RestoreDrillStartD77A9AE4')).toBe(accessKeyIdFor('RestoreDrillStartD77A9AE4'));
  });
});
