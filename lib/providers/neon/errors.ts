import { RestoreDrillError, type FailureKind } from '../../errors.ts';

/** A Neon API call that failed, explained for the person on call; `status` is the HTTP status (0 without a response). */
export class NeonApiError extends RestoreDrillError {
  readonly status: number;
  readonly code: string;

  constructor(kind: FailureKind, status: number, code: string, message: string) {
    super(kind, message);
    this.name = 'NeonApiError';
    this.status = status;
    this.code = code;
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
}

/** What the Neon API answered, read from an axios error; never its request config, which holds the API key. */
export interface NeonFailure {
  status: number;
  code: string;
  message: string;
  retryAfter?: string | undefined;
  network?: string | undefined;
}

export function neonFailureOf(error: unknown): NeonFailure {
  const e = error as { response?: { status?: number; data?: unknown; headers?: Record<string, unknown> }; code?: string; message?: string };
  if (!e.response) return { status: 0, code: e.code ?? 'NETWORK', message: e.message ?? String(error), network: e.code ?? e.message };
  const data = (typeof e.response.data === 'object' && e.response.data !== null ? e.response.data : {}) as { code?: unknown; message?: unknown };
  const retryAfter = e.response.headers?.['retry-after'];
  return {
    status: e.response.status ?? 0,
    code: typeof data.code === 'string' ? data.code : '',
    message: typeof data.message === 'string' ? data.message : typeof e.response.data === 'string' ? e.response.data : '',
    retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined,
  };
}

/** 423: another operation holds the project; 429: rate limited; 503: Neon is briefly unavailable. All safe to retry, POST included. */
export function isRetryable(failure: NeonFailure): boolean {
  return failure.status === 423 || failure.status === 429 || failure.status === 503;
}

/** Turns a failed call into one of ours, with a message that names the value and what to do. */
export function explainNeonFailure(failure: NeonFailure, context: NeonCallContext): NeonApiError {
  const where = `${context.action} on ${context.resource}`;
  const said = failure.message ? `: ${failure.message}` : '';
  const code = failure.code ? ` ${failure.code}` : '';
  const make = (kind: FailureKind, message: string) => new NeonApiError(kind, failure.status, failure.code, message);
  switch (failure.status) {
    case 0:
      return make('tool', `cannot reach the Neon API at ${context.baseUrl} for ${where} (${failure.network ?? failure.message}). Check the network and provider.apiBaseUrl.`);
    case 401:
      return make('input', `Neon rejected the API key (401${code}) for ${where}${said}. Check the key in ${context.keySource}: it may be mistyped, revoked, or for another account.`);
    case 403:
      return make('input', `the Neon API key may not do ${where} (403${code})${said}. Use a key of the organization that owns the project, with access to it.`);
    case 404:
      return make('input', `Neon has no ${context.resource} (404${code}, ${context.action})${said}. Check provider.projectId and provider.branch, and that the API key belongs to the organization that owns them.`);
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
      return make('tool', `${where} failed: Neon answered ${failure.status}${code}${said}.`);
  }
}
