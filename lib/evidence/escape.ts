/**
 * Text from reports reaches the page only through `text()`: secrets that a message may carry are
 * redacted first, by the redactor every outward text goes through (lib/util/redact.ts: reports
 * never hold row values or passwords by design, but a check's summary or an error's message is free
 * text written by drivers and APIs), then everything is HTML-escaped.
 */

import { redactSecrets } from '../util/redact.ts';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => ESCAPES[char]!);
}

/** Free text from a report, made safe for the page: redacted, escaped, and cut to a readable length. */
export function text(value: unknown, maxLength = 2000): string {
  const raw = typeof value === 'string' ? value : value === null || value === undefined ? '' : String(value);
  const redacted = redactSecrets(raw);
  return escapeHtml(redacted.length > maxLength ? `${redacted.slice(0, maxLength)}…` : redacted);
}
