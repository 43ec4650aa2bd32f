import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { AiConfig } from '../config.ts';

/**
 * A local OpenAI-compatible HTTP server for tests and benchmarks: real `/v1/chat/completions`
 * with SSE chunks (or a JSON answer when `stream` is false), with failure modes on demand.
 *
 * The behaviour is chosen by the last user message, so a test picks it by what it sends:
 *   "[tokens=N]"      answer with N tokens "t0 t1 …" (default: echo the message word by word)
 *   "[delay=MS]"      wait MS between chunks (default `defaultDelayMs`)
 *   "[status=CODE]"   answer with that HTTP error (401, 429, 500, …) before streaming
 *   "[cut=N]"         close the connection after N chunks, without [DONE]
 *   "[hang]"          accept the request and never answer
 *   "[drop=N]"        close the connection without answering, for the first N requests with
 *                     this text (as a provider does that closes a kept-alive connection)
 *   "[stamp]"         make each token the wall-clock time it was sent (ms, sub-ms precision),
 *                     so a benchmark can measure relay latency with one clock
 *   "[vary]"          start the answer with "vN " where N counts the streamed requests with this
 *                     text (1, 2, …), so each regenerate of one question answers differently
 * and `mode` overrides all of them for every request (e.g. to make the provider "down").
 * `reply`, when it returns text for a request, answers with that text instead of the echo (a
 * screenshot's canned answer).
 */
export interface FakeOpenAI {
  url: string;
  /** Requests received, with their parsed bodies. */
  requests: { path: string; body: any; authorization: string | undefined }[];
  mode: { status?: number; delayMs?: number } | undefined;
  close(): Promise<void>;
}

function lastUserText(body: any): string {
  const messages: { role: string; content: unknown }[] = body?.messages ?? [];
  const last = [...messages].reverse().find((m) => m.role === 'user');
  if (!last) return '';
  if (typeof last.content === 'string') return last.content;
  // Text parts only (a message with attachments: its text, then the documents' text); image_url parts carry no text.
  if (Array.isArray(last.content)) return last.content.map((p: any) => p.text ?? '').join('\n');
  return '';
}

const option = (text: string, name: string) => {
  const m = new RegExp(`\\[${name}(?:=(\\d+))?\\]`).exec(text);
  return m ? (m[1] === undefined ? true : Number(m[1])) : undefined;
};

export async function startFakeOpenAI(opts: { defaultDelayMs?: number; apiKey?: string; reply?: (body: any) => string | undefined } = {}): Promise<FakeOpenAI> {
  const sockets = new Set<Socket>();
  const dropped = new Map<string, number>();
  const asked = new Map<string, number>();
  const state: FakeOpenAI = { url: '', requests: [], mode: undefined, close: async () => {} };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = raw ? JSON.parse(raw) : {};
    state.requests.push({ path: req.url ?? '', body, authorization: req.headers.authorization });
    if (req.url !== '/v1/chat/completions') {
      res.writeHead(404).end();
      return;
    }
    const text = lastUserText(body);
    const status = state.mode?.status ?? (option(text, 'status') as number | undefined);
    if (opts.apiKey && req.headers.authorization !== `Bearer ${opts.apiKey}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } }));
      return;
    }
    if (status) {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `fake provider error ${status}`, type: 'error', code: String(status) } }));
      return;
    }
    if (option(text, 'hang')) return; // never answer
    const drop = option(text, 'drop') as number | undefined;
    if (drop && (dropped.get(text) ?? 0) < drop) {
      dropped.set(text, (dropped.get(text) ?? 0) + 1);
      res.socket?.destroy();
      return;
    }
    const tokenCount = option(text, 'tokens') as number | undefined;
    const canned = opts.reply?.(body);
    const words = (s: string) => s.trim().split(/(?<=\s)/).filter(Boolean);
    const tokens = canned !== undefined ? words(canned) : tokenCount ? Array.from({ length: tokenCount }, (_, i) => `t${i} `) : words(text.replace(/\[[^\]]*\]/g, ''));
    if (option(text, 'vary') && body.stream) {
      asked.set(text, (asked.get(text) ?? 0) + 1);
      tokens.unshift(`v${asked.get(text)} `);
    }
    const delay = state.mode?.delayMs ?? (option(text, 'delay') as number | undefined) ?? opts.defaultDelayMs ?? 0;
    const cutAfter = option(text, 'cut') as number | undefined;
    const stamp = option(text, 'stamp') === true;
    const id = `chatcmpl-${Math.random().toString(36).slice(2)}`;
    const created = Math.floor(Date.now() / 1000);

    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          id,
          object: 'chat.completion',
          created,
          model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content: tokens.join('') }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 10, completion_tokens: tokens.length, total_tokens: 10 + tokens.length },
        }),
      );
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const chunk = (delta: object, finish: string | null = null) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    res.write(chunk({ role: 'assistant', content: '' }));
    for (const [i, token] of tokens.entries()) {
      if (cutAfter !== undefined && i >= cutAfter) {
        // Let the chunks written so far reach the client, then drop the connection without [DONE].
        await new Promise((r) => setTimeout(r, 50));
        res.socket?.destroy();
        return;
      }
      if (delay) await new Promise((r) => setTimeout(r, delay));
      if (res.destroyed) return;
      res.write(chunk({ content: stamp ? `${(performance.timeOrigin + performance.now()).toFixed(3)} ` : token }));
    }
    res.write(chunk({}, 'stop'));
    // As OpenAI does when asked (`stream_options.include_usage`): a last chunk with no choices and
    // the usage, 10 prompt tokens and one per piece; a cut answer never gets here.
    if (body.stream_options?.include_usage) {
      const usage = { prompt_tokens: 10, completion_tokens: tokens.length, total_tokens: 10 + tokens.length };
      res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [], usage })}\n\n`);
    }
    res.write('data: [DONE]\n\n');
    res.end();
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  state.close = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return state;
}

/** AI settings that send every model of `models` (the first is the default) to the fake provider at `url`. */
export function testAiConfig(url: string, models: string[], extra: Partial<AiConfig> = {}): AiConfig {
  return {
    keys: {},
    openaiBaseUrl: url,
    byokOpenaiBaseUrl: url,
    models,
    visionModels: [],
    defaultModel: models[0],
    titleModel: undefined,
    idleTimeoutMs: 10_000,
    contextChars: 24_000,
    checkpointMs: 500,
    maxOutputTokens: 4096,
    quota: { answersPerDay: 0, tokensPerDay: 0 },
    ...extra,
  };
}
