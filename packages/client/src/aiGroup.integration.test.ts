/**
 * The assistant in a group through the SDK (issue 22), against a real server and the fake
 * OpenAI-compatible provider: the other member's unread count does not rise while the answer
 * streams and rises by one when it is finished, the same live, after a reconnect's sync and on a
 * new device, and the same as the server's; the assistant is "typing" (answering) meanwhile.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../../server/src/test/fakeOpenAI.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../../server/src/test/harness.ts';
import { createClient, type ConfabClient } from './client.ts';

const MODEL = 'openai:test-model';
let fake: FakeOpenAI;
let server: TestServer;
const clients: ConfabClient[] = [];

beforeAll(async () => {
  fake = await startFakeOpenAI({ defaultDelayMs: 2 });
  server = await startTestServer({ ai: testAiConfig(fake.url, [MODEL], { checkpointMs: 100 }) });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server?.close();
  await fake?.close();
});

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function sdk(user: TestUser): ConfabClient {
  const c = createClient({ url: server.url });
  clients.push(c);
  c.setSession({ accessToken: user.accessToken, refreshToken: user.refreshToken });
  return c;
}

describe('the assistant in a group, through the SDK', () => {
  it('counts the answer as unread when it is finished, live, after a reconnect and on a new device, as the server does', async () => {
    const alice = await registerUser(server, 'alice');
    const bob = await registerUser(server, 'bob');
    const a = sdk(alice);
    const b = sdk(bob);
    await Promise.all([a.idle(), b.idle()]);
    const group = await a.createGroup('Study', [bob.id, 'assistant']);
    await until('Bob knows the group', () => b.getConversation(group.id) !== null);
    // Bob watches the list and the typing line, not the conversation (he does not read it).
    const typing: string[][] = [];
    b.watchTyping(group.id, (ids) => typing.push(ids));
    const serverCount = async () => ((await bob.api.get(`/api/conversations/${group.id}`)).body as { unreadCount: number }).unreadCount;

    await a.send(group.id, { content: '@assistant explain [tokens=40][delay=50]' }).settled;
    await until('the answer streams for Bob', () => b.getConversation(group.id)?.generating === true && typing.some((t) => t.includes('assistant')));
    await until('the question counted', () => b.getConversation(group.id)?.unreadCount === 1);
    // While it streams: the question only, live and on the server; the activity is the question's.
    const during = b.getConversation(group.id)!;
    expect(during.lastMessage?.authorId).toBe('assistant');
    expect(during.lastMessage?.status).toBe('streaming');
    expect(during.lastActivityAt).toBe(((await bob.api.get(`/api/conversations/${group.id}`)).body as { lastActivityAt: string }).lastActivityAt);
    expect(await serverCount()).toBe(1);
    // Bob's connection drops and comes back mid-answer: his sync says the same.
    b.connection.goOffline();
    b.connection.goOnline();
    await b.idle();
    expect(b.getConversation(group.id)?.unreadCount).toBe(1);
    // A new device of Bob's, mid-answer: the same.
    const b2 = sdk(bob);
    await b2.idle();
    expect(b2.getConversation(group.id)?.unreadCount).toBe(1);

    // Finished: one more, once, everywhere; the assistant is no longer typing.
    await until('the answer ends for Bob', () => b.getConversation(group.id)?.generating === false && b.getConversation(group.id)?.lastMessage?.status === 'complete');
    await until('the answer counted', () => b.getConversation(group.id)?.unreadCount === 2);
    await until('the assistant stopped answering', () => !typing.at(-1)!.includes('assistant'));
    await until('the new device counted it', () => b2.getConversation(group.id)?.unreadCount === 2);
    expect(await serverCount()).toBe(2);
    const server2 = ((await bob.api.get(`/api/conversations/${group.id}`)).body as { lastActivityAt: string }).lastActivityAt;
    await until('the new activity', () => b.getConversation(group.id)?.lastActivityAt === server2);
    expect(Date.parse(server2)).toBeGreaterThan(Date.parse(during.lastActivityAt));
    // Alice (who asked) has the answer unread, and nothing else.
    await until('Alice counted the answer', () => a.getConversation(group.id)?.unreadCount === 1);
    // Another reconnect, and a third device, after the end: still 2, not 3.
    b.connection.goOffline();
    b.connection.goOnline();
    await b.idle();
    expect(b.getConversation(group.id)?.unreadCount).toBe(2);
    const b3 = sdk(bob);
    await b3.idle();
    expect(b3.getConversation(group.id)?.unreadCount).toBe(2);
    // Stays 2 a moment later (nothing late adds to it).
    await new Promise((r) => setTimeout(r, 300));
    expect([b, b2, b3].map((c) => c.getConversation(group.id)?.unreadCount)).toEqual([2, 2, 2]);
  });
});
