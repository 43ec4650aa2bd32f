/**
 * Prints a conversation live, the way a UI would render it from watchMessages, and sends what you type.
 *
 *   CONFAB_URL=http://localhost:3000 CONFAB_EMAIL=… CONFAB_PASSWORD=… \
 *     node --import tsx packages/client/examples/tail.ts [conversationId]
 *
 * Without a conversation id it lists your conversations and exits.
 */
import { createInterface } from 'node:readline';
import { createClient, type ChatMessage } from '@confab/client';

const client = createClient({ url: process.env.CONFAB_URL ?? 'http://localhost:3000' });
await client.login({ email: process.env.CONFAB_EMAIL ?? '', password: process.env.CONFAB_PASSWORD ?? '' });
await client.idle();

const conversationId = process.argv[2];
if (!conversationId) {
  const list = client.watchConversations((conversations) => {
    for (const c of conversations) console.log(`${c.id}  ${c.title ?? c.type}  (${c.unreadCount} unread)`);
  });
  list.unsubscribe();
  await client.close();
  process.exit(0);
}

const names = new Map(client.getConversation(conversationId)?.members.map((m) => [m.userId, m.user.displayName]) ?? []);
const printed = new Map<string, ChatMessage>();
const line = (m: ChatMessage) => {
  const who = names.get(m.authorId) ?? m.authorId;
  const state = m.sendState === 'pending' ? ' …' : m.sendState === 'failed' ? ` ✗ ${m.error?.message ?? ''}` : '';
  return `${m.seq ?? '?'}  ${who}: ${m.deletedAt ? '(deleted)' : m.content}${m.editedAt ? ' (edited)' : ''}${state}`;
};
// The callback gets the whole list each time; unchanged messages keep their identity, so
// "what changed" is a cheap identity check.
client.watchMessages(conversationId, (messages) => {
  for (const m of messages) {
    const key = m.clientId ?? m.id ?? '';
    if (printed.get(key) === m) continue;
    printed.set(key, m);
    console.log(line(m));
  }
});
client.connection.subscribe((state) => console.log(`-- ${state}`));

const rl = createInterface({ input: process.stdin });
rl.on('line', (text) => {
  client.setTyping(conversationId, false);
  if (text.trim()) client.send(conversationId, { content: text });
});
rl.on('close', () => void client.close().then(() => process.exit(0)));
