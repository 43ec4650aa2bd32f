import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { safeError } from './logging.ts';
import { call, connect, ok, until, waitFor } from './realtime/test/kit.ts';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from './test/fakeOpenAI.ts';
import { Api, startTestServer, type TestServer } from './test/harness.ts';

const MODEL = 'openai:log-model';
/** A string of this run that no log line may contain. */
const marker = (what: string) => `zq${what}${randomBytes(6).toString('hex')}`;

describe('a log of a full session contains none of the secret strings it handled', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const secrets: string[] = [];
  const secret = (what: string) => {
    const s = marker(what);
    secrets.push(s);
    return s;
  };
  let fake: FakeOpenAI;
  let server: TestServer;

  beforeAll(async () => {
    fake = await startFakeOpenAI({ defaultDelayMs: 1 });
    server = await startTestServer({ ai: testAiConfig(fake.url, [MODEL]) }, { logger: pino({ level: 'trace' }, sink), jobs: { pollIntervalMs: 20, backoffBaseMs: 20 } });
  });
  afterAll(async () => {
    if (process.env.DUMP_LOG) console.log(lines.filter((l) => !l.includes('"incoming request"')).join('\n'));
    await server?.close();
    await fake?.close();
  });

  it('registers, chats, searches, uploads, asks the AI (one failure), fails validation, uses a socket', async () => {
    const anon = new Api(server.url);
    const password = secret('password');
    const handle = `h${randomBytes(4).toString('hex')}`;
    const email = `${handle}@example.test`;
    const reg = await anon.post('/api/auth/register', { email, password, handle, displayName: 'Logger' });
    expect(reg.status).toBe(201);
    const login = await anon.post('/api/auth/login', { email, password });
    expect(login.status).toBe(200);
    const wrong = await anon.post('/api/auth/login', { email, password: secret('wrongpassword') });
    expect(wrong.status).toBe(401);
    const refreshed = await anon.post('/api/auth/refresh', { refreshToken: login.body.refreshToken });
    expect(refreshed.status).toBe(200);
    const tokens = [reg.body.accessToken, reg.body.refreshToken, login.body.accessToken, login.body.refreshToken, refreshed.body.accessToken, refreshed.body.refreshToken];
    const api = new Api(server.url, refreshed.body.accessToken);

    const other = await anon.post('/api/auth/register', { email: `o${email}`, password: secret('otherpassword'), handle: `o${handle}`, displayName: 'Other' });
    expect(other.status).toBe(201);
    tokens.push(other.body.accessToken, other.body.refreshToken);
    const group = await api.post('/api/conversations/group', { title: 'Log test', participantIds: [other.body.user.id] });
    expect(group.status).toBe(201);
    const conversationId = group.body.id as string;

    // Messages: send, edit, reply.
    const word = secret('word');
    const first = await api.post('/api/messages', { conversationId, content: `hello ${word} ${secret('message')}`, clientId: 'log-1' });
    expect(first.status).toBe(201);
    expect((await api.patch(`/api/messages/${first.body.id}`, { content: `${word} ${secret('edited')}` })).status).toBe(200);
    expect((await api.post('/api/messages', { conversationId, content: secret('reply'), clientId: 'log-2', replyToId: first.body.id })).status).toBe(201);

    // Search: by a stored word, and by words that match nothing.
    const found = await api.get(`/api/search?query=${encodeURIComponent(word)}`);
    expect(found.status).toBe(200);
    expect(found.body.messages.length).toBeGreaterThan(0);
    expect((await api.get(`/api/search?query=${secret('searchword')}`)).status).toBe(200);

    // A user API key, custom instructions.
    const apiKey = `sk-${secret('apikey')}`;
    expect((await api.put('/api/users/me/keys/openai', { apiKey })).status).toBe(204);
    expect((await api.put('/api/users/me/settings', { customInstructions: secret('instructions') })).status).toBeLessThan(300);

    // A file with a secret name and secret contents.
    const bytes = Buffer.from(`${secret('filetext')} in a text file\n`);
    const ticket = await api.post('/api/attachments', { conversationId, name: `${secret('filename')}.txt`, type: 'text/plain', size: bytes.length });
    expect(ticket.status).toBe(201);
    const put = await fetch(server.url + ticket.body.uploadUrl, { method: 'PUT', headers: { authorization: `Bearer ${api.token}`, 'content-type': 'text/plain' }, body: bytes });
    expect(put.status).toBeLessThan(300);
    await put.text();
    expect(
      (await api.post('/api/messages', { conversationId, content: secret('withfile'), clientId: 'log-3', attachmentIds: [ticket.body.attachmentId] })).status,
    ).toBe(201);

    // Input that fails validation, with secrets in the fields, the unknown keys and the JSON itself.
    const bad = secret('badinput');
    expect((await api.post('/api/messages', { conversationId, content: 42, clientId: bad, [secret('unknownkey')]: bad })).status).toBe(400);
    expect((await api.post('/api/conversations/group', { title: bad, participantIds: [secret('notanid')] })).status).toBeGreaterThanOrEqual(400);
    expect((await api.request('POST', '/api/messages', `{"content": "${secret('brokenjson')}`)).status).toBe(400);
    // A path is logged as its route, never as sent (a conversation's id is logged, as conversationId, on purpose).
    expect((await api.get(`/api/attachments/${secret('pathid')}`)).status).toBeGreaterThanOrEqual(400);

    // A socket session: an AI answer that fails (the provider answers 500) and one that succeeds.
    const socket = await connect(server.url, api.token!);
    try {
      const assistant = await api.post('/api/conversations/assistant', { model: MODEL });
      expect(assistant.status).toBe(201);
      const aid = assistant.body.id as string;
      const failed = waitFor(socket, 'ai:done', (e) => e.conversationId === aid && e.status === 'error', 20_000);
      await ok(socket, 'chat:message_send', { conversationId: aid, content: `[status=500] ${secret('failedprompt')}`, clientId: 'log-ai-1' });
      await failed;
      // Another conversation: the failed question would be part of this one's context.
      const second = await api.post('/api/conversations/assistant', { model: MODEL });
      const answered = waitFor(socket, 'ai:done', (e) => e.conversationId === second.body.id && e.status === 'complete', 20_000);
      await ok(socket, 'chat:message_send', { conversationId: second.body.id, content: `[tokens=5] ${secret('goodprompt')}`, clientId: 'log-ai-2' });
      await answered;
      const badSend = await call(socket, 'chat:message_send', { conversationId: secret('socketbad'), content: secret('socketcontent'), clientId: 'x' });
      expect(badSend.ok).toBe(false);
    } finally {
      socket.close();
    }

    expect((await anon.post('/api/auth/logout', { refreshToken: refreshed.body.refreshToken })).status).toBe(204);
    // The provider was called with the secrets (so the failure had them in its request body).
    expect(JSON.stringify(fake.requests)).toContain('failedprompt');
    await until(() => lines.some((l) => l.includes('AI answer ended in error')), 10_000, 'the AI failure is logged');

    const log = lines.join('\n');
    const leaked = [...secrets, ...tokens.map((t, i) => `token #${i}: ${t}`)].filter((s) => log.includes(s.replace(/^token #\d+: /, '')));
    expect(leaked).toEqual([]);
    expect(lines.length).toBeGreaterThan(25);
    // It did log: requests by route, and the failure with provider, model and status.
    expect(lines.some((l) => l.includes('"route":"/api/search"'))).toBe(true);
    const failure = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'AI answer ended in error');
    expect(failure).toMatchObject({ provider: 'openai', model: 'log-model', status: 500, reason: 'provider_error' });
  });
});

describe('safeError', () => {
  it('keeps type, code, status and frames, drops what an error carries', () => {
    const cause = Object.assign(new Error('invalid input syntax for type uuid: "zqsecret"'), { code: '22P02', detail: 'Key (email)=(zqsecret@x)', routine: 'string_to_uuid' });
    const error = Object.assign(new Error('request failed', { cause }), { statusCode: 500, requestBodyValues: { messages: ['zqsecret'] }, name: 'AI_APICallError' });
    const out = safeError(error)!;
    expect(JSON.stringify(out)).not.toContain('zqsecret');
    expect(out).toMatchObject({ type: 'AI_APICallError', status: 500, cause: { type: 'Error', code: '22P02', routine: 'string_to_uuid', message: 'invalid input syntax for type uuid: …' } });
    expect(out.stack).toMatch(/^ {4}at /);
  });
});
