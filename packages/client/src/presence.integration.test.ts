/**
 * Presence shown outside an open conversation (the sidebar's dots): the server only reports
 * changes, so a fresh client must ask for the current status of the users it shows (issue 18).
 */
import { describe, expect, it } from 'vitest';
import { registerUser } from '../../server/src/test/harness.ts';
import type { Presence } from './types.ts';
import { liveServer, until } from './test/live.ts';

const live = liveServer();
const sdk = live.sdk;

describe('watchPresence', () => {
  it('learns the status of users who were online before the client started, with no conversation open', async () => {
    const [alice, bob, carol] = [await registerUser(live.server, 'alice'), await registerUser(live.server, 'bob'), await registerUser(live.server, 'carol')];
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
