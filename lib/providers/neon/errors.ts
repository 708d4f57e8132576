import { RestoreDrillError, type FailureKind } from '../../errors.ts';

/** A Neon API call that failed, explained for the person on call; `status` is the HTTP status (0 without a response). */
export class NeonApiError extends RestoreDrillError {
  readonly status: number;
  readonly code: string;
  /** Neon's request_id of the failed call: what Neon's support asks for. */
  readonly requestId: string | undefined;
  /** Neon's own words (its error message), without our explanation. */
  readonly neonMessage: string;

  constructor(kind: FailureKind, status: number, code: string, message: string, requestId?: string, neonMessage = '') {
    super(kind, message);
    this.name = 'NeonApiError';
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.neonMessage = neonMessage;
  }
}

/** The project is at its plan's branch limit: a copy cannot be made until a branch is removed. Nothing was created. */
export class NeonBranchLimitError extends RestoreDrillError {
  constructor(message: string) {
    super('input', message);
    this.name = 'NeonBranchLimitError';
  }
}

/** Neon keeps no history that reaches the target (history retention 0, or Neon refused the timestamp): the backup cannot deliver it. */
export class NeonHistoryError extends RestoreDrillError {
  constructor(message: string) {
    super('backup', message);
    this.name = 'NeonHistoryError';
  }
}

/** The checks role's password cannot be had for the copy: found before any branch is made. */
export class NeonPasswordUnavailableError extends RestoreDrillError {
  constructor(message: string) {
    super('input', message);
    this.name = 'NeonPasswordUnavailableError';
  }
}

/** The configured branch is the frozen backup an instant restore left behind: the live data moved to another branch. */
export class NeonParentRestoredError extends RestoreDrillError {
  constructor(message: string) {
    super('input', message);
    this.name = 'NeonParentRestoredError';
  }
}

export interface NeonCallContext {
  /** The SDK method, e.g. createProjectBranch. */
  action: string;
  /** What it was about, for the message: `project "shiny-wind-028834"`. */
  resource: string;
  baseUrl: string;
  /** Where the key came from, for the 401 message: `the environment variable NEON_API_KEY`. */
  keySource: string;
  attempts: number;
  /** What a 404 means here, when it is not a wrong project or branch in the config. */
  notFound?: string | undefined;
}

/** What the Neon API answered, read from an axios error; never its request config, which holds the API key. */
export interface NeonFailure {
  status: number;
  code: string;
  message: string;
  requestId?: string | undefined;
  retryAfter?: string | undefined;
  network?: string | undefined;
}

export function neonFailureOf(error: unknown): NeonFailure {
  const e = error as { response?: { status?: number; data?: unknown; headers?: Record<string, unknown> }; code?: string; message?: string };
  if (!e.response) return { status: 0, code: e.code ?? 'NETWORK', message: e.message ?? String(error), network: e.code ?? e.message };
  const data = (typeof e.response.data === 'object' && e.response.data !== null ? e.response.data : {}) as { code?: unknown; message?: unknown; request_id?: unknown };
  const header = (name: string) => {
    const value = e.response?.headers?.[name];
    return typeof value === 'string' && value ? value : undefined;
  };
  const text = typeof e.response.data === 'string' ? e.response.data : '';
  return {
    status: e.response.status ?? 0,
    code: typeof data.code === 'string' ? data.code : '',
    // A proxy's HTML page (a 502 from the load balancer) says nothing a person needs: only the API's own words are quoted.
    message: typeof data.message === 'string' ? data.message : /^\s*</.test(text) ? '' : text.slice(0, 300),
    requestId: typeof data.request_id === 'string' && data.request_id ? data.request_id : header('x-neon-request-id') ?? header('x-request-id'),
    retryAfter: header('retry-after'),
  };
}

/** Network failures where the request may not have reached Neon, or its answer was lost on the way. */
const DROPPED = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'ECONNABORTED', 'EPIPE', 'EAI_AGAIN', 'ERR_NETWORK', 'ERR_BAD_RESPONSE']);

/**
 * 423 (another operation holds the project), 429 and 503 are safe to retry, POST included (Neon's document
 * says so). A read (`safe`) is also retried on a gateway's 502 or 504, a 500, and a dropped connection: a GET
 * changes nothing, so sending it again cannot make two copies.
 */
export function isRetryable(failure: NeonFailure, safe: boolean): boolean {
  if (failure.status === 423 || failure.status === 429 || failure.status === 503) return true;
  if (!safe) return false;
  if (failure.status === 500 || failure.status === 502 || failure.status === 504) return true;
  return failure.status === 0 && (DROPPED.has(failure.code) || /socket hang up|timeout/i.test(failure.message));
}

/** Turns a failed call into one of ours, with a message that names the value and what to do. */
export function explainNeonFailure(failure: NeonFailure, context: NeonCallContext): NeonApiError {
  const where = `${context.action} on ${context.resource}`;
  const said = failure.message ? `: ${failure.message}` : '';
  const code = failure.code ? ` ${failure.code}` : '';
  const request = failure.requestId ? ` (Neon request_id ${failure.requestId})` : '';
  const make = (kind: FailureKind, message: string) => new NeonApiError(kind, failure.status, failure.code, `${message}${request}`, failure.requestId, failure.message);
  switch (failure.status) {
    case 0:
      return make('tool', `cannot reach the Neon API at ${context.baseUrl} for ${where} (${failure.network ?? failure.message}${context.attempts > 1 ? `, ${context.attempts} attempts` : ''}). Check the network and provider.apiBaseUrl.`);
    case 401:
      return make('input', `Neon rejected the API key (401${code}) for ${where}${said}. Check the key in ${context.keySource}: it may be mistyped, revoked, or for another account.`);
    case 403:
      return make('input', `the Neon API key may not do ${where} (403${code})${said}. Use a key of the organization that owns the project, with access to it.`);
    case 404:
      return make('input', context.notFound
        ? `Neon has no ${context.resource} (404${code}, ${context.action})${said}. ${context.notFound}`
        : `Neon has no ${context.resource} (404${code}, ${context.action})${said}. Check provider.projectId and provider.branch, and that the API key belongs to the organization that owns them.`);
    case 409:
      return make('input', `Neon refused ${where} as a conflict (409${code})${said}. A branch of that name may exist already (a copy left by an earlier run: restore-drill janitor removes expired ones), or another change of the same resource is under way; run the drill again.`);
    case 412:
      return make('input', `Neon refused ${where} (412${code})${said}. The project stores no role passwords (Settings → "Store passwords"): give the checks role's password in provider.password ({ "env": ... } or { "secretArn": ... }), or turn storing back on.`);
    case 422:
      return make('input', failure.code === 'BRANCHES_LIMIT_EXCEEDED' || /branch(es)? limit/i.test(failure.message)
        ? `Neon refused ${where}: the project is at its plan's branch limit (422${code})${said}. Remove branches you no longer need (restore-drill janitor removes expired copies), or raise the limit with the plan.`
        : `Neon could not carry out ${where} (422${code})${said}. A plan limit or the project's state refuses it: check the project's plan and settings in the Neon console.`);
    case 423:
    case 429:
    case 503: {
      const what = failure.status === 423 ? 'another operation was in progress on the project' : failure.status === 429 ? 'the API rate limit was reached' : 'Neon was unavailable';
      return make('tool', `${where} still failed after ${context.attempts} attempts: ${what} (${failure.status}${code})${said}. Try again later, or run fewer drills at once (concurrency).`);
    }
    default:
      if (failure.status >= 400 && failure.status < 500) {
        return make('input', `Neon refused ${where} (${failure.status}${code})${said}.`);
      }
      return make('tool', `${where} failed${context.attempts > 1 ? ` after ${context.attempts} attempts` : ''}: Neon answered ${failure.status}${code}${said}.`);
  }
}
