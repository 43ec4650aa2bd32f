import { createHmac } from 'node:crypto';
import { Agent, request } from 'undici';
import { BeforeSendAnswer, ConfabError, type BeforeSendRequest } from '@confab/protocol';
import type { Config } from '../config.ts';
import type { Context } from '../context.ts';
import { newId } from '../ids.ts';

// The before-send hook (API.md, "Building on Confab"; docs/platform.md): with
// CONFAB_BEFORE_SEND_URL set, every send and every edit is POSTed there before it is stored, and
// the answer allows, blocks or replaces it. Called by operations/messages.ts (sendMessage and
// editMessage) only when the hook is configured: without it the send path does nothing more.

type HookConfig = NonNullable<Config['beforeSend']>;

/** The most of an answer read: a replacement is at most 64 KB of text, JSON-escaped. */
const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * Connections are kept open and reused (undici: pipelined-capable pools, much cheaper per request
 * than node:http's client): a hook is called for every message, and concurrent sends call it
 * concurrently, up to `connections` at once, without a TCP (and TLS) handshake each.
 */
const agent = new Agent({ connections: 128, keepAliveTimeout: 30_000, maxResponseSize: MAX_ANSWER_BYTES });

/** `Confab-Signature` as for outgoing webhooks: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export function signatureHeader(secret: string, body: string, now = Date.now()): string {
  const t = Math.floor(now / 1000);
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

type Outcome = { ok: true; answer: BeforeSendAnswer } | { ok: false; why: string };

/** One POST to the hook: its parsed answer, or why there is none (timeout, status, body, network). */
async function callHook(hook: HookConfig, body: string, id: string): Promise<Outcome> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'confab-event-id': id, 'user-agent': 'Confab before-send hook' };
  if (hook.secret) headers['confab-signature'] = signatureHeader(hook.secret, body);
  const signal = AbortSignal.timeout(hook.timeoutMs);
  let parsed: unknown;
  try {
    const res = await request(hook.url, { method: 'POST', headers, body, dispatcher: agent, signal });
    if (res.statusCode < 200 || res.statusCode > 299) {
      res.body.resume();
      return { ok: false, why: `status ${res.statusCode}` };
    }
    const text = await res.body.text();
    try {
      parsed = JSON.parse(text);
    } catch {
      return { ok: false, why: 'answer is not JSON' };
    }
  } catch (error) {
    if (signal.aborted) return { ok: false, why: `no answer within ${hook.timeoutMs} ms` };
    return { ok: false, why: (error as NodeJS.ErrnoException).code ?? (error as Error).message };
  }
  const answer = BeforeSendAnswer.safeParse(parsed);
  return answer.success ? { ok: true, answer: answer.data } : { ok: false, why: 'answer is not allow, block or replace' };
}

/**
 * Asks the hook about a message about to be stored; resolves with the content to store (the
 * author's, or the hook's replacement, which the caller validates like any content). Throws
 * FORBIDDEN (with the hook's reason) when it blocks, and UNAVAILABLE when it did not answer and the
 * hook fails closed. Failures are logged without the message's content.
 */
export async function beforeSend(ctx: Context, hook: HookConfig, request: BeforeSendRequest): Promise<string> {
  const id = newId();
  const outcome = await callHook(hook, JSON.stringify(request), id);
  if (!outcome.ok) {
    ctx.log.warn({ hookCallId: id, conversationId: request.conversationId, authorId: request.authorId, why: outcome.why, failClosed: hook.failClosed }, 'before-send hook failed');
    if (hook.failClosed) throw new ConfabError('UNAVAILABLE', 'the message could not be checked; try again later');
    return request.content;
  }
  const { answer } = outcome;
  if (answer.action === 'block') throw new ConfabError('FORBIDDEN', answer.reason?.trim() || 'this message was blocked');
  if (answer.action === 'replace') return answer.content;
  return request.content;
}
