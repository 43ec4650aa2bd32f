import type { Message } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser, startTestNodes, type TestNodes, type TestServer } from '../test/harness.ts';
import { call, connect, ok, record, sleep, until, waitFor, type Client } from './test/kit.ts';

// Joining a public channel on one node: the `membership` event moves the user's sockets into the
// room on every node (serverSideEmit, and the database read-back as the safety net), so a message
// sent through another node reaches them at once. PostgreSQL + Redis: the PostgreSQL pass only.

describe('joining a channel across two nodes', () => {
  let cluster: TestNodes;
  let A: TestServer;
  let B: TestServer;
  const open: Client[] = [];
  const on = async (node: TestServer, token: string) => {
    const s = await connect(node.url, token);
    open.push(s);
    return s;
  };

  beforeAll(async () => {
    cluster = await startTestNodes(2);
    [A, B] = cluster.nodes as [TestServer, TestServer];
  });
  afterAll(async () => {
    for (const s of open) s.close();
    await cluster?.close();
  });

  it('a user who joins on node A receives a message sent on node B, on sockets of both nodes', async () => {
    // Alice's REST calls go to node B, Bob's to node A.
    const [alice, bob] = await Promise.all([registerUser(B, 'alice'), registerUser(A, 'bob')]);
    const created = await alice!.api.post('/api/conversations/group', { title: 'town square', visibility: 'public', topic: 'everyone' });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const aliceOnB = await on(B, alice!.accessToken);
    const bobOnA = await on(A, bob!.accessToken);
    const bobOnB = await on(B, bob!.accessToken);
    const seenA = record(bobOnA);
    const seenB = record(bobOnB);

    // Before joining: nothing of the channel reaches Bob on either node.
    await ok(aliceOnB, 'chat:message_send', { conversationId: id, content: 'before the join', clientId: 'b1' });
    await sleep(300);
    expect(JSON.stringify([...seenA, ...seenB])).not.toContain('before the join');

    // Bob joins through node A's REST API.
    const joined = await bob!.api.post(`/api/channels/${id}/join`);
    expect(joined.status).toBe(200);
    // The socket on B is moved into the room by the cross-node membership broadcast.
    await until(async () => (await call(bobOnB, 'chat:typing', { conversationId: id, isTyping: false })).ok, 5000, 'bob on B in the room');
    expect((await call(bobOnA, 'chat:typing', { conversationId: id, isTyping: false })).ok).toBe(true);

    const onA = waitFor<Message>(bobOnA, 'chat:message_received', (m) => m.content === 'welcome bob');
    const onB = waitFor<Message>(bobOnB, 'chat:message_received', (m) => m.content === 'welcome bob');
    const sent = await ok<Message>(aliceOnB, 'chat:message_send', { conversationId: id, content: 'welcome bob', clientId: 'b2' });
    expect(await onA).toEqual(sent);
    expect(await onB).toEqual(sent);
  });

  it('a pin made on node A reaches members on node B live', async () => {
    const [alice, bob] = await Promise.all([registerUser(A, 'alice'), registerUser(B, 'bob')]);
    const created = await alice!.api.post('/api/conversations/group', { title: 'pins', visibility: 'public' });
    const id = created.body.id as string;
    await bob!.api.post(`/api/channels/${id}/join`);
    const bobOnB = await on(B, bob!.accessToken);
    const msg = (await alice!.api.post('/api/messages', { conversationId: id, content: 'pin me', clientId: 'p1' })).body as Message;
    const live = waitFor<Message>(bobOnB, 'chat:message_updated', (m) => m.id === msg.id && m.pinnedAt !== null);
    const pinned = await alice!.api.post(`/api/messages/${msg.id}/pin`);
    expect(await live).toEqual(pinned.body);
  });
});
