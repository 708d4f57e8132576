import { recordingServer } from '../../report/helpers.ts';

// Slack's incoming webhook as it answers: 200 "ok" for a message it accepts; 400 with "invalid_payload"
// for a body that is not a message, "invalid_blocks" for Block Kit it refuses (at most 50 blocks, a
// header's plain text at most 150 characters, a section's text at most 3000, a context at most 10
// elements); 404 "no_service" for a path that is no webhook.
const BLOCK_TYPES = new Set(['header', 'section', 'context', 'divider', 'actions', 'image', 'rich_text']);

export interface SlackMessage {
  text?: string;
  blocks?: { type: string; text?: { type: string; text: string }; elements?: unknown[]; fields?: { text: string }[] }[];
}

export function refusalOf(body: string): string | undefined {
  let message: SlackMessage;
  try {
    message = JSON.parse(body) as SlackMessage;
  } catch {
    return 'invalid_payload';
  }
  if (typeof message !== 'object' || message === null || (typeof message.text !== 'string' && !Array.isArray(message.blocks))) return 'invalid_payload';
  const blocks = message.blocks ?? [];
  if (blocks.length > 50) return 'invalid_blocks';
  for (const block of blocks) {
    if (!BLOCK_TYPES.has(block.type)) return 'invalid_blocks';
    if (block.type === 'header' && (block.text?.type !== 'plain_text' || block.text.text.length > 150)) return 'invalid_blocks';
    if (block.type === 'section' && (block.text?.text.length ?? 0) > 3000) return 'invalid_blocks';
    if (block.type === 'section' && (block.fields?.length ?? 0) > 10) return 'invalid_blocks';
    if (block.type === 'context' && ((block.elements?.length ?? 0) === 0 || (block.elements?.length ?? 0) > 10)) return 'invalid_blocks';
  }
  return undefined;
}

/** A Slack incoming webhook on loopback: `url` holds a token, as Slack's do, so a test can look for it where it must not be. */
export async function slackWebhook(token = 'XXslackwebhooktoken0000XX') {
  const path = `/services/T00000000/B00000000/${token}`;
  const accepted: SlackMessage[] = [];
  const server = await recordingServer((request, response) => {
    if (request.method !== 'POST' || request.url !== path) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('no_service');
      return;
    }
    const refusal = refusalOf(request.body);
    if (refusal) {
      response.writeHead(400, { 'content-type': 'text/plain' }).end(refusal);
      return;
    }
    accepted.push(JSON.parse(request.body) as SlackMessage);
    response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
  return { url: `${server.url}${path}`, token, accepted, requests: server.requests, received: server.received, close: server.close };
}
