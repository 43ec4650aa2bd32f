import { randomBytes } from 'node:crypto';
import { ConfabError, type BotList, type BotWithToken, type CreateBotBody } from '@confab/protocol';
import type { Context } from '../context.ts';
import { sha256 } from '../crypto/keyring.ts';
import { newId } from '../ids.ts';
import { deletedHandle, isHandleTaken } from '../storage/accounts.ts';
import { findBotsOf, insertBot, insertBotToken, lockBot, markBotDeleted, revokeBotTokens } from '../storage/bots.ts';
import type { Queryable } from '../storage/db.ts';
import type { UserRow } from '../storage/rows.ts';
import { insertSession } from '../storage/sessions.ts';
import { findUser } from '../storage/users.ts';
import { BOT_TOKEN_PREFIX, endSessions, type ClientInfo } from './auth.ts';
import { recordAudit } from './instance.ts';
import { toPublicUser } from './users.ts';

// Bots (API.md, "Building on Confab"): users that belong to a person and sign in with a token
// that does not expire. Each token belongs to a session of the bot, so revoking one is ending a
// session (endSessions): REST refuses it at once, live sockets close on every node within 2 s.
// The built-in assistant (ai/assistant.ts) is a bot without an owner and is none of this.

/** A person who may own bots: signed in, active, not a bot. */
async function requirePerson(ctx: Context, userId: string): Promise<UserRow> {
  const user = await findUser(ctx.db, userId);
  if (!user || user.status !== 'active') throw new ConfabError('UNAUTHENTICATED', 'this account is not active');
  if (user.is_bot) throw new ConfabError('FORBIDDEN', 'a bot cannot manage bots');
  return user;
}

/**
 * The bot, locked, if the caller may manage it: its owner, or an instance admin. Anyone else
 * learns nothing of it (NOT_FOUND, as for an id that names no bot).
 */
async function lockManagedBot(tx: Queryable, caller: UserRow, botId: string): Promise<UserRow> {
  const bot = await lockBot(tx, botId);
  const admin = caller.role === 'owner' || caller.role === 'admin';
  if (!bot || (bot.bot_owner_id !== caller.id && !admin)) throw new ConfabError('NOT_FOUND', 'no such bot');
  return bot;
}

/** A fresh token (shown once), stored as its hash in a new session of the bot. */
async function issueBotToken(tx: Queryable, botId: string, client: ClientInfo): Promise<string> {
  const token = `${BOT_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  const sessionId = newId();
  await insertSession(tx, sessionId, botId, { userAgent: 'bot token', ip: client.ip });
  await insertBotToken(tx, sha256(token), botId, sessionId);
  return token;
}

/** POST /api/bots: a bot owned by the caller, and its first token. */
export async function createBot(ctx: Context, callerId: string, body: CreateBotBody, client: ClientInfo): Promise<BotWithToken> {
  await requirePerson(ctx, callerId);
  await ctx.limits.consume('botsCreatedPerUser', callerId);
  return ctx.db.transaction(async (tx) => {
    if (await isHandleTaken(tx, body.handle)) throw new ConfabError('CONFLICT', 'this handle is taken');
    const bot = await insertBot(tx, { id: newId(), handle: body.handle, displayName: body.displayName, ownerId: callerId });
    if (!bot) throw new ConfabError('CONFLICT', 'this handle is taken');
    const token = await issueBotToken(tx, bot.id, client);
    await recordAudit(tx, callerId, 'bot.create', { type: 'user', id: bot.id }, { handle: bot.handle });
    return { bot: toPublicUser(bot, callerId), token };
  });
}

/** GET /api/bots: the caller's bots. */
export async function listBots(ctx: Context, callerId: string): Promise<BotList> {
  await requirePerson(ctx, callerId);
  const rows = await findBotsOf(ctx.db, callerId);
  return { bots: rows.map((r) => toPublicUser(r, callerId)) };
}

/**
 * POST /api/bots/:id/token: a new token; the old ones stop working at once on REST, and their
 * sockets are disconnected on every node (endSessions, after the commit).
 */
export async function rotateBotToken(ctx: Context, callerId: string, botId: string, client: ClientInfo): Promise<BotWithToken> {
  const caller = await requirePerson(ctx, callerId);
  const { bot, token, ended } = await ctx.db.transaction(async (tx) => {
    const bot = await lockManagedBot(tx, caller, botId);
    const ended = await revokeBotTokens(tx, bot.id);
    const token = await issueBotToken(tx, bot.id, client);
    await recordAudit(tx, callerId, 'bot.token_rotate', { type: 'user', id: bot.id }, { ownerId: bot.bot_owner_id });
    return { bot, token, ended };
  });
  if (ended.length > 0) await endSessions(ctx, { userId: bot.id, sessionIds: ended });
  return { bot: toPublicUser(bot, callerId), token };
}

/**
 * DELETE /api/bots/:id: the bot's tokens and sessions end, and it is marked deleted. It keeps its
 * display name (conversations keep its messages, and readers still see who wrote them) and
 * leaves its handle to be taken again (`deleted-<id>`).
 */
export async function deleteBot(ctx: Context, callerId: string, botId: string): Promise<void> {
  const caller = await requirePerson(ctx, callerId);
  await ctx.db.transaction(async (tx) => {
    const bot = await lockManagedBot(tx, caller, botId);
    await revokeBotTokens(tx, bot.id);
    await markBotDeleted(tx, bot.id, await deletedHandle(tx, bot.id));
    await recordAudit(tx, callerId, 'bot.delete', { type: 'user', id: bot.id }, { handle: bot.handle, ownerId: bot.bot_owner_id });
  });
  await endSessions(ctx, { userId: botId });
}

/**
 * Signs out every bot of a person whose account is deactivated or deleted (operations/admin.ts,
 * operations/accounts.ts call it after their own endSessions): the bots' sessions end, so their
 * tokens are refused and their sockets close on every node. After a reactivation the owner
 * rotates a bot's token to use it again.
 */
export async function endBotsOf(ctx: Context, ownerId: string): Promise<void> {
  for (const bot of await findBotsOf(ctx.db, ownerId)) await endSessions(ctx, { userId: bot.id });
}
