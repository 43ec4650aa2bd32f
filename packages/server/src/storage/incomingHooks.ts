// Incoming webhooks (operations/incomingHooks.ts): a URL that posts into one conversation as a bot
// user of its own. The URL's token is kept only as its SHA-256 hash.
import type { Queryable } from './db.ts';

export interface IncomingHookRow {
  id: string;
  conversation_id: string;
  name: string;
  token_hash: string;
  author_id: string;
  created_by: string | null;
  created_at: Date | string;
}

/**
 * The hook's bot user: no e-mail, no password (it cannot sign in), not found by user search;
 * undefined if the handle was taken.
 */
export async function insertHookBot(tx: Queryable, bot: { id: string; handle: string; displayName: string; ownerId: string }): Promise<boolean> {
  const rows = await tx.query<{ id: string }>(
    `INSERT INTO users (id, email, handle, display_name, password_hash, is_bot, bot_owner_id, discoverable)
       VALUES ($1, NULL, $2, $3, NULL, true, $4, false) ON CONFLICT DO NOTHING RETURNING id`,
    [bot.id, bot.handle, bot.displayName, bot.ownerId],
  );
  return rows.length > 0;
}

export async function insertIncomingHook(
  tx: Queryable,
  hook: { id: string; conversationId: string; name: string; tokenHash: string; authorId: string; createdBy: string },
): Promise<IncomingHookRow> {
  const [row] = await tx.query<IncomingHookRow>(
    `INSERT INTO incoming_hooks (id, conversation_id, name, token_hash, author_id, created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
    [hook.id, hook.conversationId, hook.name, hook.tokenHash, hook.authorId, hook.createdBy],
  );
  return row!;
}

export async function findIncomingHook(db: Queryable, id: string): Promise<IncomingHookRow | undefined> {
  const [row] = await db.query<IncomingHookRow>('SELECT * FROM incoming_hooks WHERE id = $1', [id]);
  return row;
}

export function listIncomingHooks(db: Queryable, conversationId: string): Promise<IncomingHookRow[]> {
  return db.query<IncomingHookRow>('SELECT * FROM incoming_hooks WHERE conversation_id = $1 ORDER BY created_at DESC, id', [conversationId]);
}

/** Removes the hook (its URL stops working at once); the removed row, if there was one. */
export async function deleteIncomingHook(db: Queryable, conversationId: string, id: string): Promise<IncomingHookRow | undefined> {
  const [row] = await db.query<IncomingHookRow>('DELETE FROM incoming_hooks WHERE id = $1 AND conversation_id = $2 RETURNING *', [id, conversationId]);
  return row;
}

/** A removed hook's bot user stays (its messages keep their author) but is deactivated. */
export async function deactivateHookBot(db: Queryable, userId: string): Promise<void> {
  await db.query(`UPDATE users SET status = 'deactivated' WHERE id = $1 AND is_bot`, [userId]);
}

/** Undoes a hook whose bot could not join its conversation. */
export async function deleteHookAndBot(db: Queryable, hookId: string, userId: string): Promise<void> {
  await db.query('DELETE FROM incoming_hooks WHERE id = $1', [hookId]);
  await db.query('DELETE FROM users WHERE id = $1 AND is_bot', [userId]);
}
