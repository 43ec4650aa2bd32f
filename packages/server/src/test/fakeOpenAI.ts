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
 *   "[tool=NAME:ARGS]" call the tool NAME (when the request offers it) with ARGS, a JSON object or
 *                     a plain string (then `{"query": ARGS}`), streamed as Chat Completions
 *                     `tool_calls` deltas. Several of them are called one per request, in order;
 *                     once each has its result, the answer is text: "[NAME: RESULT] " for each
 *                     tool result since the question, then the words of the message.
 *   "[toolloop]"      call the first [tool=…] again on every request that offers tools (the
 *                     answer's last step offers none: its text then says how many calls it saw)
 * and `mode` overrides all of them for every request (e.g. to make the provider "down").
 * `reply`, when it returns text for a request, answers with that text instead of the echo (a
 * screenshot's canned answer).
 * `POST /v1/images/generations` answers a small PNG (`b64_json`); "[delay=MS]" in the prompt
 * makes it wait, "[status=CODE]" fail.
 */
export interface FakeOpenAI {
  url: string;
  /** Requests received, with their parsed bodies. */
  requests: { path: string; body: any; authorization: string | undefined }[];
  mode: { status?: number; delayMs?: number } | undefined;
  close(): Promise<void>;
}

/** The messages after the last user message (this answer's earlier steps). */
function sinceQuestion(body: any): any[] {
  const messages: any[] = body?.messages ?? [];
  let last = -1;
  messages.forEach((m, i) => {
    if (m.role === 'user') last = i;
  });
  return messages.slice(last + 1);
}

/** The "[tool=NAME:ARGS]" triggers of a text, in order (ARGS may be a JSON object with brackets inside), and where each is. */
export function toolTriggers(text: string): { name: string; args: Record<string, unknown>; from: number; to: number }[] {
  const out: { name: string; args: Record<string, unknown>; from: number; to: number }[] = [];
  const re = /\[tool=([A-Za-z0-9_.-]+):/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    let i = re.lastIndex;
    let raw: string;
    if (text[i] === '{') {
      let depth = 0;
      let inString = false;
      const start = i;
      for (; i < text.length; i++) {
        const c = text[i];
        if (inString) {
          if (c === '\\') i++;
          else if (c === '"') inString = false;
        } else if (c === '"') inString = true;
        else if (c === '{') depth++;
        else if (c === '}' && --depth === 0) break;
      }
      raw = text.slice(start, i + 1);
      i++;
    } else {
      const end = text.indexOf(']', i);
      i = end < 0 ? text.length : end;
      raw = text.slice(re.lastIndex, i);
    }
    let args: Record<string, unknown>;
    try {
      args = raw.startsWith('{') ? (JSON.parse(raw) as Record<string, unknown>) : { query: raw };
    } catch {
      args = { query: raw };
    }
    const to = text[i] === ']' ? i + 1 : i;
    out.push({ name: m[1]!, args, from: m.index, to });
    re.lastIndex = to;
  }
  return out;
}

/** A text without its tool triggers (whose arguments may hold options meant for the tool, such as a search's "[delay=…]"). */
function withoutTriggers(text: string): string {
  let out = '';
  let at = 0;
  for (const t of toolTriggers(text)) {
    out += text.slice(at, t.from);
    at = t.to;
  }
  return out + text.slice(at);
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

/**
 * For the screenshots' prose: `reply` answers a request with canned text instead of the echo;
 * `toolFor` picks a tool call for a question without a [tool=…] trigger, `toolAnswer` writes the
 * answer after tool calls instead of quoting their results.
 */
export async function startFakeOpenAI(
  opts: {
    defaultDelayMs?: number;
    apiKey?: string;
    reply?: (body: any) => string | undefined;
    toolFor?: (text: string) => { name: string; args: Record<string, unknown> } | undefined;
    toolAnswer?: (results: { name: string; content: string }[]) => string;
  } = {},
): Promise<FakeOpenAI> {
  const sockets = new Set<Socket>();
  const dropped = new Map<string, number>();
  const asked = new Map<string, number>();
  const state: FakeOpenAI = { url: '', requests: [], mode: undefined, close: async () => {} };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = raw ? JSON.parse(raw) : {};
    state.requests.push({ path: req.url ?? '', body, authorization: req.headers.authorization });
    if (req.url === '/v1/images/generations') return images(body, res);
    if (req.url !== '/v1/chat/completions') {
      res.writeHead(404).end();
      return;
    }
    const full = lastUserText(body);
    // Options are read from the text outside the tool triggers.
    const text = withoutTriggers(full);
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
    let tokens = canned !== undefined ? words(canned) : tokenCount ? Array.from({ length: tokenCount }, (_, i) => `t${i} `) : words(text.replace(/\[[^\]]*\]/g, ''));
    // Tools: call the next one asked for, or answer with the results of those called.
    const offered = new Set<string>((body.tools ?? []).map((t: any) => t.function?.name));
    const toolsAsked = toolTriggers(full);
    const picked = toolsAsked.length === 0 ? opts.toolFor?.(full) : undefined;
    const triggers = picked ? [picked] : toolsAsked;
    const earlier = sinceQuestion(body);
    const called = earlier.filter((m) => m.role === 'assistant' && Array.isArray(m.tool_calls)).length;
    const loop = option(text, 'toolloop') === true;
    const next = loop ? triggers[0] : triggers[called];
    if (next && offered.has(next.name) && body.stream) return toolCall(body, res, next, called);
    const results = earlier.filter((m) => m.role === 'tool');
    if (results.length > 0) {
      const names = new Map<string, string>();
      for (const m of earlier) for (const c of m.tool_calls ?? []) names.set(c.id, c.function?.name);
      const seen = results.map((r) => ({ name: names.get(r.tool_call_id) ?? 'tool', content: typeof r.content === 'string' ? r.content : JSON.stringify(r.content) }));
      if (opts.toolAnswer) tokens = opts.toolAnswer(seen).split(/(?<=\s)/).filter(Boolean);
      else {
        const said = seen.map((r) => `[${r.name}: ${r.content}] `);
        const counted = loop ? [`after ${called} tool calls `] : [];
        tokens = [...counted, ...said.flatMap((t) => t.split(/(?<=\s)/).filter(Boolean)), ...tokens];
      }
    }
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

  /** A streamed tool call, in the pieces OpenAI sends: the name first, then the arguments in parts. */
  async function toolCall(body: any, res: ServerResponse, call: { name: string; args: Record<string, unknown> }, n: number) {
    const id = `chatcmpl-${Math.random().toString(36).slice(2)}`;
    const created = Math.floor(Date.now() / 1000);
    const chunk = (delta: object, finish: string | null = null) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const callId = `call_${n}_${Math.random().toString(36).slice(2, 10)}`;
    res.write(chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: callId, type: 'function', function: { name: call.name, arguments: '' } }] }));
    const args = JSON.stringify(call.args);
    const half = Math.ceil(args.length / 2);
    for (const part of [args.slice(0, half), args.slice(half)]) {
      if (opts.defaultDelayMs) await new Promise((r) => setTimeout(r, opts.defaultDelayMs));
      if (res.destroyed) return;
      res.write(chunk({ tool_calls: [{ index: 0, function: { arguments: part } }] }));
    }
    res.write(chunk({}, 'tool_calls'));
    if (body.stream_options?.include_usage) {
      res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } })}\n\n`);
    }
    res.write('data: [DONE]\n\n');
    res.end();
  }

  /** OpenAI's image API: one small PNG per image asked for, as base64. */
  async function images(body: any, res: ServerResponse) {
    const prompt = String(body?.prompt ?? '');
    const status = option(prompt, 'status') as number | undefined;
    if (status) {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `fake image error ${status}`, type: 'error', code: String(status) } }));
      return;
    }
    const delay = option(prompt, 'delay') as number | undefined;
    if (delay) await new Promise((r) => setTimeout(r, delay));
    if (res.destroyed) return;
    const { default: sharp } = await import('sharp');
    const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 40, g: 110, b: 220 } } }).png().toBuffer();
    const n = Number(body?.n ?? 1);
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({ created: Math.floor(Date.now() / 1000), data: Array.from({ length: n }, () => ({ b64_json: png.toString('base64') })) }),
    );
  }

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
