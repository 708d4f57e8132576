import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import type { RestoreDrillConfig } from '../../lib/config/schema.ts';
import { runDrill } from '../../lib/drill/drill.ts';
import { exitCodeOf } from '../../lib/drill/outcome.ts';
import { ConfigError, NotOurCopyError } from '../../lib/errors.ts';
import { runJanitor } from '../../lib/janitor.ts';
import { runDrills } from '../../lib/drill/runner.ts';
import { providerFor, type ProviderOptions } from '../../lib/providers/index.ts';
import { NeonApiError, type NeonCopyHandle } from '../../lib/providers/neon/index.ts';
import type { RestoreProvider } from '../../lib/providers/types.ts';
import { RdsEmulator } from '../emulators/rds/emulator.ts';
import { leftoverCopies, useOwnScratch } from '../emulators/rds/world.ts';
import { NEON_API_KEY, neonDatabaseConfig, neonWorld, ROLE, ROLE_PASSWORD, type NeonWorld } from '../emulators/neon/world.ts';
import { newClient } from '../../lib/util/pgClient.ts';

// The emulator's restores live in a scratch root of this file's own (see useOwnScratch).
useOwnScratch('neon-drill-test');
process.env.NEON_API_KEY = NEON_API_KEY;

let world: NeonWorld;

beforeAll(async () => {
  world = await neonWorld();
});

afterAll(async () => {
  if (!world) return;
  const touchingSource = world.emulator.mutatingCallsOn(world.sourceIdentifiers);
  const deletes = world.emulator.calls('deleteProjectBranch').map((r) => r.params.branch_id);
  const { specProblems, specChecked } = world.emulator;
  await world.remove();
  // Every request the provider sent and every answer the emulator gave, held to Neon's published document.
  expect(specProblems, JSON.stringify(specProblems, null, 1)).toEqual([]);
  console.info(`neon-drill: ${specChecked.requests} requests and ${specChecked.responses} answers held to Neon's OpenAPI document`);
  // The parent (and default) branch is read-only: no create-into, update or delete ever names it.
  expect(touchingSource).toEqual([]);
  expect(deletes).not.toContain(world.emulator.defaultBranch.id);
  expect(await leftoverCopies()).toEqual([]);
});

// Short waits, but as many as it takes for the project's lock to clear (Neon locks it while any operation runs).
const fast: ProviderOptions = { neon: { retry: { baseDelayMs: 5, maxDelayMs: 200, attempts: 150 } } };

async function configWith(overrides: Record<string, unknown> = {}, provider: Record<string, unknown> = {}): Promise<RestoreDrillConfig> {
  return validateConfig({ rpoTargetSeconds: 3600, rtoTargetSeconds: 600, databases: [neonDatabaseConfig(world, 'neon-app', overrides, provider)] }, world.project);
}

async function drill(config: RestoreDrillConfig, options: { target?: string; provider?: ProviderOptions; inspect?: (copy: pg.ClientConfig) => Promise<void> } = {}) {
  const database = config.databases[0]!;
  return runDrill(config, database, providerFor(database, options.provider ?? fast), {
    trigger: 'cli',
    target: options.target,
    pollIntervalMs: 20,
    ...(options.inspect ? { inspect: (copy: pg.ClientConfig) => options.inspect!(copy) } : {}),
  });
}

async function emailsIn(client: pg.ClientConfig): Promise<string[]> {
  const connection = newClient(client);
  await connection.connect();
  try {
    return (await connection.query<{ email: string }>('select email from users order by id')).rows.map((r) => r.email);
  } finally {
    await connection.end();
  }
}

function createCalls() {
  return world.emulator.calls('createProjectBranch');
}

describe('a drill of a Neon branch through the real @neondatabase/api-client', () => {
  test('a point in time between two writes: the copy holds exactly the rows committed before it; checks pass; the branch is removed', async () => {
    // Prepare: one row before the target, one after it.
    const source = newClient(world.sourceClient());
    await source.connect();
    await source.query(`insert into users (email) values ('before@example.com')`);
    const clock = async () => (await source.query<{ now: Date }>('select clock_timestamp() as now')).rows[0]!.now;
    const target = new Date((await clock()).getTime() + 1);
    while ((await clock()) <= target);
    await source.query(`insert into users (email) values ('after@example.com')`);
    await source.end();
    const heldThen = (await emailsIn(world.sourceClient())).filter((email) => email !== 'after@example.com');
    const config = await configWith({ checks: { ledger: { migrationsFolder: `${world.project}/drizzle` }, rowCounts: [{ table: 'users', min: heldThen.length, max: heldThen.length }], freshness: { table: 'users', column: 'created_at' } } });
    let inCopy: string[] = [];

    // Act
    const { report } = await drill(config, { target: target.toISOString(), inspect: async (copy) => void (inCopy = await emailsIn(copy)) });

    // Assess
    expect(report.error, JSON.stringify(report.error)).toBeUndefined();
    expect(report).toMatchObject({ provider: 'neon', status: 'passed', copy: { kept: false, removed: true }, target: { time: target.toISOString() } });
    expect(inCopy).toEqual(heldThen);
    expect(inCopy).toContain('before@example.com');
    expect(report.checks.map((check) => [check.check, check.status])).toEqual([
      ['connection', 'pass'],
      ['ledger', 'pass'],
      ['rowCounts', 'pass'],
      ['freshness', 'pass'],
    ]);
    // The report: window from the retention and the branch's creation, RPO claimed ~0 (Neon's latest is now),
    // measured RPO from the newest row before the target, RTO the sum of its parts.
    expect(report.window!.earliest).toBe(world.emulator.defaultBranch.createdAt.toISOString());
    expect(Date.parse(report.window!.latest)).toBeGreaterThan(target.getTime());
    expect(report.rpo.claimedSeconds).toBeLessThan(1);
    expect(report.rpo.measuredLagSeconds).toBeGreaterThanOrEqual(0);
    expect(report.rpo.measuredLagSeconds).toBeLessThan(5);
    expect(report.rpo.compliant).toBe(true);
    expect(report.rto.restoreSeconds).toBeGreaterThan(0);
    expect(report.rto.totalSeconds).toBeCloseTo(report.rto.restoreSeconds! + report.rto.verifySeconds!, 2);
    expect(report.rto.compliant).toBe(true);
    expect(report.copy.name).toMatch(/^rd-neon-app-\d{14}-[a-z0-9]{4}$/);
    const create = createCalls().at(-1)!;
    // The copy's compute is the parent's own (0.5 to 2 CU in the emulator); Neon deletes the branch itself at expires_at.
    expect(create.body).toEqual({
      branch: { parent_id: world.emulator.defaultBranch.id, name: report.copy.name, parent_timestamp: target.toISOString(), expires_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) },
      endpoints: [{ type: 'read_write', autoscaling_limit_min_cu: 0.5, autoscaling_limit_max_cu: 2 }],
      annotation_value: { 'restore-drill:managed': 'true', 'restore-drill:expires-at': expect.any(String), 'restore-drill:database': 'neon-app' },
    });
    // Every operation createProjectBranch started was awaited: seen running, then finished.
    const seen = world.emulator.calls('getProjectOperation').filter((r) => r.at >= create.at).map((r) => r.answered);
    expect(seen).toContain('create_branch running');
    expect(seen).toContain('create_branch finished');
    expect(seen).toContain('start_compute finished');
    const branchId = world.emulator.requests.find((r) => r.operation === 'deleteProjectBranch' && r.at >= create.at)?.params.branch_id;
    expect(branchId).toMatch(/^br-/);
    await world.emulator.gone(report.copy.name!);
    const text = JSON.stringify(report);
    expect(text).not.toContain(ROLE_PASSWORD);
    expect(text).not.toContain(NEON_API_KEY);
  });

  test('latest: the branch is made from the head (no parent_timestamp) and sees the newest row', async () => {
    const client = newClient(world.sourceClient());
    await client.connect();
    await client.query(`insert into users (email) values ('newest@example.com')`);
    await client.end();
    let inCopy: string[] = [];

    const { report } = await drill(await configWith(), { target: 'latest', inspect: async (copy) => void (inCopy = await emailsIn(copy)) });

    expect(report.error, JSON.stringify(report.error)).toBeUndefined();
    expect(report.status).toBe('passed');
    expect(inCopy).toContain('newest@example.com');
    expect((createCalls().at(-1)!.body as { branch: Record<string, unknown> }).branch.parent_timestamp).toBeUndefined();
    await world.emulator.gone(report.copy.name!);
  });

  test('the window is the history retention back from now, never before the branch was created', async () => {
    const provider = providerFor((await configWith()).databases[0]!, fast);
    const created = world.emulator.defaultBranch.createdAt;
    world.emulator.defaultBranch.createdAt = new Date(Date.now() - 2 * 86_400_000);
    world.emulator.historyRetentionSeconds = 3600;
    const before = Date.now();

    const short = await provider.window();
    world.emulator.historyRetentionSeconds = 10 * 86_400;
    const long = await provider.window();
    world.emulator.historyRetentionSeconds = 86_400;
    const twoDaysAgo = world.emulator.defaultBranch.createdAt;
    world.emulator.defaultBranch.createdAt = created;

    expect(short.latest.getTime()).toBeGreaterThanOrEqual(before);
    expect(short.earliest.getTime()).toBe(short.latest.getTime() - 3_600_000);
    // The branch is younger than ten days: its creation bounds the window.
    expect(long.earliest.toISOString()).toBe(twoDaysAgo.toISOString());
  });

  test('the copy is reached over verified TLS only, with the role password from getConnectionUri, fetched apart from the poll result', async () => {
    const provider = providerFor((await configWith()).databases[0]!, fast) as RestoreProvider<NeonCopyHandle>;
    const handle = await provider.start({ target: { kind: 'latest' }, copyName: 'rd-neon-app-20261125000000-tls1', expiresAt: new Date(Date.now() + 600_000) });
    try {
      // Handle and poll result travel between Lambdas as JSON: they must work after the round trip, and carry no secret.
      const carried = JSON.parse(JSON.stringify(handle)) as NeonCopyHandle;
      let poll = await provider.poll(carried);
      while (poll.state === 'pending') poll = await new Promise((r) => setTimeout(r, 20)).then(() => provider.poll(carried));
      expect(poll.state).toBe('ready');
      if (poll.state !== 'ready') return;
      expect(JSON.stringify(poll)).not.toContain(ROLE_PASSWORD);
      expect(poll.connection.ca).toBeUndefined();
      const connection = JSON.parse(JSON.stringify(poll.connection)) as typeof poll.connection;
      const { host, port, database } = connection;
      const { user, password, ca } = await provider.connectionSecrets!(connection);
      expect(password).toBe(ROLE_PASSWORD);
      expect(ca).toBe(world.ca.caPem);
      const attempt = async (ssl: pg.ClientConfig['ssl']) => {
        const client = newClient({ host, port, database, user, password, ssl });
        try {
          await client.connect();
          return (await client.query<{ ssl: boolean }>('select ssl from pg_stat_ssl where pid = pg_backend_pid()')).rows[0]!.ssl;
        } finally {
          await client.end().catch(() => undefined);
        }
      };
      expect(await attempt({ ca, rejectUnauthorized: true })).toBe(true);
      await expect(attempt(false)).rejects.toThrow(/no pg_hba.conf entry|SSL off/);
      await expect(attempt({ rejectUnauthorized: true })).rejects.toThrow(/self-signed|unable to verify|certificate/);
    } finally {
      await provider.destroy(handle);
    }
    await world.emulator.gone(handle.name);
  });
});

describe('faults', () => {
  test('423 Locked twice, then success: retried, honouring Retry-After, and the drill passes', async () => {
    world.emulator.faults.locked.set('createProjectBranch', 2);
    world.emulator.faults.retryAfterSeconds = 1;
    const before = createCalls().length;

    const { report } = await drill(await configWith());
    world.emulator.faults.retryAfterSeconds = undefined;

    expect(report.error, JSON.stringify(report.error)).toBeUndefined();
    expect(report.status).toBe('passed');
    const calls = createCalls().slice(before);
    expect(calls.map((c) => c.status)).toEqual([423, 423, 201]);
    expect(calls[1]!.at.getTime() - calls[0]!.at.getTime()).toBeGreaterThanOrEqual(990);
    expect(calls.filter((c) => c.status === 201)).toHaveLength(1);
    await world.emulator.gone(report.copy.name!);
  });

  test('two drills of one project at once: Neon locks the project while the first branch is made (423), the second waits its turn, both pass', async () => {
    const config = await validateConfig(
      {
        rpoTargetSeconds: 3600,
        rtoTargetSeconds: 600,
        concurrency: 2,
        report: { dir: './neon-drill-reports' },
        databases: [neonDatabaseConfig(world, 'neon-app'), neonDatabaseConfig(world, 'neon-app2')],
      },
      world.project,
    );
    const before = createCalls().length;

    const result = await runDrills(config, { trigger: 'cli', pollIntervalMs: 20, neon: { retry: { attempts: 60, baseDelayMs: 100, maxDelayMs: 500 } } });

    expect(result.drills.map((d) => [d.database, d.status, d.error?.message])).toEqual([
      ['neon-app', 'passed', undefined],
      ['neon-app2', 'passed', undefined],
    ]);
    const calls = createCalls().slice(before);
    expect(calls.filter((c) => c.status === 201)).toHaveLength(2);
    expect(calls.filter((c) => c.status === 423).length).toBeGreaterThan(0);
    for (const drill of result.drills) await world.emulator.gone(drill.copy.name!);
  });

  test('503 past the retry budget: a tool error (exit 3) that says what to do, and no branch', async () => {
    world.emulator.faults.unavailable.set('getProject', 3);
    const before = createCalls().length;

    const { report } = await drill(await configWith(), { provider: { neon: { retry: { attempts: 3, baseDelayMs: 5 } } } });

    expect(report.status).toBe('error');
    expect(exitCodeOf([report])).toBe(3);
    expect(report.error).toMatchObject({ step: 'plan', kind: 'tool' });
    expect(report.error!.message).toMatch(/getProject on project "shiny-wind-028834" still failed after 3 attempts: Neon was unavailable \(503\).*concurrency/);
    expect(createCalls()).toHaveLength(before);
  });

  test('an operation Neon cancels: the drill fails (exit 1) naming it, and the branch is removed', async () => {
    world.emulator.faults.nextOperation = 'cancelled';

    const { report } = await drill(await configWith());

    expect(report.status).toBe('failed');
    expect(exitCodeOf([report])).toBe(1);
    expect(report.error).toMatchObject({ step: 'wait', kind: 'backup' });
    expect(report.error!.message).toMatch(/Neon operation create_branch \(.+\) for the copy branch rd-neon-app-.* was cancelled: the operation was cancelled/);
    expect(report.copy.removed).toBe(true);
    await world.emulator.gone(report.copy.name!);
  });

  test('a wrong API key: refused as input (exit 2) naming where the key comes from, never the key, and no branch', async () => {
    const before = createCalls().length;
    const wrongKey = 'napi_wrong-key-0000';
    const database = (await configWith({}, { apiKey: { env: 'NEON_TEST_WRONG_KEY' } })).databases[0]!;

    const { report } = await runDrill(await configWith(), database, providerFor(database, { neon: { env: { NEON_TEST_WRONG_KEY: wrongKey } } }), { trigger: 'cli' });

    expect(report.status).toBe('error');
    expect(exitCodeOf([report])).toBe(2);
    expect(report.error).toMatchObject({ step: 'plan', kind: 'input' });
    expect(report.error!.message).toMatch(/Neon rejected the API key \(401\) for getProject.*the environment variable NEON_TEST_WRONG_KEY/);
    expect(JSON.stringify(report)).not.toContain(wrongKey);
    expect(world.emulator.requests.at(-1)!.status).toBe(401);
    expect(createCalls()).toHaveLength(before);
  });

  test('a target older than the retention window: refused before anything is created (exit 2)', async () => {
    // The branch is older than the hour asked for: only the retention window refuses it.
    const created = world.emulator.defaultBranch.createdAt;
    world.emulator.defaultBranch.createdAt = new Date(Date.now() - 2 * 86_400_000);
    world.emulator.historyRetentionSeconds = 60;
    const before = createCalls().length;

    const { report } = await drill(await configWith(), { target: new Date(Date.now() - 3_600_000).toISOString() });
    world.emulator.historyRetentionSeconds = 86_400;
    world.emulator.defaultBranch.createdAt = created;

    expect(report.status).toBe('error');
    expect(exitCodeOf([report])).toBe(2);
    expect(report.error).toMatchObject({ step: 'plan', kind: 'input' });
    expect(report.copy.name).toBeNull();
    const [, earliest, latest] = /outside the restore window (\S+) to (\S+)/.exec(report.error!.message)!;
    expect(Date.parse(latest!) - Date.parse(earliest!)).toBe(60_000);
    expect(createCalls()).toHaveLength(before);
  });

  test('Neon\'s own refusal of a timestamp (its history does not reach it) is a backup failure that quotes Neon, not a config error', async () => {
    // The branch and its role are two days old; Neon keeps a minute of history.
    const main = world.emulator.defaultBranch;
    const created = main.createdAt;
    const owner = main.roles.get(ROLE)!;
    main.createdAt = owner.createdAt = new Date(Date.now() - 2 * 86_400_000);
    world.emulator.historyRetentionSeconds = 60;
    const provider = providerFor((await configWith()).databases[0]!, fast);

    const attempt = provider.start({ target: { kind: 'time', time: new Date(Date.now() - 3_600_000) }, copyName: 'rd-neon-app-20261125000000-old9', expiresAt: new Date(Date.now() + 600_000) });
    await attempt.catch(() => undefined);
    main.createdAt = owner.createdAt = created;

    await expect(attempt).rejects.toMatchObject({ name: 'NeonHistoryError', kind: 'backup' });
    await expect(attempt).rejects.toThrow(/history of branch "main" does not reach the target .*Neon refused createProjectBranch .*oldest point of the branch's history Neon keeps/);
    world.emulator.historyRetentionSeconds = 86_400;
    expect(world.emulator.branchNamed('rd-neon-app-20261125000000-old9')).toBeUndefined();
  });
});

describe('what the person on call is told', () => {
  test('an unknown project is a 404 that names provider.projectId; an unknown branch name lists the branches there are', async () => {
    const unknownProject = providerFor((await configWith({}, { projectId: 'no-such-project-1234' })).databases[0]!, fast);
    const unknownBranch = providerFor((await configWith({}, { branch: 'prod' })).databases[0]!, fast);

    const project = unknownProject.window();
    const branch = unknownBranch.window();

    await expect(project).rejects.toMatchObject({ name: 'NeonApiError', kind: 'input', status: 404 });
    await expect(project).rejects.toThrow(/Neon has no project "no-such-project-1234" \(404, getProject\).*Check provider.projectId/);
    await expect(branch).rejects.toBeInstanceOf(ConfigError);
    await expect(branch).rejects.toThrow(/no branch named "prod" \(provider.branch\); its branches: main/);
  });

  test('the branch may be named by its id; 429 is retried like 423', async () => {
    const byId = providerFor((await configWith({}, { branch: world.emulator.defaultBranch.id })).databases[0]!, fast);
    world.emulator.faults.rateLimited.set('getProjectBranch', 2);
    const before = world.emulator.calls('getProjectBranch').length;

    const window = await byId.window();

    expect(window.earliest.toISOString()).toBe(world.emulator.defaultBranch.createdAt.toISOString());
    expect(world.emulator.calls('getProjectBranch').slice(before).map((c) => c.status)).toEqual([429, 429, 200]);
  });
});

describe('a configured branch other than the default', () => {
  test('copies are children of it; neither it nor the default branch, nor a copy of the default branch, is ever removed', async () => {
    // Prepare: `production` holds the source's data; `main` stays the project's default branch.
    const production = world.emulator.branchNamed('production') ?? world.emulator.addSourceBranch('production');
    const main = world.emulator.defaultBranch;
    const config = await configWith({}, { branch: 'production' });
    const provider = providerFor(config.databases[0]!, fast) as RestoreProvider<NeonCopyHandle>;
    const ofMain = providerFor((await configWith()).databases[0]!, fast) as RestoreProvider<NeonCopyHandle>;
    const copyOfMain = await ofMain.start({ target: { kind: 'latest' }, copyName: 'rd-neon-app-20261125000000-main', expiresAt: new Date(Date.now() + 600_000) });
    const handle = (name: string, branchId: string): NeonCopyHandle => ({
      provider: 'neon', name, projectId: world.emulator.projectId, branchId, parentId: production.id, operationIds: [], target: { kind: 'latest' }, expiresAt: '',
    });

    // Act
    const { report } = await drill(config);

    // Assess
    expect(report.error, JSON.stringify(report.error)).toBeUndefined();
    expect(report.status).toBe('passed');
    expect((createCalls().at(-1)!.body as { branch: { parent_id: string } }).branch.parent_id).toBe(production.id);
    await world.emulator.gone(report.copy.name!);
    await expect(provider.destroy(handle('rd-neon-app-20261125000000-prod', production.id))).rejects.toThrow(/is the configured branch "production" itself/);
    await expect(provider.destroy(handle('rd-neon-app-20261125000000-main', main.id))).rejects.toThrow(/is the project's default branch/);
    await expect(provider.destroy(handle(copyOfMain.name, copyOfMain.branchId))).rejects.toThrow(/was not made from the configured branch "production"/);
    expect((await provider.listCopies!()).map((c) => c.name)).not.toContain(copyOfMain.name);
    const deleted = world.emulator.calls('deleteProjectBranch').map((r) => r.params.branch_id);
    for (const id of [production.id, main.id, copyOfMain.branchId]) expect(deleted).not.toContain(id);
    expect(world.emulator.mutatingCallsOn([production.id, production.name])).toEqual([]);
    await ofMain.destroy(copyOfMain);
    await world.emulator.gone(copyOfMain.name);
  });
});

describe('the janitor', () => {
  test('goes by our annotation (the full expiry); Neon itself deletes a copy at its expires_at, the safety net when no janitor runs', async () => {
    const config = await configWith();
    const provider = providerFor(config.databases[0]!, fast) as RestoreProvider<NeonCopyHandle>;
    const later = new Date(Date.now() + 3_600_000);
    const expired = await provider.start({ target: { kind: 'latest' }, copyName: 'rd-neon-app-20261125000000-exp1', expiresAt: later });
    const annotated = await provider.start({ target: { kind: 'latest' }, copyName: 'rd-neon-app-20261125000000-ann1', expiresAt: later });
    const stale = await provider.start({ target: { kind: 'latest' }, copyName: 'rd-neon-app-20261125000000-old2', expiresAt: later });
    await world.emulator.idle();
    // Neon's expiry of one copy passes: Neon's background job removes it, with no call of ours.
    world.emulator.branchNamed(expired.name)!.expiresAt = new Date(Date.now() - 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    // Our annotation of another says it expired: the janitor removes that one.
    world.emulator.branchNamed(stale.name)!.annotations['restore-drill:expires-at'] = '2020-01-01T00:00:00.000Z';
    const deletesBefore = world.emulator.calls('deleteProjectBranch').length;

    const result = await runJanitor(config, fast);

    expect(world.emulator.branchNamed(expired.name)).toBeUndefined();
    expect(result.removed.map((c) => [c.name, c.expiresAt])).toEqual([[stale.name, '2020-01-01T00:00:00.000Z']]);
    expect(result.kept.filter((c) => c.provider === 'neon').map((c) => [c.name, c.expiresAt])).toEqual([[annotated.name, later.toISOString()]]);
    expect(world.emulator.calls('deleteProjectBranch').slice(deletesBefore).filter((r) => r.status === 200).map((r) => r.params.branch_id)).toEqual([stale.branchId]);
    await world.emulator.gone(stale.name);
    await provider.destroy(annotated);
    await world.emulator.gone(annotated.name);
  });
});

describe('the API key from Secrets Manager (provider.apiKey.secretArn)', () => {
  test('a JSON secret with apiKey is read and used; a secret with a revoked key gives a 401 naming the secret, never the key', async () => {
    // Prepare: the RDS emulator's Secrets Manager stand-in holds the keys.
    const secrets = new RdsEmulator({ tls: world.ca });
    await secrets.start();
    try {
      const good = secrets.addSecret('neon/api-key', { apiKey: NEON_API_KEY });
      const revoked = secrets.addSecret('neon/old-api-key', { apiKey: 'napi_revoked-0000' });
      const secretsClient = new SecretsManagerClient({ region: 'us-east-1', endpoint: secrets.url, credentials: { accessKeyId: 'AKIAEMULATOR000000000', secretAccessKey: 'emulator' } });
      const providerWith = async (arn: string) => providerFor((await configWith({}, { apiKey: { secretArn: arn } })).databases[0]!, { neon: { secretsClient, env: {} } });

      // Act
      const window = await (await providerWith(good)).window();
      const refused = (await providerWith(revoked)).window();

      // Assess
      expect(window.latest.getTime()).toBeGreaterThan(window.earliest.getTime());
      await expect(refused).rejects.toMatchObject({ kind: 'input', status: 401 });
      await expect(refused).rejects.toThrow(/Neon rejected the API key \(401\) for getProject/);
      await expect(refused).rejects.toThrow(`the secret ${revoked}`);
      await expect(refused).rejects.not.toThrow(/napi_revoked/);
      expect(secrets.requests.map((r) => r.params.SecretId)).toEqual([good, revoked]);
    } finally {
      await secrets.stop();
    }
  });
});

describe('removal refuses anything not ours', () => {
  test('the parent, the default branch, a look-alike without our mark, and a copy of another branch are refused, and never deleted', async () => {
    const provider = providerFor((await configWith()).databases[0]!, fast) as RestoreProvider<NeonCopyHandle>;
    const other = world.emulator.addOtherBranch({ name: 'preview' });
    const lookAlike = world.emulator.addOtherBranch({ name: 'rd-neon-app-20261125000000-fake' });
    const ofOther = world.emulator.addOtherBranch({ name: 'rd-neon-app-20261125000000-othr', parentId: other.id, annotations: { 'restore-drill:managed': 'true' } });
    const main = world.emulator.defaultBranch;
    const handle = (name: string, branchId: string): NeonCopyHandle => ({
      provider: 'neon', name, projectId: world.emulator.projectId, branchId, parentId: main.id, operationIds: [], target: { kind: 'latest' }, expiresAt: '',
    });

    await expect(provider.destroy(handle('rd-neon-app-20261125000000-main', main.id))).rejects.toThrow(NotOurCopyError);
    await expect(provider.destroy(handle('main', main.id))).rejects.toThrow(NotOurCopyError);
    await expect(provider.destroy(handle(lookAlike.name, lookAlike.id))).rejects.toThrow(/does not carry the annotation restore-drill:managed=true/);
    await expect(provider.destroy(handle(ofOther.name, ofOther.id))).rejects.toThrow(/was not made from the configured branch "main"/);
    await expect(provider.destroy(handle('rd-neon-app-20261125000000-prev', other.id))).rejects.toThrow(/is not the restore-drill copy/);

    const deleted = world.emulator.calls('deleteProjectBranch').map((r) => r.params.branch_id);
    for (const id of [main.id, other.id, lookAlike.id, ofOther.id]) expect(deleted).not.toContain(id);
    for (const branch of [ofOther, lookAlike, other]) world.emulator.branches.delete(branch.id);
  });
});
