import { setTimeout as delay } from 'node:timers/promises';
import { redactDeep, redactSecrets, rememberSecret } from '../util/redact.ts';
import type { DeliveryOutcome, RunResult } from './types.ts';
import { summarizeDrill, summarizeRun } from './format.ts';

/** A Slack incoming-webhook payload: `text` is the notification's fallback, `blocks` what the channel shows. */
export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}

export type SlackBlock =
  | { type: 'header'; text: { type: 'plain_text'; text: string; emoji: true } }
  | { type: 'section'; text: { type: 'mrkdwn'; text: string } }
  | { type: 'context'; elements: { type: 'mrkdwn'; text: string }[] }
  | { type: 'divider' };

export interface SlackLinks {
  /** The Step Functions execution (cloud) that ran the drills. */
  executionUrl?: string | undefined;
  /** What to do when a drill fails (config `slack.runbookUrl`). */
  runbookUrl?: string | undefined;
  /** Where the evidence page is (the cloud: its S3 key, never a presigned URL, which would be a bearer link). */
  evidence?: string | undefined;
}

// Slack's limits: 150 characters in a header, 3000 in a section's text, 50 blocks in a message.
const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const DRILL_BLOCKS_MAX = 45;
/** Sections naming the databases past DRILL_BLOCKS_MAX: header + 45 + 3 + links = 50 blocks. */
const OVERFLOW_BLOCKS_MAX = 3;

/** Errors, then failures, then passes; the config's order within each. */
const STATUS_ORDER: Record<string, number> = { error: 0, failed: 1, passed: 2 };

/** Slack reads `&`, `<` and `>` as markup in mrkdwn; a check's summary may hold any of them. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * One message per run, from the same summaries as the terminal: per database its headline, the
 * figures (target, RPO claimed and measured, RTO, each against its target), the checks that did not
 * pass, where it stopped, and the copy's fate; then links to the execution and the runbook.
 */
export function slackMessage(result: RunResult, links: SlackLinks = {}): SlackMessage {
  const headline = summarizeRun(result);
  const blocks: SlackBlock[] = [{ type: 'header', text: { type: 'plain_text', text: clip(headline, HEADER_MAX), emoji: true } }];
  // The databases that did not pass come first: past the blocks a message can hold, they must not be the ones left out.
  const ordered = [...result.drills].sort((a, b) => (STATUS_ORDER[a.status] ?? 0) - (STATUS_ORDER[b.status] ?? 0));
  const shown = ordered.slice(0, DRILL_BLOCKS_MAX);
  for (const report of shown) {
    const summary = summarizeDrill(report);
    const lines = [
      ...summary.figures,
      ...(summary.backup ? [summary.backup] : []),
      ...summary.checks.filter((check) => check.status !== 'pass').map((check) => check.line),
      ...(summary.failing ? [summary.failing] : []),
      ...(summary.stopped ? [summary.stopped] : []),
      summary.copy,
    ];
    const text = `*${escapeMrkdwn(summary.headline)}*\n${lines.map(escapeMrkdwn).join('\n')}`;
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(text, SECTION_MAX) } });
  }
  blocks.push(...overflowSections(ordered.slice(shown.length)));
  const linkTexts = [
    ...(links.executionUrl ? [`<${links.executionUrl}|execution>`] : []),
    ...(links.runbookUrl ? [`<${links.runbookUrl}|runbook>`] : []),
    ...(links.evidence ? [`evidence page: \`${escapeMrkdwn(links.evidence)}\``] : []),
  ];
  if (linkTexts.length) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: linkTexts.join(' · ') }] });
  // Every text of the message through the shared redactor: error messages and summaries are free text.
  return redactDeep({ text: headline, blocks });
}

/**
 * The databases past the sections, each that did not pass named (in as many sections as their
 * names need, up to OVERFLOW_BLOCKS_MAX), the passes counted.
 */
function overflowSections(rest: RunResult['drills']): SlackBlock[] {
  if (rest.length === 0) return [];
  const notPassed = rest.filter((report) => report.status !== 'passed').map((report) => escapeMrkdwn(report.database));
  const passed = rest.length - notPassed.length;
  const head = `…and ${rest.length} more databases`;
  if (notPassed.length === 0) return [{ type: 'section', text: { type: 'mrkdwn', text: `${head}, all passed: see the reports.` } }];
  const ending = `)${passed > 0 ? `; ${passed} passed` : ''}: see the reports.`;
  const texts: string[] = [];
  let text = `${head}: ${notPassed.length} did not pass (`;
  for (const [index, name] of notPassed.entries()) {
    const piece = index === notPassed.length - 1 ? `${name}${ending}` : `${name}, `;
    if (text.length + piece.length > SECTION_MAX && texts.length < OVERFLOW_BLOCKS_MAX - 1) {
      texts.push(text.trimEnd());
      text = '';
    }
    text += piece;
  }
  texts.push(clip(text, SECTION_MAX));
  return texts.map((section) => ({ type: 'section', text: { type: 'mrkdwn', text: section } }));
}

export interface PostOptions {
  fetch?: typeof fetch;
  /** Each attempt gives up after this long. @default 10_000 */
  attemptTimeoutMs?: number;
  /** Attempts in all, the first included. @default 4 */
  maxAttempts?: number;
  /** First backoff; doubled after each retry unless Slack's Retry-After says otherwise. @default 1_000 */
  backoffMs?: number;
  /** Longest wait between attempts that is worth it (a longer Retry-After ends the tries). @default 30_000 */
  maxWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => Date;
}

/**
 * Posts to an incoming webhook; retries 429 and 5xx (honouring Retry-After) and timeouts with
 * backoff. Never throws: the outcome says what happened, without the webhook's URL in it.
 */
export async function postToSlack(webhookUrl: string, message: SlackMessage, options: PostOptions = {}): Promise<DeliveryOutcome> {
  // The URL is the secret; Slack's answers may echo its token alone, and some callers log the outcome.
  rememberSecret(webhookUrl);
  const doFetch = options.fetch ?? fetch;
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const now = options.now ?? (() => new Date());
  const maxAttempts = options.maxAttempts ?? 4;
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 10_000;
  const maxWaitMs = options.maxWaitMs ?? 30_000;
  let backoffMs = options.backoffMs ?? 1_000;
  const body = JSON.stringify(message);
  let error = '';
  let attempts = 0;
  while (attempts < maxAttempts) {
    attempts++;
    let waitMs = backoffMs;
    try {
      const response = await doFetch(webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body,
        signal: AbortSignal.timeout(attemptTimeoutMs),
        redirect: 'error',
      });
      const text = clip((await response.text()).trim(), 200);
      if (response.ok) return { ok: true, to: 'slack', attempts, at: now().toISOString() };
      error = `Slack answered HTTP ${response.status}${text ? ` ${text}` : ''}`;
      if (response.status !== 429 && response.status < 500) break;
      const retryAfter = retryAfterMs(response.headers.get('retry-after'), now());
      if (retryAfter !== undefined) waitMs = retryAfter;
    } catch (caught) {
      const reason = caught instanceof Error && (caught.name === 'TimeoutError' || caught.name === 'AbortError') ? `no answer within ${attemptTimeoutMs} ms` : describeFetchError(caught);
      error = `Slack could not be reached: ${reason}`;
    }
    if (attempts >= maxAttempts) break;
    if (waitMs > maxWaitMs) {
      error += ` (asked to wait ${Math.ceil(waitMs / 1000)} s, more than ${Math.ceil(maxWaitMs / 1000)} s)`;
      break;
    }
    await sleep(waitMs);
    backoffMs *= 2;
  }
  return { ok: false, to: 'slack', attempts, error: scrub(error, webhookUrl), at: now().toISOString() };
}

/** Retry-After as seconds or an HTTP date (RFC 9110 section 10.2.3). */
export function retryAfterMs(header: string | null, now: Date): number | undefined {
  if (header === null) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now.getTime());
}

function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return cause.code;
  return cause?.message ?? (error as Error).message ?? String(error);
}

/** The webhook URL is the secret: neither it, nor its path, nor its token alone may reach a log line or a report. */
function scrub(text: string, webhookUrl: string): string {
  let scrubbed = text.split(webhookUrl).join('<webhook>');
  try {
    const { pathname } = new URL(webhookUrl);
    if (pathname.length > 1) scrubbed = scrubbed.split(pathname).join('<webhook path>');
  } catch {
    // not a URL: the whole string is already replaced
  }
  return redactSecrets(scrubbed);
}
