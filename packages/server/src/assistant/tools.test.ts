/**
 * Tools in AI answers (docs/ai.md, "Tools"): web search against a local SearXNG-compatible
 * service, MCP servers over stdio and streamable HTTP, image generation, all through the fake
 * OpenAI-compatible provider's streamed tool calls. Each call is streamed (`ai:tool`), resumable
 * (a late tab, a reload), stoppable (the call itself is aborted) and bounded in steps and time.
 */
import type { Message, SyncResult, ToolCall } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AiToolsConfig } from '../config.ts';
import { connect, ok, record, until, waitFor, type Client } from '../realtime/test/kit.ts';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../test/fakeOpenAI.ts';
import { startFakeSearch, type FakeSearch } from '../test/fakeSearch.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../test/harness.ts';
import { startHttpMcpServer, stdioMcpCommand, type HttpMcpServer } from '../test/mcpServers.ts';

const MODEL = 'openai:test-model';
const MCP_TOKEN = 'mcp-test-token-123';

type Recorded = Array<{ event: string; payload: any }>;

describe('tools in AI answers', () => {
  let fake: FakeOpenAI;
  let search: FakeSearch;
  let mcp: HttpMcpServer;
  let flaky: HttpMcpServer;
  let server: TestServer;
  let alice: TestUser, bob: TestUser;
  let a1: Client;
  const sockets: Client[] = [];

  beforeAll(async () => {
    fake = await startFakeOpenAI({ defaultDelayMs: 2 });
    search = await startFakeSearch();
    mcp = await startHttpMcpServer({ token: MCP_TOKEN });
    flaky = await startHttpMcpServer();
    const stdio = stdioMcpCommand();
    const tools: AiToolsConfig = {
      searchUrl: `${search.url}/`,
      searchResults: 3,
      imageModel: 'openai:gpt-image-1',
      mcpServers: [
        { id: 'files', tools: undefined, transport: 'stdio', command: stdio.command, args: stdio.args, env: {} },
        { id: 'web', tools: ['echo', 'slow', 'fail'], transport: 'http', url: mcp.url, token: MCP_TOKEN },
        { id: 'flaky', tools: ['echo'], transport: 'http', url: flaky.url, token: undefined },
        // Nothing listens there: its tools are never offered, and nothing else suffers.
        { id: 'down', tools: undefined, transport: 'http', url: 'http://127.0.0.1:9/mcp', token: undefined },
      ],
      maxSteps: 5,
      callTimeoutMs: 3000,
      answerBudgetMs: 20_000,
    };
    server = await startTestServer({ ai: testAiConfig(fake.url, [MODEL], { tools }) });
    [alice, bob] = [await registerUser(server, 'alice'), await registerUser(server, 'bob')];
    a1 = await connect(server.url, alice.accessToken);
    sockets.push(a1);
  }, 60_000);
  afterAll(async () => {
    for (const s of sockets) s.close();
    await server?.close();
    await Promise.all([fake?.close(), search?.close(), mcp?.close(), flaky?.close()]);
  });

  const conversation = async () => {
    const res = await alice.api.post('/api/conversations/assistant', { model: MODEL });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  const send = (socket: Client, conversationId: string, content: string) => ok<Message>(socket, 'chat:message_send', { conversationId, content, clientId: `c-${Math.random()}` });
  const done = (socket: Client, conversationId: string, timeoutMs = 20_000) =>
    waitFor<{ conversationId: string; messageId: string; status: string; content: string }>(socket, 'ai:done', (e) => e.conversationId === conversationId, timeoutMs);
  const toolEvents = (events: Recorded, messageId: string) => events.filter((e) => e.event === 'ai:tool' && e.payload.messageId === messageId).map((e) => e.payload.call as ToolCall);
  const stored = async (conversationId: string, messageId: string) =>
    ((await alice.api.get(`/api/messages/${conversationId}`)).body.messages as Message[]).find((m) => m.id === messageId)!;
  /** Asks and waits for the answer's end; the answer as stored, and what the socket saw. */
  const ask = async (content: string) => {
    const conv = await conversation();
    const events = record(a1);
    const ended = done(a1, conv);
    await send(a1, conv, content);
    const end = await ended;
    return { conv, end, events, answer: await stored(conv, end.messageId) };
  };

  it('searches the web: the call streams before the text, and is stored with the answer', async () => {
    const { end, events, answer } = await ask('Tell me about cats [tool=web_search:cats]');
    expect(end.status).toBe('complete');
    // The running call, then its result, then the text that uses it.
    const order = events.filter((e) => e.payload?.messageId === end.messageId && ['ai:tool', 'ai:delta'].includes(e.event)).map((e) => (e.event === 'ai:tool' ? e.payload.call.status : 'text'));
    expect(order.slice(0, 2)).toEqual(['running', 'done']);
    expect(order.slice(2).every((k) => k === 'text')).toBe(true);
    const [running, finished] = toolEvents(events, end.messageId);
    expect(running).toMatchObject({ name: 'web_search', input: { query: 'cats' }, status: 'running' });
    expect(finished).toMatchObject({ id: running!.id, status: 'done' });
    // Three results, bounded; the javascript: address was dropped.
    const results = (finished!.output as { results: Array<{ title: string; url: string; snippet: string }> }).results;
    expect(results.map((r) => r.url)).toEqual(['https://example.org/cats/1', 'https://example.org/cats/2', 'https://example.org/cats/3']);
    expect(results[0]).toEqual({ title: 'Result 1 about cats', url: 'https://example.org/cats/1', snippet: 'Snippet 1 on cats.' });
    // The model got the results and wrote with them.
    expect(end.content).toContain('Result 1 about cats');
    expect(end.content).toContain('Tell me about cats');
    expect(search.queries).toContain('cats');
    // Stored with the answer: a reload shows the call.
    expect(answer.toolCalls).toEqual([{ ...finished, endedAt: expect.any(String) }]);
    expect(answer.toolCalls![0]!.startedAt <= answer.toolCalls![0]!.endedAt!).toBe(true);
    // A branch at the answer keeps its calls with the copy.
    const branch = await alice.api.post(`/api/conversations/${answer.conversationId}/branch`, { messageId: answer.id });
    expect(branch.status).toBe(201);
    const copies = (await alice.api.get(`/api/messages/${branch.body.id}`)).body.messages as Message[];
    expect(copies.at(-1)).toMatchObject({ authorId: 'assistant', toolCalls: answer.toolCalls });
    // The tools offered: search, image, and the MCP tools of the servers that answered.
    const offered = fake.requests.filter((r) => r.path === '/v1/chat/completions' && r.body.tools).at(-1)!.body.tools.map((t: any) => t.function.name);
    expect(offered.sort()).toEqual(['files__echo', 'files__fail', 'files__slow', 'flaky__echo', 'generate_image', 'web__echo', 'web__fail', 'web__slow', 'web_search'].sort());
  });

  it('gives a tab that opens mid-call, and a reload, the running call, then its end', async () => {
    const conv = await conversation();
    const first = record(a1);
    const ended = done(a1, conv);
    await send(a1, conv, 'Slow one [tool=web_search:{"query":"dogs [delay=1500]"}]');
    await until(() => first.some((e) => e.event === 'ai:tool' && e.payload.call.status === 'running'), 10_000, 'the call to start');
    const late = await connect(server.url, alice.accessToken);
    sockets.push(late);
    const seenLate = record(late);
    const page = await ok<SyncResult>(late, 'sync', { cursors: {} });
    const answer = page.messages.find((m) => m.conversationId === conv && m.authorId === 'assistant')!;
    expect(answer.status).toBe('streaming');
    expect(answer.toolCalls).toEqual([expect.objectContaining({ name: 'web_search', input: { query: 'dogs [delay=1500]' }, status: 'running' })]);
    // A reload (REST) sees the same.
    expect((await stored(conv, answer.id)).toolCalls).toEqual([expect.objectContaining({ status: 'running' })]);
    const end = await ended;
    expect(end.status).toBe('complete');
    await until(() => seenLate.some((e) => e.event === 'ai:done' && e.payload.messageId === answer.id), 5000, 'the end on the late tab');
    expect(toolEvents(seenLate, answer.id)).toEqual([expect.objectContaining({ id: answer.toolCalls![0]!.id, status: 'done' })]);
    expect((await stored(conv, answer.id)).toolCalls).toEqual([expect.objectContaining({ status: 'done' })]);
  });

  it('stops mid-call: the search request is aborted, the call and the answer end stopped', async () => {
    const conv = await conversation();
    const events = record(a1);
    const ended = done(a1, conv);
    await send(a1, conv, 'Never mind [tool=web_search:{"query":"slow [delay=8000]"}]');
    await until(() => events.some((e) => e.event === 'ai:tool' && e.payload.call.status === 'running'), 10_000, 'the call to start');
    const messageId = events.find((e) => e.event === 'ai:tool')!.payload.messageId;
    const started = Date.now();
    await ok(a1, 'ai:stop', { messageId });
    const end = await ended;
    expect(Date.now() - started).toBeLessThan(3000);
    expect(end.status).toBe('stopped');
    await until(() => search.aborted.includes('slow [delay=8000]'), 5000, 'the search request to be aborted');
    expect(toolEvents(events, messageId).map((c) => c.status)).toEqual(['running', 'stopped']);
    expect((await stored(conv, messageId)).toolCalls).toEqual([expect.objectContaining({ status: 'stopped', endedAt: expect.any(String) })]);
  });

  it('calls a tool of an MCP server over stdio', async () => {
    const { end, answer } = await ask('Echo please [tool=files__echo:{"text":"hello over stdio"}]');
    expect(end.status).toBe('complete');
    expect(answer.toolCalls).toEqual([expect.objectContaining({ name: 'files__echo', input: { text: 'hello over stdio' }, output: 'echo: hello over stdio', status: 'done' })]);
    expect(end.content).toContain('echo: hello over stdio');
  });

  it('calls a tool of an MCP server over streamable HTTP, with its token', async () => {
    const { end, answer } = await ask('Echo please [tool=web__echo:{"text":"hello over http"}]');
    expect(end.status).toBe('complete');
    expect(answer.toolCalls).toEqual([expect.objectContaining({ name: 'web__echo', output: 'echo: hello over http', status: 'done' })]);
    expect(end.content).toContain('echo: hello over http');
    expect(mcp.calls).toContain('echo:hello over http');
    expect(new Set(mcp.authorizations)).toEqual(new Set([`Bearer ${MCP_TOKEN}`]));
  });

  it('stops mid-call on an MCP server: the server sees the call cancelled', async () => {
    const conv = await conversation();
    const events = record(a1);
    const ended = done(a1, conv);
    await send(a1, conv, 'Wait [tool=web__slow:{"ms":20000}]');
    await until(() => mcp.calls.includes('slow:20000'), 10_000, 'the MCP call to start');
    const messageId = events.find((e) => e.event === 'ai:tool')!.payload.messageId;
    await ok(a1, 'ai:stop', { messageId });
    expect((await ended).status).toBe('stopped');
    await until(() => mcp.aborted.includes('slow:20000'), 5000, 'the MCP server to see the cancellation');
    expect((await stored(conv, messageId)).toolCalls).toEqual([expect.objectContaining({ name: 'web__slow', status: 'stopped' })]);
  });

  it("gives the model, and the people, an MCP tool's error; the answer goes on", async () => {
    const { end, answer } = await ask('Try it [tool=web__fail:{}]');
    expect(end.status).toBe('complete');
    expect(answer.toolCalls).toEqual([expect.objectContaining({ name: 'web__fail', status: 'error', error: expect.stringContaining('this tool always fails') })]);
    expect(end.content).toContain('this tool always fails');
  });

  it('a call to an MCP server that went down ends in a clear error, not a crash', async () => {
    const warm = await ask('Warm up [tool=flaky__echo:{"text":"up"}]');
    expect(warm.answer.toolCalls![0]).toMatchObject({ status: 'done', output: 'echo: up' });
    await flaky.close();
    const { end, answer } = await ask('Again [tool=flaky__echo:{"text":"down"}]');
    expect(end.status).toBe('complete');
    expect(answer.toolCalls).toEqual([expect.objectContaining({ name: 'flaky__echo', status: 'error', error: 'The MCP server "flaky" could not be reached, so its tool "echo" could not be used.' })]);
    expect(end.content).toContain('could not be reached');
    // The server goes on answering, with and without tools.
    expect((await ask('Still here? [tool=files__echo:{"text":"yes"}]')).answer.toolCalls![0]).toMatchObject({ status: 'done', output: 'echo: yes' });
  });

  it('bounds an answer in steps: the last request offers no tools, so the answer ends in words', async () => {
    const before = fake.requests.length;
    const { end, answer } = await ask('Loop [tool=files__echo:{"text":"again"}][toolloop]');
    expect(end.status).toBe('complete');
    const requests = fake.requests.slice(before).filter((r) => r.path === '/v1/chat/completions' && !r.body.messages.some((m: any) => m.role === 'system' && /title/i.test(String(m.content))));
    const answerRequests = requests.filter((r) => r.body.messages.at(-1)?.role !== 'user' || String(r.body.messages.at(-1)?.content).includes('[toolloop]'));
    expect(answerRequests.map((r) => Boolean(r.body.tools))).toEqual([true, true, true, true, false]);
    expect(answer.toolCalls).toHaveLength(4);
    expect(answer.toolCalls!.every((c) => c.status === 'done')).toBe(true);
    expect(end.content).toContain('after 4 tool calls');
  });

  it('bounds a call in time: a slow search fails with a reason the model and the people see', async () => {
    const started = Date.now();
    const { end, answer } = await ask('Slow [tool=web_search:{"query":"glacial [delay=9000]"}]');
    expect(Date.now() - started).toBeLessThan(8000);
    expect(end.status).toBe('complete');
    expect(answer.toolCalls).toEqual([expect.objectContaining({ status: 'error', error: 'The web search took longer than 3 s and was stopped.' })]);
    expect(end.content).toContain('took longer than 3 s');
    await until(() => search.aborted.includes('glacial [delay=9000]'), 5000, 'the slow request to be closed');
  });

  it('draws a picture: stored as an image attachment of the answer, served to members only', async () => {
    const { conv, end, answer } = await ask('Draw [tool=generate_image:{"prompt":"a blue square"}]');
    expect(end.status).toBe('complete');
    expect(answer.attachments).toEqual([expect.objectContaining({ name: 'image-1.png', type: 'image/png', width: 64, height: 48, hasPreview: true })]);
    const image = answer.attachments[0]!;
    expect(answer.toolCalls).toEqual([expect.objectContaining({ name: 'generate_image', status: 'done', output: { attachmentId: image.id, name: 'image-1.png', width: 64, height: 48 } })]);
    const prompt = fake.requests.find((r) => r.path === '/v1/images/generations')!.body;
    expect(prompt).toMatchObject({ model: 'gpt-image-1', prompt: 'a blue square', n: 1 });
    const res = await fetch(`${server.url}/api/attachments/${image.id}`, { headers: { authorization: `Bearer ${alice.accessToken}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.subarray(1, 4).toString()).toBe('PNG');
    expect(bytes.length).toBe(image.size);
    expect((await fetch(`${server.url}/api/attachments/${image.id}/preview`, { headers: { authorization: `Bearer ${alice.accessToken}` } })).status).toBe(200);
    // Not a member: nothing to see.
    expect((await fetch(`${server.url}/api/attachments/${image.id}`, { headers: { authorization: `Bearer ${bob.accessToken}` } })).status).toBe(404);
    expect((await fetch(`${server.url}/api/attachments/${image.id}`)).status).toBe(401);
    // Regenerating drops the previous version's picture with it.
    const again = done(a1, conv);
    await ok(a1, 'ai:regenerate', { messageId: answer.id });
    await again;
    const regenerated = await stored(conv, answer.id);
    expect(regenerated.attachments).toHaveLength(1);
    expect(regenerated.attachments[0]!.id).not.toBe(image.id);
    expect((await fetch(`${server.url}/api/attachments/${image.id}`, { headers: { authorization: `Bearer ${alice.accessToken}` } })).status).toBe(404);
  });
});
