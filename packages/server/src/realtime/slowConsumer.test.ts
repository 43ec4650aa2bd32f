import type { Message } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser, startTestServer, type TestServer } from '../test/harness.ts';
import { connect, createGroup, ok, until, type Client } from './test/kit.ts';

let server: TestServer;
const open: Client[] = [];
const CAP = 512 * 1024;
beforeAll(async () => {
  server = await startTestServer({}, { realtime: { maxBufferedBytes: CAP, sweepIntervalMs: 200 } });
});
afterAll(async () => {
  for (const s of open) s.close();
  await server?.close();
});

describe('slow consumers', () => {
  it('disconnects a client that stops reading once its queued output passes the cap; the others carry on', async () => {
    const [alice, bob, carol] = await Promise.all([registerUser(server, 'alice'), registerUser(server, 'bob'), registerUser(server, 'carol')]);
    const conversationId = await createGroup(server, server.ctx.db, alice!, [bob!, carol!]);
    const a = await connect(server.url, alice!.accessToken);
    const b = await connect(server.url, bob!.accessToken);
    const c = await connect(server.url, carol!.accessToken);
    open.push(a, b, c);
    const carolGot = new Set<string>();
    c.on('chat:message_received', (m: Message) => carolGot.add(m.id));

    // Bob's process stops reading its socket: the kernel buffers fill, then the server's.
    const engine = b.io.engine as unknown as { transport: { ws: { _socket: { pause(): void } } } };
    engine.transport.ws._socket.pause();
    const bobOnServer = () => [...server.gateway.io.of('/').sockets.values()].filter((s) => s.data.userId === bob!.id);
    expect(bobOnServer()).toHaveLength(1);

    const content = 'x'.repeat(60 * 1024);
    const sent: string[] = [];
    // Loopback kernel buffers absorb several MB before the server has to queue anything, so send
    // until the server gives up on Bob (bounded: 40 MB at most).
    for (let i = 0; i < 700 && bobOnServer().length > 0; i += 8) {
      const batch = await Promise.all(Array.from({ length: 8 }, (_, j) => ok<Message>(a, 'chat:message_send', { conversationId, content, clientId: `big-${i + j}` })));
      sent.push(...batch.map((m) => m.id));
    }
    await until(() => bobOnServer().length === 0, 5000, 'bob to be dropped');
    expect(server.gateway.stats().slowConsumersDropped).toBe(1);
    // Carol, who reads, has every message; the server still answers everyone else.
    await until(() => carolGot.size === sent.length, 20_000, 'carol to receive everything');
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    expect(a.connected && c.connected).toBe(true);
  });
});
