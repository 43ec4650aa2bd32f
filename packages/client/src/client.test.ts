import { describe, expect, it } from 'vitest';
import { GAP_GRACE_MS, createClient, type ConfabClient } from './client.ts';
import { memoryStorage } from './storage/memory.ts';
import { FakeClock, FakeServer, conversation, fakeJwt, settle } from './test/fakes.ts';
import type { ChatMessage, Storage } from './types.ts';

const ME = 'u-me';

function make(server: FakeServer, opts: { clock?: FakeClock; storage?: Storage; accessExp?: number } = {}) {
  const clock = opts.clock ?? new FakeClock();
  const client = createClient({
    url: 'http://fake',
    fetch: server.fetch,
    socketFactory: server.socketFactory,
    clock,
    random: () => 0.5,
    storage: opts.storage ?? memoryStorage(),
  });
  const accessToken = fakeJwt(ME, opts.accessExp ?? Math.floor(clock.now() / 1000) + 900);
  server.validTokens.add(accessToken);
  return { client, clock, accessToken };
}

async function online(server: FakeServer, opts: Parameters<typeof make>[1] = {}) {
  const made = make(server, opts);
  made.client.setSession({ accessToken: made.accessToken, refreshToken: `${ME}:r0` });
  await made.client.idle();
  return made;
}

function record(client: ConfabClient, conversationId: string) {
  const calls: ChatMessage[][] = [];
  const watch = client.watchMessages(conversationId, (list) => calls.push(list));
  return { calls, watch, last: () => calls.at(-1)! };
}

function groupServer(history = 0) {
  const server = new FakeServer();
  server.addConversation(conversation({ id: 'c1' }));
  for (let i = 1; i <= history; i++) server.store('c1', 'u-other', `old ${i}`);
  return server;
}

describe('client: start, bootstrap, first page', () => {
  it('lists conversations, starts each window at its end, and pages in history when watched', async () => {
    const server = groupServer(120);
    const { client } = await online(server);
    expect(client.connection.state).toBe('online');
    expect(server.restLog).toContain('GET /api/conversations');
    // Sync did not replay the 120 old messages: history is paged on demand.
    const sync = server.created[0]!.sent.find((s) => s.event === 'sync')!;
    expect(sync.payload).toMatchObject({ cursors: { c1: 120 } });
    const r = record(client, 'c1');
    await settle();
    expect(r.last().map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => 71 + i));
    expect(r.watch.hasMore).toBe(true);
    await r.watch.loadOlder();
    await r.watch.loadOlder();
    await settle();
    expect(r.last().length).toBe(120);
    expect(r.watch.hasMore).toBe(false);
    // Watching told the server the conversation is on screen.
    expect(server.created[0]!.sent.some((s) => s.event === 'subscribe')).toBe(true);
    await client.close();
  });
});

describe('client: offline first page', () => {
  it('does not retry a failing first page in a loop; it tries again on the next connection', async () => {
    const server = groupServer(10);
    const { client } = await online(server);
    const errors: unknown[] = [];
    client.on('error', (e) => errors.push(e));
    client.connection.goOffline();
    const r = record(client, 'c1');
    await settle(20);
    expect(errors.length).toBe(1);
    expect(r.last()).toEqual([]);
    client.connection.goOnline();
    await client.idle();
    await settle();
    expect(r.last().length).toBe(10);
    await client.close();
  });
});

describe('client: resume', () => {
  it('applies what sync returns before the live events that arrived during it', async () => {
    const server = groupServer(3);
    const { client } = await online(server);
    const r = record(client, 'c1');
    await settle();
    // Lose the connection; meanwhile 2 messages are stored.
    server.kill();
    server.store('c1', 'u-other', 'missed 4');
    server.store('c1', 'u-other', 'missed 5');
    // On reconnect, the sync answer is held back while live events arrive first.
    server.holdAcks = true;
    await client.connection.goOffline();
    client.connection.goOnline();
    await settle();
    const live6 = server.store('c1', 'u-other', 'live 6');
    const callsBefore = r.calls.length;
    await settle();
    // The live event waits for the sync.
    expect(r.calls.length).toBe(callsBefore);
    expect(r.last().map((m) => m.seq)).toEqual([1, 2, 3]);
    server.holdAcks = false;
    server.release();
    await client.idle();
    await settle();
    expect(r.last().map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(r.last()[5]).toEqual(live6);
    // One notification for the sync page and the buffered event together.
    expect(r.calls.length).toBe(callsBefore + 1);
    await client.close();
  });

  it('syncs when a live event skips a seq, instead of trusting the order', async () => {
    const server = groupServer(2);
    const { client, clock } = await online(server);
    const r = record(client, 'c1');
    await settle();
    server.store('c1', 'u-other', 'never broadcast', null, { broadcast: false });
    const syncsBefore = server.created[0]!.sent.filter((s) => s.event === 'sync').length;
    server.store('c1', 'u-other', 'seq 4');
    await settle();
    // Applied at once (in seq order), but the hole is only trusted to close for a moment.
    expect(r.last().map((m) => m.content)).toEqual(['old 1', 'old 2', 'seq 4']);
    await clock.advance(GAP_GRACE_MS);
    expect(server.created[0]!.sent.filter((s) => s.event === 'sync').length).toBe(syncsBefore + 1);
    expect(r.last().map((m) => m.content)).toEqual(['old 1', 'old 2', 'never broadcast', 'seq 4']);
    await client.close();
  });

  it('does not sync when the missing change arrives within a moment (events crossing between nodes)', async () => {
    const server = groupServer(2);
    const { client, clock } = await online(server);
    const r = record(client, 'c1');
    await settle();
    const three = server.store('c1', 'u-other', 'three', null, { broadcast: false });
    const four = server.store('c1', 'u-other', 'four', null, { broadcast: false });
    const syncs = () => server.created[0]!.sent.filter((s) => s.event === 'sync').length;
    const before = syncs();
    server.broadcast('chat:message_received', four);
    await clock.advance(GAP_GRACE_MS / 2);
    server.broadcast('chat:message_received', three);
    await clock.advance(GAP_GRACE_MS);
    expect(syncs()).toBe(before);
    // And the cursor went past both: the next change is not mistaken for a gap.
    server.store('c1', 'u-other', 'five');
    await clock.advance(GAP_GRACE_MS * 2);
    expect(syncs()).toBe(before);
    expect(r.last().map((m) => m.content)).toEqual(['old 1', 'old 2', 'three', 'four', 'five']);
    await client.close();
  });

  it('pages through sync while hasMore, and drops conversations the user left', async () => {
    const server = groupServer(0);
    server.addConversation(conversation({ id: 'c2' }));
    server.syncLimit = 7;
    const { client } = await online(server);
    const r = record(client, 'c1');
    await settle();
    server.kill();
    for (let i = 0; i < 30; i++) server.store(i % 2 ? 'c1' : 'c2', 'u-other', `x${i}`);
    server.conversations.delete('c2');
    client.connection.goOffline();
    client.connection.goOnline();
    await client.idle();
    await settle();
    expect(r.last().map((m) => m.content)).toEqual(Array.from({ length: 15 }, (_, i) => `x${2 * i + 1}`));
    expect(client.getConversation('c2')).toBeNull();
    expect(client.getMessages('c2')).toEqual([]);
    await client.close();
  });
});

describe('client: outbox', () => {
  it('shows a send at once as pending, then replaces it with the stored message in one notification', async () => {
    const server = groupServer(0);
    const { client } = await online(server);
    const r = record(client, 'c1');
    await settle();
    const n = r.calls.length;
    const m = client.send('c1', { content: 'hi' });
    expect(m).toMatchObject({ content: 'hi', sendState: 'pending', conversationId: 'c1', authorId: ME, id: null, seq: null });
    expect(typeof m.clientId).toBe('string');
    await settle();
    expect(r.calls.slice(n).map((l) => l.map((x) => x.sendState))).toEqual([['pending'], ['sent']]);
    expect(m.sendState).toBe('sent');
    expect(m.seq).toBe(1);
    expect(await m.settled).toMatchObject({ sendState: 'sent', id: 'm-c1-1', clientId: m.clientId });
    await client.close();
  });

  it('keeps sends made offline, in order, and sends each exactly once on reconnect', async () => {
    const server = groupServer(0);
    const { client } = await online(server);
    const r = record(client, 'c1');
    client.connection.goOffline();
    const sent = Array.from({ length: 5 }, (_, i) => client.send('c1', { content: `offline ${i}` }));
    await settle();
    expect(client.connection.state).toBe('offline');
    expect(r.last().map((m) => m.sendState)).toEqual(['pending', 'pending', 'pending', 'pending', 'pending']);
    // The other side talks meanwhile.
    server.store('c1', 'u-other', 'while you were away');
    client.connection.goOnline();
    await client.idle();
    await settle();
    expect(r.last().map((m) => [m.content, m.sendState ?? null])).toEqual([
      ['while you were away', null],
      ...sent.map((_, i) => [`offline ${i}`, 'sent']),
    ]);
    expect(server.messages.get('c1')!.length).toBe(6);
    expect(sent.every((m) => m.sendState === 'sent')).toBe(true);
    await client.close();
  });

  it('resends after a lost ack without duplicating (the clientId decides)', async () => {
    const server = groupServer(0);
    const { client, clock } = await online(server);
    const r = record(client, 'c1');
    // The server stores the message, then the connection dies before the ack.
    server.overrides.set('chat:message_send', (socket, payload) => {
      server.store('c1', ME, payload.content, payload.clientId, { broadcast: false });
      server.kill(socket);
      return undefined;
    });
    const m = client.send('c1', { content: 'once' });
    await settle();
    expect(m.sendState).toBe('pending');
    server.overrides.delete('chat:message_send');
    await clock.advance(1000);
    await client.idle();
    await settle();
    expect(server.messages.get('c1')!.map((x) => x.content)).toEqual(['once']);
    expect(r.last().map((x) => [x.content, x.sendState])).toEqual([['once', 'sent']]);
    await client.close();
  });

  it('marks a refused message failed with its error, keeps the others going, and retries on demand', async () => {
    const server = groupServer(0);
    const { client } = await online(server);
    const bad = client.send('nope', { content: 'to nowhere' });
    const big = client.send('c1', { content: 'x'.repeat(64 * 1024 + 1) });
    const good = client.send('c1', { content: 'fine' });
    expect(await bad.settled).toMatchObject({ sendState: 'failed', error: { code: 'NOT_FOUND' } });
    expect(await big.settled).toMatchObject({ sendState: 'failed', error: { code: 'PAYLOAD_TOO_LARGE' } });
    expect(await good.settled).toMatchObject({ sendState: 'sent' });
    // The oversized one never went out (it would cut the socket, at every resend).
    expect(server.created[0]!.sent.filter((s) => s.event === 'chat:message_send').length).toBe(2);
    expect(bad.error?.code).toBe('NOT_FOUND');
    server.addConversation(conversation({ id: 'nope' }));
    expect(await client.retry(bad.clientId)).toMatchObject({ sendState: 'sent', content: 'to nowhere' });
    client.discard(big.clientId);
    expect(client.getMessages('c1').map((m) => m.content)).toEqual(['fine']);
    await client.close();
  });
});

describe('client: optimistic changes', () => {
  it('rolls back an edit the server refuses and rejects with its error', async () => {
    const server = groupServer(1);
    const { client } = await online(server);
    const r = record(client, 'c1');
    await settle();
    const original = r.last()[0]!;
    const n = r.calls.length;
    const edit = client.edit(original.id!, 'not mine to edit').catch((e: unknown) => e);
    await settle();
    expect(r.calls.slice(n).map((l) => l[0]!.content)).toEqual(['not mine to edit', 'old 1']);
    expect(await edit).toMatchObject({ code: 'FORBIDDEN' });
    expect(r.last()[0]).toBe(original);
    await client.close();
  });

  it('confirms an accepted edit with the stored state', async () => {
    const server = groupServer(0);
    const { client } = await online(server);
    const m = client.send('c1', { content: 'typo' });
    await m.settled;
    const r = record(client, 'c1');
    const n = r.calls.length;
    const edited = await client.edit(m.id!, 'fixed');
    await settle();
    expect(edited).toMatchObject({ content: 'fixed', updatedSeq: 2 });
    // The guess, then the stored state (the live event and the ack bring the same one: no third call).
    expect(r.calls.slice(n).map((l) => [l[0]!.content, l[0]!.updatedSeq])).toEqual([
      ['fixed', 1],
      ['fixed', 2],
    ]);
    await client.close();
  });

  it('throttles typing to one event every 3 s while typing', async () => {
    const server = groupServer(0);
    const { client, clock } = await online(server);
    const typing = () => server.created[0]!.sent.filter((s) => s.event === 'chat:typing').map((s) => (s.payload as { isTyping: boolean }).isTyping);
    for (let i = 0; i < 10; i++) {
      client.setTyping('c1', true);
      await clock.advance(500);
    }
    client.setTyping('c1', false);
    client.setTyping('c1', false);
    await settle();
    expect(typing()).toEqual([true, true, false]);
    await client.close();
  });
});

describe('client: session', () => {
  it('refreshes once for concurrent callers when the access token is about to expire', async () => {
    const server = groupServer(0);
    const clock = new FakeClock();
    const { client } = await online(server, { clock, accessExp: Math.floor(clock.now() / 1000) + 30 });
    expect(server.refreshCount).toBe(1);
    server.checkTokens = true;
    await Promise.all([client.request('GET', '/api/conversations'), client.request('GET', '/api/conversations'), client.loadOlder('c1')]);
    expect(server.refreshCount).toBe(1);
    expect(client.tokens?.refreshToken).toBe(`${ME}:r1`);
    await client.close();
  });

  it('retries a REST call once after a 401, with one shared refresh', async () => {
    const server = groupServer(0);
    const { client } = await online(server);
    server.checkTokens = true;
    server.validTokens.clear();
    const results = await Promise.all([client.request('GET', '/api/conversations'), client.request('GET', '/api/conversations')]);
    expect(results).toHaveLength(2);
    expect(server.refreshCount).toBe(1);
    await client.close();
  });

  it('refreshes before expiry and presents the new token on the live socket', async () => {
    const server = groupServer(0);
    const clock = new FakeClock();
    const { client } = await online(server, { clock, accessExp: Math.floor(clock.now() / 1000) + 600 });
    await clock.advance(540_000 - 1000);
    expect(server.refreshCount).toBe(0);
    await clock.advance(2000);
    expect(server.refreshCount).toBe(1);
    const refresh = server.created[0]!.sent.find((s) => s.event === 'auth:refresh');
    expect(refresh?.payload).toEqual({ token: client.tokens!.accessToken });
    await client.close();
  });

  it('uses a token provider instead of its own session, asking it to refresh after a 401', async () => {
    const server = groupServer(0);
    const clock = new FakeClock();
    let n = 0;
    const calls: boolean[] = [];
    const client = createClient({
      url: 'http://fake',
      fetch: server.fetch,
      socketFactory: server.socketFactory,
      clock,
      storage: memoryStorage(),
      getToken: ({ forceRefresh }) => {
        calls.push(forceRefresh);
        if (forceRefresh || n === 0) n++;
        const token = fakeJwt(ME, Math.floor(clock.now() / 1000) + 900, `t${n}`);
        if (n > 1) server.validTokens.add(token);
        return token;
      },
    });
    await settle();
    await client.idle();
    expect(client.userId).toBe(ME);
    server.checkTokens = true; // the first token is not valid any more
    await client.request('GET', '/api/conversations');
    expect(calls).toContain(true);
    expect(server.refreshCount).toBe(0);
    await client.close();
  });

  it('ends the session when the refresh token is refused', async () => {
    const server = groupServer(0);
    const { client } = make(server);
    let expired = 0;
    client.on('sessionExpired', () => expired++);
    server.checkTokens = true;
    client.setSession({ accessToken: fakeJwt(ME, 1), refreshToken: 'revoked' });
    await settle();
    expect(expired).toBe(1);
    expect(client.connection.state).toBe('offline');
    expect(client.tokens).toBeNull();
    await client.close();
  });
});
