// Bots (issue 21): users with is_bot and an owner (users.bot_owner_id), and their tokens
// (bot_tokens, each tied to a session). The rules live in operations/bots.ts; a bot token is
// recognised in operations/auth.ts.
import type { UserRow } from './rows.ts';
import type { Queryable } from './db.ts';
import { sessionIsLive } from './sessions.ts';

/** A new bot: no e-mail, no password; it belongs to `ownerId`. Undefined when the handle is taken. */
export async function insertBot(db: Queryable, bot: { id: string; handle: string; displayName: string; ownerId: string }): Promise<UserRow | undefined> {
  const [row] = await db.query<UserRow>(
    `INSERT INTO users (id, email, handle, display_name, password_hash, is_bot, bot_owner_id) VALUES ($1, NULL, $2, $3, NULL, true, $4)
       ON CONFLICT DO NOTHING RETURNING *`,
    [bot.id, bot.handle, bot.displayName, bot.ownerId],
  );
  return row;
}

/** A bot that is not deleted, locked until the transaction ends. Undefined when there is none (or `id` is no bot's). */
export async function lockBot(db: Queryable, id: string): Promise<UserRow | undefined> {
  const [row] = await db.query<UserRow>(`SELECT * FROM users WHERE id = $1 AND is_bot AND bot_owner_id IS NOT NULL AND status <> 'deleted' FOR UPDATE`, [id]);
  return row;
}

/** The bots `ownerId` owns and has not deleted, oldest first. */
export function findBotsOf(db: Queryable, ownerId: string): Promise<UserRow[]> {
  return db.query<UserRow>(`SELECT * FROM users WHERE bot_owner_id = $1 AND is_bot AND status <> 'deleted' ORDER BY created_at, id`, [ownerId]);
}

export async function insertBotToken(db: Queryable, tokenHash: string, botId: string, sessionId: string): Promise<void> {
  await db.query('INSERT INTO bot_tokens (token_hash, bot_id, session_id) VALUES ($1, $2, $3)', [tokenHash, botId, sessionId]);
}

/** Revokes every live token of the bot; returns the sessions they belonged to (to end them). */
export async function revokeBotTokens(db: Queryable, botId: string): Promise<string[]> {
  const rows = await db.query<{ session_id: string }>('UPDATE bot_tokens SET revoked_at = now() WHERE bot_id = $1 AND revoked_at IS NULL RETURNING session_id', [botId]);
  return rows.map((r) => r.session_id);
}

/** Marks the bot deleted (its messages and memberships stay; its handle is freed for reuse). */
export async function markBotDeleted(db: Queryable, botId: string, handle: string): Promise<void> {
  await db.query(`UPDATE users SET status = 'deleted', deleted_at = now(), handle = $2 WHERE id = $1`, [botId, handle]);
}

/**
 * The bot and session of a token that works: not revoked, its session live, the bot active, and
 * its owner too (a deactivated or deleted person's bots stop with them). Checked on every request
 * made with a bot token (as a JWT's session is) and on every socket handshake with one.
 */
export async function findLiveBotToken(db: Queryable, tokenHash: string): Promise<{ user_id: string; session_id: string } | undefined> {
  const [row] = await db.query<{ user_id: string; session_id: string }>(
    `SELECT t.bot_id AS user_id, t.session_id
       FROM bot_tokens t
       JOIN sessions s ON s.id = t.session_id AND s.user_id = t.bot_id AND ${sessionIsLive('s')}
       JOIN users u ON u.id = t.bot_id AND u.status = 'active'
       JOIN users o ON o.id = u.bot_owner_id AND o.status = 'active'
      WHERE t.token_hash = $1 AND t.revoked_at IS NULL`,
    [tokenHash],
    { prepare: true },
  );
  return row;
}

/** Whether `id` names a person's bot (not the built-in assistant or another kind of bot user). */
export async function isOwnedBot(db: Queryable, id: string): Promise<boolean> {
  const rows = await db.query(`SELECT 1 FROM users WHERE id = $1 AND is_bot AND bot_owner_id IS NOT NULL AND status = 'active'`, [id]);
  return rows.length > 0;
}
