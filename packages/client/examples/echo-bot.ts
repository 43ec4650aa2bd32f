/**
 * A bot that answers every message in its conversations with "echo: <message>".
 *
 *   CONFAB_URL=http://localhost:3000 BOT_EMAIL=echo@example.com BOT_PASSWORD='…' \
 *     node --import tsx packages/client/examples/echo-bot.ts
 *
 * It registers itself on first run (handle "echo"), keeps its unsent replies in ./.echo-bot
 * (a restart sends them, exactly once), and reconnects by itself. Start a direct conversation
 * with it from the app, or add it to a group.
 */
import { pathToFileURL } from 'node:url';
import { ConfabError, createClient, fileStorage, type ConfabClient } from '@confab/client';

/** Wires the echo behaviour onto a signed-in client; returns a function that stops it. */
export function startEchoBot(client: ConfabClient): () => void {
  return client.on('message', (m) => {
    // Not our own messages (that would loop), not system lines, not deleted ones.
    if (m.authorId === client.userId || m.kind === 'system' || m.deletedAt || !m.content) return;
    client.send(m.conversationId, { content: `echo: ${m.content}`, replyToId: m.id });
  });
}

async function main() {
  const url = process.env.CONFAB_URL ?? 'http://localhost:3000';
  const email = process.env.BOT_EMAIL ?? 'echo-bot@example.com';
  const password = process.env.BOT_PASSWORD ?? 'echo bot password';
  const client = createClient({ url, storage: fileStorage(process.env.BOT_DATA ?? '.echo-bot') });
  try {
    await client.login({ email, password });
  } catch (error) {
    if (!(error instanceof ConfabError) || error.code !== 'UNAUTHENTICATED') throw error;
    await client.register({ email, password, handle: 'echo', displayName: 'Echo bot' });
  }
  client.connection.subscribe((state) => console.log(`[echo-bot] ${state}`));
  client.on('sessionExpired', () => {
    console.error('[echo-bot] session expired; exiting');
    void client.close().then(() => process.exit(1));
  });
  startEchoBot(client);
  console.log(`[echo-bot] signed in as ${client.user?.handle} on ${url}`);
  const stop = () => void client.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
