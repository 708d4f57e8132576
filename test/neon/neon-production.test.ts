/**
 * Neon as it behaves in production (issue 13): each finding as a drill or a provider call against the
 * emulator, through the real @neondatabase/api-client. Every drill ends with a clear outcome and no branch
 * left behind; every request and answer is held to Neon's OpenAPI document.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createApiClient } from '@neondatabase/api-client';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { validateConfig } from '../../lib/config/load.ts';
import type { RestoreDrillConfig } from '../../lib/config/schema.ts';
import { runDrill } from '../../lib/drill/drill.ts';
import { exitCodeOf } from '../../lib/drill/outcome.ts';
import { runJanitor } from '../../lib/janitor.ts';
import { providerFor, type ProviderOptions } from '../../lib/providers/index.ts';
import { neonBranchCapacity, type NeonCopyHandle } from '../../lib/providers/neon/index.ts';
import type { NeonProviderConfig } from '../../lib/config/schema.ts';
import type { RestoreProvider } from '../../lib/providers/types.ts';
import { RdsEmulator } from '../emulators/rds/emulator.ts';
import { leftoverCopies, useOwnScratch } from '../emulators/rds/world.ts';
import { NEON_API_KEY, neonDatabaseConfig, neonWorld, ROLE, ROLE_PASSWORD, type NeonWorld } from '../emulators/neon/world.ts';
import { newClient } from '../../lib/util/pgClient.ts';

useOwnScratch('neon-production-test');
process.env.NEON_API_KEY = NEON_API_KEY;

const CHECKS_ROLE = 'rd_checks';
const CHECKS_PASSWORD = 'Ch3cks-pa55word-never-in-reports';

let world: NeonWorld;
let secrets: RdsEmulator;
let secretsClient: SecretsManagerClient;
let checksSecret: string;
let checksRoleMadeAt: Date;

beforeAll(async () => {
  world = await neonWorld();
  // The usual checks role: made in SQL on production, read-only, its password kept in Secrets Manager.
  checksRoleMadeAt = await world.createSqlRole(CHECKS_ROLE, CHECKS_PASSWORD);
  secrets = new RdsEmulator({ tls: world.ca });
  await secrets.start();
  checksSecret = secrets.addSecret('neon/checks-role', { password: CHECKS_PASSWORD });
  secretsClient = new SecretsManagerClient({ region: 'us-east-1', endpoint: secrets.url, credentials: { accessKeyId: 'AKIAEMULATOR000000000', secretAccessKey: 'emulator' } });
});

afterAll(async () => {
  if (!world) return;
  // The instant restore is the test's own doing (the person on call restoring production), not restore-drill's.
  const touchingSource = world.emulator.mutatingCallsOn(world.sourceIdentifiers).filter((r) => r.operation !== 'restoreProjectBranch');
  const { specProblems, specChecked } = world.emulator;
  await secrets?.stop();
  await world.remove();
  expect(specProblems, JSON.stringify(specProblems, null, 1)).toEqual([]);
  console.info(`neon-production: ${specChecked.requests} requests and ${specChecked.responses} answers held to Neon's OpenAPI document`);
  expect(touchingSource).toEqual([]);
  const left = await leftoverCopies();
  expect(left, JSON.stringify(left)).toEqual([]);
});

// No drill may leave a branch of ours behind, whatever its outcome (one left is removed here, so that the
// next test starts clean, and fails this one).
afterEach(async () => {
  await world.emulator.idle();
  const ours = [...world.emulator.branches.values()].filter((b) => b.name.startsWith('rd-'));
  for (const branch of ours) world.emulator.discard(branch);
  await world.emulator.idle();
  expect(ours.map((b) => b.name)).toEqual([]);
});

const fast = (extra: ProviderOptions['neon'] = {}): ProviderOptions => ({
  neon: { retry: { baseDelayMs: 5, maxDelayMs: 200, attempts: 150 }, secretsClient, endpointAddress: (host) => world.emulator.computeAddress(host), ...extra },
});

async function configWith(overrides: Record<string, unknown> = {}, provider: Record<string, unknown> = {}): Promise<RestoreDrillConfig> {
  return validateConfig({ rpoTargetSeconds: 3600, rtoTargetSeconds: 600, restoreTimeoutSeconds: 60, databases: [neonDatabaseConfig(world, 'neon-prod', overrides, provider)] }, world.project);
}

async function drill(config: RestoreDrillConfig, options: { target?: string; provider?: ProviderOptions } = {}) {
  const database = config.databases[0]!;
  const { report } = await runDrill(config, database, providerFor(database, options.provider ?? fast()), { trigger: 'cli', target: options.target, pollIntervalMs: 20 });
  if (report.copy.name) await world.emulator.gone(report.copy.name);
  return report;
}

const creates = () => world.emulator.calls('createProjectBranch');
const checksRole = { connection: { database: 'neondb', user: CHECKS_ROLE } };

describe('1. the checks role\'s password', () => {
  test('a role made in SQL, its password from a secret (provider.password.secretArn): the drill passes as that role, and the password is nowhere in the report', async () => {
    const config = await configWith(checksRole, { password: { secretArn: checksSecret } });

    const report = await drill(config);

    expect(report.error, JSON.stringify(report.error)).toBeUndefined();
    expect(report).toMatchObject({ status: 'passed', copy: { removed: true } });
    expect(report.checks.map((c) => [c.check, c.status])).toEqual([['connection', 'pass'], ['ledger', 'pass'], ['rowCounts', 'pass'], ['freshness', 'pass']]);
    // Neon never handed out a connection URI for the copy: the password came from the secret.
    const asked = world.emulator.calls('getConnectionURI').filter((r) => r.query.branch_id !== world.emulator.defaultBranch.id && r.at >= creates().at(-1)!.at);
    expect(asked).toEqual([]);
    expect(secrets.requests.map((r) => r.params.SecretId)).toContain(checksSecret);
    expect(JSON.stringify(report)).not.toContain(CHECKS_PASSWORD);
  });

  test('the same role without provider.password: refused before any branch is made, naming the cause and the fix (exit 2)', async () => {
    const before = creates().length;

    const report = await drill(await configWith(checksRole));

    expect(report).toMatchObject({ status: 'error', error: { step: 'restore', kind: 'input', name: 'NeonPasswordUnavailableError' } });
    expect(exitCodeOf([report])).toBe(2);
    expect(report.error!.message).toMatch(/cannot give the password of role "rd_checks".*role made in SQL.*provider\.password/);
    expect(report.error!.message).not.toMatch(/Check provider\.projectId/);
    expect(creates()).toHaveLength(before);
  });

  test('a target before the role was made: refused before branching (the copy would not have the role)', async () => {
    const before = creates().length;
    const target = new Date(checksRoleMadeAt.getTime() - 1000);
    // The branch is older than the target (its history reaches it): only the role is too young.
    const main = world.emulator.defaultBranch;
    const created = main.createdAt;
    main.createdAt = new Date(target.getTime() - 3_600_000);

    const report = await drill(await configWith(checksRole, { password: { secretArn: checksSecret } }), { target: target.toISOString() });
    main.createdAt = created;

    expect(report).toMatchObject({ status: 'error', error: { step: 'restore', kind: 'input' } });
    expect(report.error!.message).toMatch(/role "rd_checks" \(connection\.user\) was created on branch "main" at .*after the target .*: the copy will not have it/);
    expect(creates()).toHaveLength(before);
  });

  test('a project that stores no passwords (getConnectionUri would answer 412): refused before branching, naming store_passwords and provider.password', async () => {
    world.emulator.storePasswords = false;
    const before = creates().length;

    const report = await drill(await configWith());
    world.emulator.storePasswords = true;

    expect(report).toMatchObject({ status: 'error', error: { kind: 'input', name: 'NeonPasswordUnavailableError' } });
    expect(report.error!.message).toMatch(/stores no role passwords \(store_passwords false\).*provider\.password/);
    expect(creates()).toHaveLength(before);
  });

  test('provider.password.env names a variable that is not set: refused before branching, naming it', async () => {
    const before = creates().length;

    const report = await drill(await configWith(checksRole, { password: { env: 'RD_CHECKS_PASSWORD_UNSET' } }), { provider: fast({ env: { NEON_API_KEY } }) });

    expect(report).toMatchObject({ status: 'error', error: { kind: 'input', name: 'ConfigError' } });
    expect(report.error!.message).toMatch(/environment variable RD_CHECKS_PASSWORD_UNSET \(provider\.password\.env\), which is not set/);
    expect(creates()).toHaveLength(before);
  });

  test('a protected parent: Neon gives the copy\'s roles their own passwords; the copy is reached with those, the parent\'s does not open it, and the connection says so', async () => {
    const production = world.emulator.addSourceBranch('production', { protected: true });
    const provider = providerFor((await configWith({}, { branch: 'production' })).databases[0]!, fast()) as RestoreProvider<NeonCopyHandle>;
    const handle = await provider.start({ target: { kind: 'latest' }, copyName: 'rd-neon-prod-20261125000000-prot', expiresAt: new Date(Date.now() + 600_000) });
    try {
      let poll = await provider.poll(handle);
      while (poll.state === 'pending') poll = await new Promise((r) => setTimeout(r, 20)).then(() => provider.poll(handle));
      if (poll.state !== 'ready') throw new Error(JSON.stringify(poll));
      const { host, port, database, passwordFrom } = poll.connection;
      const secrets = await provider.connectionSecrets!(poll.connection);
      const login = async (password: string) => {
        const client = newClient({ host, port, database, user: secrets.user ?? ROLE, password, ssl: { ca: secrets.ca!, rejectUnauthorized: true } });
        try {
          await client.connect();
          return (await client.query<{ n: number }>('select count(*)::int as n from users')).rows[0]!.n;
        } finally {
          await client.end().catch(() => undefined);
        }
      };

      expect(passwordFrom).toMatch(/the copy's own password from the Neon API \(its parent is protected, so Neon gave the copy's roles new passwords\)/);
      expect(secrets.password).not.toBe(ROLE_PASSWORD);
      expect(await login(secrets.password!)).toBeGreaterThan(0);
      await expect(login(ROLE_PASSWORD)).rejects.toThrow(/password authentication failed/);
    } finally {
      await provider.destroy(handle);
      await world.emulator.gone(handle.name);
      world.emulator.branches.delete(production.id);
    }
  });
});

describe('2. failed operations are not final', () => {
  test('an operation that fails once and is retried by Neon: the drill waits it out and passes', async () => {
    world.emulator.faults.nextOperation = 'failed-then-retried';
    const before = world.emulator.calls('getProjectOperation').length;

    const report = await drill(await configWith());

    expect(report.error, JSON.stringify(report.error)).toBeUndefined();
    expect(report.status).toBe('passed');
    const seen = world.emulator.calls('getProjectOperation').slice(before).map((r) => r.answered);
    expect(seen).toContain('create_branch failed');
    expect(seen.at(-1)).toMatch(/finished$/);
  });

  test('an operation that keeps failing: the drill fails when the restore timeout passes, not at the first failure', async () => {
    world.emulator.faults.nextOperation = 'failed';
    const config = await configWith({ restoreTimeoutSeconds: 1 });
    const started = Date.now();

    const report = await drill(config);

    expect(report).toMatchObject({ status: 'failed', error: { step: 'wait', kind: 'backup', name: 'RestoreTimeoutError' }, copy: { removed: true } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });
});

describe('3. safe reads are retried', () => {
  test('a 502 page on an operation poll and a dropped connection on a branch read: retried, and the drill passes', async () => {
    world.emulator.faults.badGateway.set('getProjectOperation', 2);
    world.emulator.faults.reset.set('listProjectBranches', 1);

    const report = await drill(await configWith());

    expect(report.error, JSON.stringify(report.error)).toBeUndefined();
    expect(report.status).toBe('passed');
    expect(world.emulator.calls('getProjectOperation').filter((r) => r.status === 502)).toHaveLength(2);
    expect(world.emulator.requests.filter((r) => r.answered === 'connection reset')).toHaveLength(1);
  });

  test('a 502 on the branch creation itself is not retried (a POST may have made the branch): a tool error, one create', async () => {
    world.emulator.faults.badGateway.set('createProjectBranch', 1);
    const before = creates().length;

    const report = await drill(await configWith());

    expect(report).toMatchObject({ status: 'error', error: { step: 'restore', kind: 'tool' } });
    expect(report.error!.message).toMatch(/createProjectBranch .* failed: Neon answered 502/);
    expect(report.error!.message).not.toMatch(/<html/);
    expect(creates()).toHaveLength(before + 1);
  });

  test('the creation was carried out but its answer lost (502): not retried, and the branch Neon made all the same is removed', async () => {
    world.emulator.faults.lostAnswer.set('createProjectBranch', 1);
    const before = creates().length;

    const report = await drill(await configWith());

    expect(report).toMatchObject({ status: 'error', error: { step: 'restore', kind: 'tool' } });
    expect(report.error!.message).toMatch(/Neon answered 502.*Neon had made the branch rd-neon-prod-\S+ \(br-[a-z0-9-]+\) all the same; it was removed/);
    expect(creates()).toHaveLength(before + 1);
    expect(world.emulator.calls('deleteProjectBranch').filter((r) => r.status === 200).at(-1)!.at.getTime()).toBeGreaterThan(creates().at(-1)!.at.getTime());
  });
});

describe('4. the plan\'s branch limit', () => {
  test('over the limit: refused before creating, naming the limit and our leftover copies (exit 2), nothing made', async () => {
    const provider = providerFor((await configWith()).databases[0]!, fast()) as RestoreProvider<NeonCopyHandle>;
    const leftover = await provider.start({ target: { kind: 'latest' }, copyName: 'rd-neon-prod-20261125000000-left', expiresAt: new Date(Date.now() + 3_600_000) });
    await world.emulator.idle();
    world.emulator.branchesLimit = world.emulator.branches.size;
    const before = creates().length;

    const report = await drill(await configWith());
    world.emulator.branchesLimit = 50;
    await provider.destroy(leftover);
    await world.emulator.gone(leftover.name);

    expect(report).toMatchObject({ status: 'error', error: { step: 'restore', kind: 'input', name: 'NeonBranchLimitError' }, copy: { made: false } });
    expect(exitCodeOf([report])).toBe(2);
    expect(report.error!.message).toMatch(/has 2 branches, at its plan's limit of 2 \(owner\.branches_limit\).*1 of them are restore-drill copies: rd-neon-prod-20261125000000-left \(expires .*\); restore-drill janitor removes the expired ones/);
    expect(creates()).toHaveLength(before);
  });

  test('Neon\'s own 422 (the project filled up between our count and the creation): the message names the limit and what to do', async () => {
    world.emulator.faults.overLimit.set('createProjectBranch', 1);
    const provider = providerFor((await configWith()).databases[0]!, fast()) as RestoreProvider<NeonCopyHandle>;

    const attempt = provider.start({ target: { kind: 'latest' }, copyName: 'rd-neon-prod-20261125000000-race', expiresAt: new Date(Date.now() + 600_000) });

    await expect(attempt).rejects.toMatchObject({ name: 'NeonApiError', status: 422, code: 'BRANCHES_LIMIT_EXCEEDED', kind: 'input' });
    await expect(attempt).rejects.toThrow(/at its plan's branch limit \(422 BRANCHES_LIMIT_EXCEEDED\): branches limit exceeded\. Remove branches .*janitor.*request_id/);
  });

  test('how close the project is to its limit, for the janitor to report: branches, the limit, what is free, our copies', async () => {
    const provider = providerFor((await configWith()).databases[0]!, fast()) as RestoreProvider<NeonCopyHandle>;
    const copy = await provider.start({ target: { kind: 'latest' }, copyName: 'rd-neon-prod-20261125000000-cap1', expiresAt: new Date(Date.now() + 3_600_000) });
    const config = (await configWith()).databases[0]!.provider as NeonProviderConfig;
    world.emulator.branchesLimit = world.emulator.branches.size + 1;

    const capacity = await neonBranchCapacity(config, fast().neon);
    const janitor = await runJanitor(await configWith(), { ...fast(), dryRun: true });
    world.emulator.branchesLimit = 50;
    await world.emulator.idle();
    await provider.destroy(copy);
    await world.emulator.gone(copy.name);

    expect(capacity).toMatchObject({ branches: 2, limit: 3, free: 1, copies: [{ name: copy.name, expiresAt: copy.expiresAt }] });
    expect(capacity.summary).toBe('2 of 3 branches (1 restore-drill copy): 1 free');
    // The janitor reports it, once per project, without removing anything for it.
    expect(janitor.capacity).toEqual([{ database: expect.any(String), provider: 'neon', summary: `Neon project ${config.projectId}: 2 of 3 branches (1 restore-drill copy): 1 free` }]);
  });
});

describe('5. the copy\'s compute', () => {
  test('sized from the parent\'s own compute by default, from copyCompute when the config says so', async () => {
    world.emulator.endpoints.get(world.emulator.defaultBranch.endpointId!)!.maxCu = 4;

    const byParent = await drill(await configWith());
    const byConfig = await drill(await configWith({}, { copyCompute: { minCu: 1, maxCu: 2 } }));

    expect([byParent.status, byConfig.status]).toEqual(['passed', 'passed']);
    const [first, second] = creates().filter((r) => r.status === 201).slice(-2).map((r) => (r.body as { endpoints: unknown[] }).endpoints);
    expect(first).toEqual([{ type: 'read_write', autoscaling_limit_min_cu: 0.5, autoscaling_limit_max_cu: 4 }]);
    expect(second).toEqual([{ type: 'read_write', autoscaling_limit_min_cu: 1, autoscaling_limit_max_cu: 2 }]);
  });
});

describe('6. the window is not over-claimed', () => {
  test('history retention 0 (point-in-time restore off): the drill fails (exit 1) saying so, and no branch is made', async () => {
    world.emulator.historyRetentionSeconds = 0;
    const before = creates().length;

    const report = await drill(await configWith());
    world.emulator.historyRetentionSeconds = 86_400;

    expect(report).toMatchObject({ status: 'failed', error: { step: 'plan', kind: 'backup', name: 'NeonHistoryError' }, copy: { name: null } });
    expect(exitCodeOf([report])).toBe(1);
    expect(report.error!.message).toMatch(/keeps no history \(history_retention_seconds 0\): point-in-time restore is off.*Set the project's history retention/);
    expect(creates()).toHaveLength(before);
  });

  test('Neon refuses a timestamp inside the claimed window (a Free plan\'s size cap): the drill fails as a backup that cannot reach the target, quoting Neon; the window notes the cap', async () => {
    world.emulator.subscriptionType = 'free_v3';
    world.emulator.historySizeCapStart = new Date(Date.now() - 1000);

    const report = await drill(await configWith(), { target: new Date(Date.now() - 3000).toISOString() });
    world.emulator.subscriptionType = 'launch';
    world.emulator.historySizeCapStart = undefined;

    expect(report).toMatchObject({ status: 'failed', error: { step: 'restore', kind: 'backup', name: 'NeonHistoryError' } });
    expect(report.error!.message).toMatch(/history of branch "main" does not reach the target .*oldest point of the branch's history Neon keeps/);
    expect(report.window!.note).toMatch(/Free plan Neon caps history by size/);
  });
});

describe('7. ownership and expiry', () => {
  test('each copy carries Neon\'s expires_at (to the second) next to our annotation, and Neon removes it at expiry by itself', async () => {
    const provider = providerFor((await configWith()).databases[0]!, fast()) as RestoreProvider<NeonCopyHandle>;
    const expiresAt = new Date(Date.now() + 3_600_000);

    const handle = await provider.start({ target: { kind: 'latest' }, copyName: 'rd-neon-prod-20261125000000-ttl1', expiresAt });
    const branch = world.emulator.branchNamed(handle.name)!;

    expect(branch.expiresAt).toBe(expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z'));
    expect(branch.annotations['restore-drill:expires-at']).toBe(expiresAt.toISOString());
    await world.emulator.idle();
    branch.expiresAt = new Date(Date.now() - 1000).toISOString();
    expect(await provider.listCopies!()).toEqual([]);
    expect(world.emulator.branchNamed(handle.name)).toBeUndefined();
  });

  test('an annotation that does not come back after creation: the branch is removed at once and start says why', async () => {
    world.emulator.faults.dropNextAnnotation = true;
    const provider = providerFor((await configWith()).databases[0]!, fast()) as RestoreProvider<NeonCopyHandle>;

    const attempt = provider.start({ target: { kind: 'latest' }, copyName: 'rd-neon-prod-20261125000000-ann0', expiresAt: new Date(Date.now() + 600_000) });

    await expect(attempt).rejects.toThrow(/annotation did not come back \(restore-drill:managed, restore-drill:expires-at, restore-drill:database missing\).*removed at once/);
    await world.emulator.gone('rd-neon-prod-20261125000000-ann0');
  });
});

describe('8. measured RPO', () => {
  test('Neon\'s claimed RPO is ~0 by construction; the measured one is the freshness column\'s lag in the copy', async () => {
    const report = await drill(await configWith());

    expect(report.status).toBe('passed');
    expect(report.rpo.claimedSeconds).toBeLessThan(1);
    const freshness = report.checks.find((c) => c.check === 'freshness')!.details as { dataLagSeconds: number };
    expect(report.rpo.measuredLagSeconds).toBe(freshness.dataLagSeconds);
    expect(report.rpo.measuredLagSeconds).toBeGreaterThan(0);
  });
});

describe('9. what the person on call is told', () => {
  test('Neon\'s request_id is in the message; a 409 (the name is taken) says what to do', async () => {
    const provider = providerFor((await configWith()).databases[0]!, fast()) as RestoreProvider<NeonCopyHandle>;
    const taken = world.emulator.addOtherBranch({ name: 'rd-neon-prod-20261125000000-dup1' });

    const attempt = provider.start({ target: { kind: 'latest' }, copyName: taken.name, expiresAt: new Date(Date.now() + 600_000) });
    await attempt.catch(() => undefined);
    world.emulator.branches.delete(taken.id);

    const answered = world.emulator.calls('createProjectBranch').at(-1)!;
    expect(answered.status).toBe(409);
    await expect(attempt).rejects.toThrow(/as a conflict \(409\).*copy left by an earlier run.*janitor/);
    await expect(attempt).rejects.toThrow(`(Neon request_id ${answered.requestId})`);
  });

  test('a branch *named* br-...: found by name when no branch has that id', async () => {
    const named = world.emulator.addSourceBranch('br-release-2026');
    try {
      const window = await providerFor((await configWith({}, { branch: 'br-release-2026' })).databases[0]!, fast()).window();

      expect(window.earliest.getTime()).toBeLessThan(window.latest.getTime());
      expect(world.emulator.calls('getProjectBranch').at(-1)!.status).toBe(404);
    } finally {
      world.emulator.branches.delete(named.id);
    }
  });

  test('an IP Allow list that covers copies (not only protected branches) is named in the window', async () => {
    world.emulator.allowedIps = { ips: ['203.0.113.7'], protectedBranchesOnly: false };
    const open = await providerFor((await configWith()).databases[0]!, fast()).window();
    world.emulator.allowedIps = { ips: ['203.0.113.7'], protectedBranchesOnly: true };
    const protectedOnly = await providerFor((await configWith()).databases[0]!, fast()).window();
    world.emulator.allowedIps = undefined;

    expect(open.note).toMatch(/IP Allow list \(1 entries\) applies to copies too.*limit the list to protected branches/);
    expect(protectedOnly.note).toBeUndefined();
  });
});

// Last: the restore moves the default branch's name to a new branch.
describe('6. the parent was instantly restored', () => {
  test('by name: the drill follows the restored branch and passes; copies made before are the janitor\'s; by id: refused, naming the new branch', async () => {
    // Prepare: a copy made before the restore, kept, and expired by the time the janitor runs.
    const config = await configWith();
    const provider = providerFor(config.databases[0]!, fast()) as RestoreProvider<NeonCopyHandle>;
    const old = await provider.start({ target: { kind: 'latest' }, copyName: 'rd-neon-prod-20261125000000-pre1', expiresAt: new Date(Date.now() + 3_600_000) });
    await world.emulator.idle();
    const before = world.emulator.defaultBranch;
    const byId = await configWith({}, { branch: before.id });
    await client().restoreProjectBranch(world.emulator.projectId, before.id, { source_branch_id: before.id, source_timestamp: new Date(Date.now() - 1000).toISOString(), preserve_under_name: `main_old_${new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')}` });
    const restored = world.emulator.defaultBranch;
    world.emulator.branchNamed(old.name)!.annotations['restore-drill:expires-at'] = '2020-01-01T00:00:00.000Z';

    // Act
    const byName = await drill(config);
    const frozen = await drill(byId);
    const janitor = await runJanitor(config, fast());

    // Assess
    expect(restored.id).not.toBe(before.id);
    expect(byName.error, JSON.stringify(byName.error)).toBeUndefined();
    expect(byName.status).toBe('passed');
    expect(Date.parse(byName.window!.earliest)).toBeGreaterThanOrEqual(restored.createdAt.getTime());
    expect(byName.window!.note).toContain(`branch "main" was restored in place at ${restored.createdAt.toISOString()} (its earlier state is kept as "main_old_`);
    expect(frozen).toMatchObject({ status: 'error', error: { step: 'plan', kind: 'input', name: 'NeonParentRestoredError' }, copy: { name: null } });
    expect(frozen.error!.message).toContain(`The live data is on branch "main" (${restored.id}); set provider.branch to "main"`);
    expect(janitor.removed.map((c) => c.name)).toEqual([old.name]);
    await world.emulator.gone(old.name);
  });
});

function client() {
  return createApiClient({ apiKey: NEON_API_KEY, baseURL: world.emulator.apiBaseUrl });
}
