/**
 * The protocol's schemas describe what the server really sends: every ack a socket gets and every
 * server event it receives parses with its schema, and parsing drops nothing (no field the schema
 * does not know).
 */
import { AckSchema, ClientEventResultSchemas, ServerEventSchemas, type ClientEventName, type Conversation, type Message } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../test/fakeOpenAI.ts';
import { registerUser, startTestServer, type TestServer } from '../test/harness.ts';
import { call, connect, createGroup, record, until, type Client } from './test/kit.ts';

const MODEL = 'openai:test-model';
let fake: FakeOpenAI;
let server: TestServer;
const sockets: Client[] = [];

beforeAll(async () => {
  fake = await startFakeOpenAI({ defaultDelayMs: 2 });
  server = await startTestServer({ ai: testAiConfig(fake.url, [MODEL]) });
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.close();
  await fake?.close();
});

/** Parses with the schema and checks that nothing was dropped or changed. */
function conforms(schema: { parse(value: unknown): unknown }, value: unknown, what: string): void {
  expect(schema.parse(value), what).toEqual(value);
}

describe('protocol schemas against the server', () => {
  it('every ack and every server event parses with its schema', async () => {
    const alice = await registerUser(server, 'alice');
    const bob = await registerUser(server, 'bob');
    const a = await connect(server.url, alice.accessToken);
    const b = await connect(server.url, bob.accessToken);
    sockets.push(a, b);
    const seenByBob = record(b);
    const seenByAlice = record(a);
    const conversationId = await createGroup(server, server.ctx.db, alice, [bob]);

    const acked = new Set<ClientEventName>();
    const send = async <T>(event: ClientEventName, payload?: unknown): Promise<T> => {
      const ack = await call<T>(a, event, payload);
      conforms(AckSchema(ClientEventResultSchemas[event]), ack, `${event} ack`);
      if (!ack.ok) throw new Error(`${event} failed: ${ack.error.code}`);
      acked.add(event);
      return ack.data;
    };

    await send('presence:online');
    await send('subscribe', { conversationId });
    const sent = await send<Message>('chat:message_send', { conversationId, content: `hi @${bob.user.handle}`, clientId: 'c1' });
    await send('chat:message_edit', { messageId: sent.id, content: 'edited' });
    await send('chat:reaction', { messageId: sent.id, emoji: '🎉', on: true });
    await send('chat:typing', { conversationId, isTyping: true });
    const other = await bob.api.post<Message>('/api/messages', { conversationId, content: 'from bob', clientId: 'b1' });
    await send('chat:message_delivered', { messageId: other.body.id });
    await send('chat:message_read', { messageId: other.body.id });
    await send('sync', { cursors: { [conversationId]: 0 } });
    await send('auth:refresh', { token: alice.accessToken });
    await send('chat:message_delete', { messageId: sent.id });
    await send('unsubscribe', { conversationId });

    // An AI answer: streamed deltas, its end, a regenerated version, and a stop.
    const assistant = (await alice.api.post<Conversation>('/api/conversations/assistant', { model: MODEL })).body;
    await send('chat:message_send', { conversationId: assistant.id, content: 'tell me', clientId: 'q1' });
    await until(() => seenByAlice.some((e) => e.event === 'ai:done'), 20_000, 'the first answer');
    const answer = seenByAlice.find((e) => e.event === 'ai:done')!.payload as { messageId: string };
    await send('ai:regenerate', { messageId: answer.messageId });
    await send('ai:stop', { messageId: answer.messageId });
    await send('presence:offline');
    const ackError = await call(a, 'chat:message_edit', { messageId: 'no-such-message', content: 'x' });
    conforms(AckSchema(ClientEventResultSchemas['chat:message_edit']), ackError, 'an error ack');
    expect(ackError.ok).toBe(false);

    expect([...acked].sort()).toEqual(Object.keys(ClientEventResultSchemas).sort());

    await until(() => seenByBob.some((e) => e.event === 'chat:message_updated' && (e.payload as Message).deletedAt !== null), 10_000, 'the delete');
    const seen = [...seenByAlice, ...seenByBob];
    for (const { event, payload } of seen) {
      expect(Object.keys(ServerEventSchemas), `unknown server event ${event}`).toContain(event);
      conforms(ServerEventSchemas[event as keyof typeof ServerEventSchemas], payload, event);
    }
    const kinds = new Set(seen.map((e) => e.event));
    for (const event of ['chat:message_received', 'chat:message_updated', 'chat:message_status_updated', 'chat:user_typing', 'conversation:update', 'ai:delta', 'ai:done']) {
      expect(kinds, `no ${event} seen`).toContain(event);
    }
  });
});
