/**
 * The one redactor of every text restore-drill hands outward: the report (its error messages and
 * check summaries are free text written by drivers, APIs and shells), stdout and stderr of the CLI,
 * Slack messages, EMF lines and the evidence page. Two kinds of secret are removed:
 * - secrets by their shape: credentials in URLs, `user:pass@host`, `-u user:pass` (curl, wget),
 *   `password=` and other key=value settings named after a secret, tokens in query strings,
 *   Slack webhook paths, AWS access key ids, bearer, Slack and Neon tokens;
 * - secrets by their value: what the process knows to be secret (the webhook URL and its path, a
 *   password read from the environment), registered with `rememberSecret`.
 */

export const REDACTED = '[redacted]';

/** Key names whose value is a secret, in key=value, key: value, JSON and query strings. */
const SECRET_KEY =
  '(?:pg)?pass(?:word|wd)?|pwd|secret(?:[_-]?access[_-]?key)?|aws[_-]?secret[_-]?access[_-]?key|aws[_-]?session[_-]?token|session[_-]?token|access[_-]?token|refresh[_-]?token|auth[_-]?token|token|api[_-]?key|apikey|authorization|x-amz-signature|x-amz-security-token|client[_-]?secret|private[_-]?key';

type Replacement = string | ((match: string, ...groups: string[]) => string);

const SECRET_PATTERNS: [RegExp, Replacement][] = [
  // Before key=value: `Authorization: Bearer x` would otherwise lose only the word Bearer.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}/g, (_m, scheme: string) => `${scheme} ${REDACTED}`],
  // Credentials inside a URL: postgres://user:password@host, https://user:token@…
  [/([a-z][a-z0-9+.-]*:\/\/)([^\s:/@'"]*):([^\s@/'"]+)@/gi, (_m, scheme: string, user: string) => `${scheme}${user}:${REDACTED}@`],
  // user:password@host without a scheme (a libpq-style host, an scp or rsync source).
  [/(^|[\s'"=(,])([^\s:/@'"=(,]+):([^\s@/'"]+)@(?=[\w[])/g, (_m, before: string, user: string) => `${before}${user}:${REDACTED}@`],
  // curl -u user:pass, --user user:pass, --user=user:pass, wget --password=…, --http-password …
  [/(\s-u\s*|--user[=\s]+|--proxy-user[=\s]+)(['"]?)([^\s:'"]+):([^\s'"]+)\2/g, (_m, flag: string, quote: string, user: string) => `${flag}${quote}${user}:${REDACTED}${quote}`],
  [/(--(?:http-|ftp-|proxy-)?password[=\s]+)(['"]?)[^\s'"]+\2/gi, (_m, flag: string, quote: string) => `${flag}${quote}${REDACTED}${quote}`],
  // Slack webhook paths on any host (hooks.slack.com, or a proxy in front of it): /services/T…/B…/<token>.
  [/\/services\/[A-Z0-9]+\/[A-Z0-9]+\/[A-Za-z0-9_-]+/g, `/services/${REDACTED}`],
  [/\/(workflows|triggers)\/[A-Z0-9]+\/[A-Za-z0-9]+\/[A-Za-z0-9_/-]+/g, (_m, kind: string) => `/${kind}/${REDACTED}`],
  [/https:\/\/hooks\.slack\.com\/\S+/gi, `https://hooks.slack.com/${REDACTED}`],
  // Settings whose key names a secret: key=value (libpq strings, env dumps, query strings), "key": "value"
  // (JSON), key:value. `key: words` is prose ("the webhook URL is a secret: set ..."), left alone, except
  // for the AWS SDK's own keys, whose values are never words.
  [new RegExp(`(^|[^A-Za-z0-9])(${SECRET_KEY})(\\s*=\\s*|"?\\s*:\\s*(?=["'])|"?:(?=[^\\s"']))(?!(?:Bearer|Basic) )("[^"]*"|'[^']*'|[^\\s,;&(){}[\\]'"]+)`, 'gi'), (_m, before: string, key: string, sep: string, value: string) => {
    // A quoted value keeps its quotes: JSON stays JSON.
    const quote = value.startsWith('"') || value.startsWith("'") ? value[0]! : '';
    return `${before}${key}${sep}${quote}${REDACTED}${quote}`;
  }],
  [/\b((?:aws[_-]?)?(?:secret[_-]?access[_-]?key|session[_-]?token))(\s*:\s*)([A-Za-z0-9/+=]{16,})/gi, (_m, key: string, sep: string) => `${key}${sep}${REDACTED}`],
  // AWS access key ids, Slack tokens, Neon API keys.
  [/\b(?:AKIA|ASIA|AIDA|AROA)[A-Z0-9]{16}\b/g, REDACTED],
  [/\bxox[abposre]-[A-Za-z0-9-]+/g, REDACTED],
  [/\bnapi_[A-Za-z0-9]+/g, REDACTED],
];

/** Exact values known to be secret in this process, longest first (a value may contain another). */
const knownSecrets = new Set<string>();

/** Values shorter than this are not redacted by value: `ab` would cut every word holding it. */
const MIN_KNOWN_SECRET_LENGTH = 6;

/**
 * Remembers a value that must never leave the process (a webhook URL, a password read from the
 * environment); for a URL, also its path and each longer path segment, which servers echo alone.
 */
export function rememberSecret(value: string | undefined): void {
  if (!value || value.length < MIN_KNOWN_SECRET_LENGTH) return;
  knownSecrets.add(value);
  try {
    const url = new URL(value);
    if (url.pathname.length > 1) knownSecrets.add(url.pathname);
    // Path segments that carry a token (T0AB12CD, a webhook's secret), not words such as `services`.
    for (const segment of url.pathname.split('/')) if (segment.length >= 8 && /\d/.test(segment)) knownSecrets.add(segment);
    for (const [, parameter] of url.searchParams) if (parameter.length >= MIN_KNOWN_SECRET_LENGTH) knownSecrets.add(parameter);
    if (url.password) knownSecrets.add(decodeURIComponent(url.password));
  } catch {
    // not a URL: the value alone
  }
}

/** For tests: forget every remembered value. */
export function forgetSecrets(): void {
  knownSecrets.clear();
}

/** The text with anything that looks like a secret, or is a remembered one, replaced by [redacted]. */
export function redactSecrets(value: string): string {
  let text = value;
  for (const secret of [...knownSecrets].sort((a, b) => b.length - a.length)) {
    if (text.includes(secret)) text = text.split(secret).join(REDACTED);
  }
  for (const [pattern, replacement] of SECRET_PATTERNS) text = text.replace(pattern, replacement as never);
  return text;
}

/** A JSON-shaped value with every string in it redacted (keys too); other values unchanged. */
export function redactDeep<T>(value: T): T {
  return walk(value) as T;
}

function walk(value: unknown): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (Array.isArray(value)) return value.map(walk);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [redactSecrets(key), walk(inner)]));
  }
  return value;
}
