/**
 * Text from reports reaches the page only through `text()`: secrets that a message may carry are
 * redacted first (reports never hold row values or passwords by design, but a check's summary or an
 * error's message is free text written by drivers and APIs), then everything is HTML-escaped.
 */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => ESCAPES[char]!);
}

const REDACTED = '[redacted]';

const SECRET_PATTERNS: [RegExp, string | ((match: string, ...groups: string[]) => string)][] = [
  // Before key=value: `Authorization: Bearer x` would otherwise lose only the word Bearer.
  [/\bBearer\s+[A-Za-z0-9._~+/=-]+/g, `Bearer ${REDACTED}`],
  // Credentials inside a URL: postgres://user:password@host, https://user:token@…
  [/([a-z][a-z0-9+.-]*:\/\/)([^\s:/@]*):([^\s@/]+)@/gi, (_m, scheme: string, user: string) => `${scheme}${user}:${REDACTED}@`],
  // key=value and key: value settings whose key names a secret (libpq strings, env dumps, JSON).
  [/\b((?:pg)?pass(?:word|wd)?|pwd|secret(?:[_-]?access[_-]?key)?|token|api[_-]?key|authorization)("?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&)}\]]+)/gi, (_m, key: string, sep: string) => `${key}${sep}${REDACTED}`],
  // AWS access key ids, Slack webhooks and tokens, Neon API keys.
  [/\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g, REDACTED],
  [/https:\/\/hooks\.slack\.com\/\S+/gi, `https://hooks.slack.com/${REDACTED}`],
  [/\bxox[abposr]-[A-Za-z0-9-]+/g, REDACTED],
  [/\bnapi_[A-Za-z0-9]+/g, REDACTED],
];

/** The text with anything that looks like a secret replaced by [redacted]. */
export function redactSecrets(value: string): string {
  let text = value;
  for (const [pattern, replacement] of SECRET_PATTERNS) text = text.replace(pattern, replacement as never);
  return text;
}

/** Free text from a report, made safe for the page: redacted, escaped, and cut to a readable length. */
export function text(value: unknown, maxLength = 2000): string {
  const raw = typeof value === 'string' ? value : value === null || value === undefined ? '' : String(value);
  const redacted = redactSecrets(raw);
  return escapeHtml(redacted.length > maxLength ? `${redacted.slice(0, maxLength)}…` : redacted);
}
