/**
 * The SDK against a real Confab server (REST + Socket.IO, fresh embedded database).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../../server/src/test/harness.ts';
import { startEchoBot } from '../examples/echo-bot.ts';
import { createClient, type ConfabClient } from './client.ts';
import { fileStorage } from './storage/file.ts';
import { memoryStorage } from './storage/memory.ts';
import type { ChatMessage, Storage } from './types.ts';

let server: TestServer;
const clients: ConfabClient[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function sdk(user: TestUser, opts: { storage?: Storage; offline?: boolean } = {}): ConfabClient {
  const client = createClient({ url: server.url, storage: opts.storage ?? memoryStorage() });
  clients.push(client);
  if (opts.offline) client.connection.goOffline();
  client.setSession({ accessToken: user.accessToken, refreshToken: user.refreshToken });
  return client;
}

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A live view of one conversation, with every callback recorded. */
function view(client: ConfabClient, conversationId: string) {
  const calls: ChatMessage[][] = [];
  const watch = client.watchMessages(conversationId, (list) => calls.push(list));
  return {
    calls,
    watch,
    get list() {
      return calls.at(-1)!;
    },
    /** The people's messages (system messages, e.g. "group created", left out). */
    get texts() {
      return calls.at(-1)!.filter((m) => m.kind !== 'system');
    },
  };
}

/** Waits for the first page of a watched conversation to land. */
async function settled(client: ConfabClient, conversationId: string): Promise<void> {
  await client.idle();
  await until('first page', () => !client.messagesMetaQuery(conversationId).get().loadingOlder);
}

async function group(owner: TestUser, ...others: TestUser[]): Promise<string> {
  const res = await owner.api.post('/api/conversations/group', { title: 'team', participantIds: others.map((o) => o.id) });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

/** Alice and Bob in a group, each with an SDK client that has caught up. */
async function aliceAndBobOnline() {
  const alice = await registerUser(server, 'alice');
  const bob = await registerUser(server, 'bob');
  const conv = await group(alice, bob);
  const a = sdk(alice);
  const b = sdk(bob);
  await Promise.all([a.idle(), b.idle()]);
  return { alice, bob, conv, a, b };
}

function expectSameHistory(a: ChatMessage[], b: ChatMessage[]) {
  const ids = (l: ChatMessage[]) => l.map((m) => m.id);
  expect(ids(a)).toEqual(ids(b));
  expect(new Set(ids(a)).size).toBe(a.length);
  for (const l of [a, b]) {
    expect(l.every((m) => m.id !== null && m.seq !== null && (m.sendState === undefined || m.sendState === 'sent'))).toBe(true);
    const seqs = l.map((m) => m.seq!);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
  }
}

describe('two SDK clients in a group, one of them offline for a while', () => {
  it('converges on the same 40 messages, in the same order, without duplicates or leftovers', async () => {
    const { alice, conv, a, b } = await aliceAndBobOnline();
    const va = view(a, conv);
    const vb = view(b, conv);
    await settled(a, conv);
    await settled(b, conv);

    a.connection.goOffline();
    expect(a.connection.state).toBe('offline');
    const fromA = Array.from({ length: 20 }, (_, i) => a.send(conv, { content: `a${i}` }));
    const fromB = Array.from({ length: 20 }, (_, i) => b.send(conv, { content: `b${i}` }));
    await Promise.all(fromB.map((m) => m.settled));
    expect(fromB.every((m) => m.sendState === 'sent')).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    // Offline, A received nothing: its view is its own 20 pending messages.
    expect(va.texts.map((m) => [m.content, m.sendState])).toEqual(fromA.map((_, i) => [`a${i}`, 'pending']));
    expect(a.pendingCount).toBe(20);

    a.connection.goOnline();
    await a.idle();
    await until('B sees A', () => vb.texts.length === 40);
    await until('A sees B', () => va.texts.length === 40);
    expectSameHistory(va.list, vb.list);
    expect(va.texts.map((m) => m.content).sort()).toEqual([...fromA, ...fromB].map((m) => m.content).sort());
    // A's messages went out in the order they were written.
    expect(va.texts.filter((m) => m.authorId === alice.id).map((m) => m.content)).toEqual(fromA.map((_, i) => `a${i}`));
    expect(fromA.every((m) => m.sendState === 'sent' && m.seq !== null)).toBe(true);
    // And the server holds exactly those.
    const stored = await alice.api.get(`/api/messages/${conv}?limit=200`);
    expect(stored.body.messages.map((m: { id: string }) => m.id)).toEqual(va.list.map((m) => m.id));
    expect(a.pendingCount + b.pendingCount).toBe(0);
  });

  it('delivers a persisted outbox exactly once across restarts, even when one interrupts the sending', async () => {
    const alice = await registerUser(server, 'alice');
    const bob = await registerUser(server, 'bob');
    const conv = await group(alice, bob);
    const dir = mkdtempSync(path.join(tmpdir(), 'confab-sdk-outbox-'));
    dirs.push(dir);
    const b = sdk(bob);
    const vb = view(b, conv);
    await b.idle();

    // First run: offline from the start, 10 messages queued, then the process ends.
    const a1 = sdk(alice, { storage: fileStorage(dir), offline: true });
    for (let i = 0; i < 10; i++) a1.send(conv, { content: `a${i}` });
    const bSends = Array.from({ length: 10 }, (_, i) => b.send(conv, { content: `b${i}` }));
    await a1.close();

    // Second run: the queue shows as pending at once; 10 more are queued; then online, and the
    // process ends while it is still sending.
    const a2 = sdk(alice, { storage: fileStorage(dir), offline: true });
    const va2 = view(a2, conv);
    await until('persisted outbox loaded', () => va2.texts.length === 10);
    expect(va2.texts.every((m) => m.sendState === 'pending')).toBe(true);
    for (let i = 10; i < 20; i++) a2.send(conv, { content: `a${i}` });
    bSends.push(...Array.from({ length: 10 }, (_, i) => b.send(conv, { content: `b${10 + i}` })));
    a2.connection.goOnline();
    await until('some of A delivered', () => vb.texts.filter((m) => m.authorId === alice.id).length >= 5);
    await a2.close();

    // Third run: whatever was left (including messages stored whose ack never came) goes out once.
    const a3 = sdk(alice, { storage: fileStorage(dir) });
    const va3 = view(a3, conv);
    await a3.idle();
    await Promise.all(bSends.map((m) => m.settled));
    await until('B sees all of A', () => vb.texts.length === 40);
    await until('A sees everything', () => va3.texts.length === 40);
    expectSameHistory(va3.list, vb.list);
    const fromAlice = vb.texts.filter((m) => m.authorId === alice.id).map((m) => m.content);
    expect(fromAlice).toEqual(Array.from({ length: 20 }, (_, i) => `a${i}`));
    expect(await fileStorage(dir).keys('outbox/')).toEqual([]);
  });
});

describe('optimistic states against the server', () => {
  it('pending → sent; pending → failed on 413, and on 404; retry and discard', async () => {
    const alice = await registerUser(server, 'alice');
    const bob = await registerUser(server, 'bob');
    const conv = await group(alice, bob);
    const a = sdk(alice);
    await a.idle();
    const v = view(a, conv);
    await settled(a, conv);

    const ok = a.send(conv, { content: 'hello' });
    expect(ok).toMatchObject({ sendState: 'pending', id: null, seq: null, content: 'hello', authorId: alice.id });
    const sent = await ok.settled;
    expect(sent).toMatchObject({ sendState: 'sent', content: 'hello', clientId: ok.clientId });
    expect(sent.id).toEqual(expect.any(String));
    const states = v.calls.map((l) => l.find((m) => m.clientId === ok.clientId)?.sendState);
    expect(states.filter(Boolean)).toEqual(['pending', 'sent']);

    const big = a.send(conv, { content: 'x'.repeat(64 * 1024 + 1) });
    expect(big.sendState).toBe('pending');
    expect(await big.settled).toMatchObject({ sendState: 'failed', error: { code: 'PAYLOAD_TOO_LARGE' } });

    const lost = a.send('no-such-conversation', { content: 'into the void' });
    expect(await lost.settled).toMatchObject({ sendState: 'failed', error: { code: 'NOT_FOUND' } });
    expect(await a.retry(lost.clientId)).toMatchObject({ sendState: 'failed' });
    a.discard(lost.clientId);

    const outsider = await registerUser(server, 'eve');
    const e = sdk(outsider);
    await e.idle();
    const intruder = e.send(conv, { content: 'let me in' });
    expect(await intruder.settled).toMatchObject({ sendState: 'failed', error: { code: expect.stringMatching(/^(NOT_FOUND|FORBIDDEN)$/) } });

    // A failed message stays listed (after the stored ones) until retried or discarded.
    expect(v.list.at(-1)).toMatchObject({ clientId: big.clientId, sendState: 'failed' });
    a.discard(big.clientId);
    await until('discarded', () => v.list.at(-1)?.clientId === ok.clientId);
    expect(a.pendingCount).toBe(0);
  });

  it('rolls back an edit the server refuses (FORBIDDEN) and keeps an accepted one', async () => {
    const { conv, a, b } = await aliceAndBobOnline();
    const vb = view(b, conv);
    const m = await a.send(conv, { content: 'mine' }).settled;
    await until('B has it', () => vb.list.some((x) => x.id === m.id));
    const before = vb.list.find((x) => x.id === m.id)!;
    const n = vb.calls.length;
    const attempt = b.edit(m.id!, 'not yours').catch((error: unknown) => error);
    expect(vb.calls.length).toBe(n);
    const error = await attempt;
    expect(error).toMatchObject({ code: 'FORBIDDEN' });
    await new Promise((r) => setTimeout(r, 50));
    const shown = vb.calls.slice(n).map((l) => l.find((x) => x.id === m.id)!.content);
    expect(shown).toEqual(['not yours', 'mine']);
    expect(vb.list.find((x) => x.id === m.id)).toBe(before);

    const edited = await a.edit(m.id!, 'mine, edited');
    expect(edited).toMatchObject({ content: 'mine, edited', editedAt: expect.any(String) });
    await until('B sees the edit', () => vb.list.find((x) => x.id === m.id)?.content === 'mine, edited');
    await b.react(m.id!, '👍', true);
    await until('reaction', () => vb.list.find((x) => x.id === m.id)?.reactions[0]?.count === 1);
    await b.markRead(m.id!);
    await until('read', () => b.getConversation(conv)?.lastReadSeq === edited.seq);
  });

  it('calls a live query back once per change, not once per event', async () => {
    const { alice, bob, conv, a, b } = await aliceAndBobOnline();
    const vb = view(b, conv);
    await settled(b, conv);
    const conversations: unknown[] = [];
    const cw = b.watchConversations((l) => conversations.push(l));
    const n = vb.calls.length;
    const m = await a.send(conv, { content: 'one' }).settled;
    await until('B has it', () => vb.list.some((x) => x.id === m.id));
    await new Promise((r) => setTimeout(r, 200));
    // Exactly one new snapshot for the one new message; the conversation list moved once too.
    expect(vb.calls.length).toBe(n + 1);
    expect(vb.calls[n]!.slice(0, -1)).toEqual(vb.calls[n - 1]);
    expect(vb.calls[n]!.slice(0, -1).every((x, i) => x === vb.calls[n - 1]![i])).toBe(true);
    expect(conversations.length).toBe(2);
    cw.unsubscribe();
    // Unrelated changes (typing elsewhere, another conversation) do not call it back.
    const other = await group(alice, bob);
    await a.send(other, { content: 'elsewhere' }).settled;
    await new Promise((r) => setTimeout(r, 200));
    expect(vb.calls.length).toBe(n + 1);
  });

  it('shows typing and presence', async () => {
    const { alice, conv, a, b } = await aliceAndBobOnline();
    const typing: string[][] = [];
    b.watchTyping(conv, (ids) => typing.push(ids));
    await new Promise((r) => setTimeout(r, 100));
    a.setTyping(conv, true);
    await until('typing shown', () => typing.at(-1)?.[0] === alice.id);
    a.setTyping(conv, false);
    await until('typing cleared', () => typing.at(-1)?.length === 0);
    const presence: Record<string, { status: string }>[] = [];
    b.watchPresence([alice.id], (p) => presence.push(p));
    a.connection.goOffline();
    await until('offline seen', () => presence.at(-1)?.[alice.id]?.status === 'offline', 15_000);
    a.connection.goOnline();
    await until('online seen', () => presence.at(-1)?.[alice.id]?.status === 'online', 15_000);
  });
});

describe('examples', () => {
  it('the echo bot answers in a direct conversation', async () => {
    const alice = await registerUser(server, 'alice');
    const bot = await registerUser(server, 'echo');
    const res = await alice.api.post('/api/conversations/direct', { userId: bot.id });
    const conv = res.body.id as string;
    const botClient = sdk(bot);
    const stop = startEchoBot(botClient);
    await botClient.idle();
    const a = sdk(alice);
    const v = view(a, conv);
    await a.idle();
    const hello = await a.send(conv, { content: 'hello bot' }).settled;
    await until('the echo', () => v.texts.some((m) => m.content === 'echo: hello bot' && m.replyToId === hello.id));
    await new Promise((r) => setTimeout(r, 200));
    expect(v.texts.map((m) => m.content)).toEqual(['hello bot', 'echo: hello bot']);
    stop();
  });
});
