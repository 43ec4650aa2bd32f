/**
 * Presence shown outside an open conversation (the sidebar's dots): the server only reports
 * changes, so a fresh client must ask for the current status of the users it shows (issue 18).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../../server/src/test/harness.ts';
import { createClient, type ConfabClient } from './client.ts';
import { memoryStorage } from './storage/memory.ts';
import type { Presence } from './types.ts';

let server: TestServer;
const clients: ConfabClient[] = [];

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server?.close();
});

function sdk(user: TestUser): ConfabClient {
  const client = createClient({ url: server.url, storage: memoryStorage() });
  clients.push(client);
  client.setSession({ accessToken: user.accessToken, refreshToken: user.refreshToken });
  return client;
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('watchPresence', () => {
  it('learns the status of users who were online before the client started, with no conversation open', async () => {
    const [alice, bob, carol] = [await registerUser(server, 'alice'), await registerUser(server, 'bob'), await registerUser(server, 'carol')];
    await bob.api.post('/api/conversations/direct', { userId: alice.id });
    await carol.api.post('/api/conversations/group', { title: 'G', participantIds: [alice.id, bob.id] });
    // Bob is online before Alice's client starts; Carol never is.
    const b = sdk(bob);
    await b.idle();
    const a = sdk(alice);
    await a.idle();
    await until('conversations', () => a.conversationsQuery().get().length === 2);
    const seen: Record<string, Presence>[] = [];
    const watch = a.watchPresence([bob.id, carol.id], (p) => seen.push(p));
    await until('bob online, carol offline', () => seen.at(-1)?.[bob.id]?.status === 'online' && seen.at(-1)?.[carol.id]?.status === 'offline');
    watch.unsubscribe();
    expect(seen[0]![bob.id]!.status).toBe('unknown');
  });
});
