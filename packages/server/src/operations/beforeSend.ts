import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
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
 * Connections are kept open and reused: a hook is called for every message, and concurrent sends
 * call it concurrently (up to `maxSockets` at once), without a TCP (and TLS) handshake each.
 */
const agents = { http: new http.Agent({ keepAlive: true, maxSockets: 256 }), https: new https.Agent({ keepAlive: true, maxSockets: 256 }) };

/** `Confab-Signature` as for outgoing webhooks: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export function signatureHeader(secret: string, body: string, now = Date.now()): string {
  const t = Math.floor(now / 1000);
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

type Outcome = { ok: true; answer: BeforeSendAnswer } | { ok: false; why: string };

/** One POST to the hook: its parsed answer, or why there is none (timeout, status, body, network). */
function callHook(hook: HookConfig, body: string, id: string): Promise<Outcome> {
  const url = new URL(hook.url);
  const secure = url.protocol === 'https:';
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'confab-event-id': id,
    'user-agent': 'Confab before-send hook',
  };
  if (hook.secret) headers['confab-signature'] = signatureHeader(hook.secret, body);
  return new Promise<Outcome>((resolve) => {
    let settled = false;
    const finish = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const req = (secure ? https : http).request(url, { method: 'POST', headers, agent: secure ? agents.https : agents.http }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) {
          finish({ ok: false, why: 'answer too large' });
          req.destroy();
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', () => finish({ ok: false, why: 'answer cut off' }));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 299) return finish({ ok: false, why: `status ${status}` });
        let parsed: unknown;
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return finish({ ok: false, why: 'answer is not JSON' });
        }
        const answer = BeforeSendAnswer.safeParse(parsed);
        finish(answer.success ? { ok: true, answer: answer.data } : { ok: false, why: 'answer is not allow, block or replace' });
      });
    });
    const timer = setTimeout(() => {
      finish({ ok: false, why: `no answer within ${hook.timeoutMs} ms` });
      req.destroy();
    }, hook.timeoutMs);
    req.on('error', (error) => finish({ ok: false, why: (error as NodeJS.ErrnoException).code ?? error.message }));
    req.end(body);
  });
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
