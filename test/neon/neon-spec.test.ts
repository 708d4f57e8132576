import { describe, expect, test } from 'vitest';
import { neonSpec, neonSpecFile } from '../emulators/neon/spec.ts';

// The checks the emulator applies to every request and answer, held to the document itself: each must
// refuse what Neon's published OpenAPI file refuses, or the tests that rely on it prove nothing.
const spec = neonSpec();
const project = { project_id: 'shiny-wind-028834' };

describe("Neon's OpenAPI document, as shipped in @neondatabase/api-client", () => {
  test('is the installed client\'s own file, with the operations the provider calls', () => {
    expect(neonSpecFile()).toMatch(/node_modules\/@neondatabase\/api-client\/public-v2-for-users\.gen\.yaml$/);
    for (const operation of ['getProject', 'listProjectBranches', 'createProjectBranch', 'getProjectBranch', 'deleteProjectBranch', 'getProjectOperation', 'getConnectionURI', 'getProjectBranchRole', 'listProjectBranchEndpoints']) {
      expect(spec.operations.has(operation), operation).toBe(true);
    }
  });

  test('a request that breaks it is named: a compute below 0.25 CU, an unknown member, a missing required query parameter, a bad path id', () => {
    const create = spec.checkRequest('createProjectBranch', {
      method: 'POST',
      params: project,
      query: {},
      body: { branch: { parent_id: 'br-aged-salad-637688', name: 'rd-x', parent_timestamp: 'yesterday', expiry: '2026-01-01T00:00:00Z' }, endpoints: [{ type: 'read_write', autoscaling_limit_min_cu: 0.1 }] },
    });
    const uri = spec.checkRequest('getConnectionURI', { method: 'GET', params: project, query: { branch_id: 'br-aged-salad-637688', role_name: 'neondb_owner' }, body: undefined });
    const branch = spec.checkRequest('getProjectBranch', { method: 'GET', params: { ...project, branch_id: 'Main Branch' }, query: {}, body: undefined });

    expect(create).toEqual(expect.arrayContaining([
      expect.stringMatching(/body \/branch\/parent_timestamp must match format "date-time"/),
      expect.stringMatching(/body \/endpoints\/0\/autoscaling_limit_min_cu must be >= 0.25/),
      expect.stringMatching(/body\.branch\.expiry is not a member the document names/),
    ]));
    expect(uri).toEqual(['query parameter "database_name" is required']);
    expect(branch).toEqual([expect.stringMatching(/path parameter "branch_id" \("Main Branch"\) must match pattern/)]);
  });

  test('what the provider sends today is valid', () => {
    const problems = spec.checkRequest('createProjectBranch', {
      method: 'POST',
      params: project,
      query: {},
      body: {
        branch: { parent_id: 'br-aged-salad-637688', name: 'rd-app-20261125000000-ab12', parent_timestamp: '2026-11-25T14:59:59.000Z', expires_at: '2026-11-25T16:00:00Z' },
        endpoints: [{ type: 'read_write', autoscaling_limit_min_cu: 0.5, autoscaling_limit_max_cu: 2 }],
        annotation_value: { 'restore-drill:managed': 'true' },
      },
    });

    expect(problems).toEqual([]);
  });

  test('an answer that breaks it is named: a missing required member, an undocumented status, an error without code', () => {
    const operation = spec.checkResponse('getProjectOperation', 200, { operation: { id: 'a07f8772-1877-4da9-a939-3a3ae62d1d8d', project_id: 'p', action: 'create_branch', status: 'done', failures_count: 0, created_at: '2026-11-25T00:00:00Z', updated_at: '2026-11-25T00:00:00Z' } });
    const branch = spec.checkResponse('getProjectBranch', 200, { branch: {} });
    const error = spec.checkResponse('createProjectBranch', 422, { message: 'branches limit exceeded' });

    expect(operation).toEqual(expect.arrayContaining([
      "200 answer /operation must have required property 'total_duration_ms'",
      expect.stringMatching(/\/operation\/status must be equal to one of the allowed values \(scheduling, running, finished, failed, error, cancelling, cancelled, skipped\)/),
    ]));
    // The document requires the annotation in getProjectBranch's answer, even an empty one.
    expect(branch).toEqual(expect.arrayContaining(["200 answer must have required property 'annotation'"]));
    expect(error).toEqual(["422 answer must have required property 'code'"]);
  });
});
