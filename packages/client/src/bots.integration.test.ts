/**
 * A bot in a few lines with the SDK, against a real Confab server: created with `api.createBot`,
 * connected with its token alone (`createClient({ url, token })`, nothing to refresh), it hears a
 * message sent to it and answers. The bot's code is the example of docs/platform.md ("Bots").
 */
import { afterAll, describe, expect, it } from 'vitest';
import { registerUser } from '../../server/src/test/harness.ts';
import { createClient, type ConfabClient } from './client.ts';
import { memoryStorage } from './storage/memory.ts';
import { liveServer, until } from './test/live.ts';

const live = liveServer();
const bots: ConfabClient[] = [];
afterAll(() => Promise.all(bots.map((c) => c.close())));

describe('a bot with the SDK', () => {
  it('connects with its token, receives a message and answers it', async () => {
    const alice = await registerUser(live.server, 'alice');
    const person = live.sdk(alice);
    const { bot: profile, token } = await person.api.createBot({ handle: `echo_${Date.now()}`, displayName: 'Echo' });
    expect((await person.api.listBots()).bots.map((b) => b.id)).toEqual([profile.id]);

    // ---- the bot (docs/platform.md) ----
    const bot = createClient({ url: live.server.url, token, storage: memoryStorage() });
    bot.on('message', (m) => {
      if (m.authorId === bot.userId || m.kind === 'system') return; // not its own, nor system notes
      bot.send(m.conversationId, { content: `echo: ${m.content}` });
    });
    // ---- end of the bot ----
    bots.push(bot);
    await until('the bot is connected', () => bot.connection.state === 'online');
    expect(bot.userId).toBe(profile.id);
    expect(bot.user?.isBot).toBe(true);

    const conversation = await person.createDirect(profile.id);
    const answers: string[] = [];
    person.on('message', (m) => {
      if (m.authorId === profile.id) answers.push(m.content);
    });
    person.send(conversation.id, { content: 'hello' });
    await until('the bot answers', () => answers.includes('echo: hello'));
  });
});
