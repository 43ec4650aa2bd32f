/**
 * The SDK's consent and privacy calls (blocks, privacy settings, reports) once end to end against a
 * real server. Kept apart from api.integration.test.ts so the sections of issue 20 merge cleanly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../../server/src/test/harness.ts';
import { createClient, type ConfabClient } from './client.ts';
import { refused } from './test/live.ts';

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
  const client = createClient({ url: server.url, autoConnect: false });
  clients.push(client);
  client.setSession({ accessToken: user.accessToken, refreshToken: user.refreshToken });
  return client;
}

describe('client.api: consent and privacy', () => {
  it('blocks, privacy settings and reports', async () => {
    const owner = await registerUser(server, 'owner');
    await server.ctx.db.query(`UPDATE users SET role = 'owner' WHERE id = $1`, [owner.id]);
    const alice = await registerUser(server, 'alice');
    const bob = await registerUser(server, 'bob');
    const [o, a, b] = [sdk(owner), sdk(alice), sdk(bob)];

    await a.api.blockUser(bob.id);
    expect((await a.api.listBlocks()).blocks.map((x) => x.id)).toEqual([bob.id]);
    expect(await refused(b.api.createDirect(alice.id))).toBe('FORBIDDEN');
    await a.api.unblockUser(bob.id);
    expect((await a.api.listBlocks()).blocks).toEqual([]);

    const privacy = { discoverable: false, showLastSeen: false, directMessagesFrom: 'shared' as const };
    expect(await a.api.putPrivacy(privacy)).toEqual(privacy);
    expect(await a.api.getPrivacy()).toEqual(privacy);

    const group = await a.api.createGroup({ title: 'g', participantIds: [bob.id] });
    const message = await b.api.sendMessage({ conversationId: group.id, content: 'rude', clientId: 'r1' });
    const report = await a.api.reportMessage(message.id, 'rude');
    expect(report).toMatchObject({ messageId: message.id, status: 'open' });
    const listed = await o.api.listReports({ status: 'open' });
    expect(listed.reports.map((r) => [r.id, r.message?.content])).toEqual([[report.id, 'rude']]);
    expect((await o.api.closeReport(report.id, 'dismissed')).status).toBe('dismissed');
  });
});
