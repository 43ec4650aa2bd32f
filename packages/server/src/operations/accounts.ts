import { randomBytes } from 'node:crypto';
import { ConfabError, type ChangePasswordBody, type PasswordResetBody, type PasswordResetLink, type SessionList } from '@confab/protocol';
import { hashPassword, verifyPassword } from '../auth/passwords.ts';
import type { Context } from '../context.ts';
import { sha256 } from '../crypto/keyring.ts';
import { sendPasswordResetEmail } from '../mail/mailer.ts';
import {
  anonymizeUser,
  conversationsWithMessagesBy,
  countOtherActiveOwners,
  deleteAttachmentsBy,
  deletePersonalData,
  dropPasswordResets,
  eraseMessagesBy,
  findMessagesById,
  insertPasswordReset,
  deletedHandle,
  listLiveSessions,
  lockUser,
  setPasswordHash,
  spendPasswordReset,
  threadRepliesRemoved,
} from '../storage/accounts.ts';
import type { Queryable } from '../storage/db.ts';
import { lockInstance } from '../storage/instance.ts';
import { deleteSharesWithAuthor } from '../storage/shares.ts';
import { findUser, findUserByLoginEmail } from '../storage/users.ts';
import { endSessions } from './auth.ts';
import { endBotsOf } from './bots.ts';
import { instanceSettings, recordAudit, requireAdmin } from './instance.ts';
import { hydrateMessages, nextSeq } from './messages.ts';
import { iso } from './users.ts';

// A user's own account (API.md, "Accounts"): the password, reset links, signed-in sessions, and
// deleting the account. The export is in exportData.ts.

/** How long a password reset link works. */
export const PASSWORD_RESET_TTL_MS = 24 * 60 * 60 * 1000;

/** The user, if they are an active person (not a bot, not deactivated or deleted). */
async function activePerson(ctx: Context, userId: string) {
  const user = await findUser(ctx.db, userId);
  if (!user || user.status !== 'active' || user.is_bot) throw new ConfabError('UNAUTHENTICATED', 'this account is not active');
  return user;
}

/** Checks the caller's password, counted like a login (lockouts after repeated failures); FORBIDDEN when wrong. */
async function checkPassword(ctx: Context, user: { id: string; password_hash: string | null }, password: string, ip: string): Promise<void> {
  const hash = user.password_hash;
  const ok = hash !== null && (await ctx.limits.guardLogin(`user:${user.id}`, ip, () => verifyPassword(hash, password)));
  // Not UNAUTHENTICATED: the session is fine, and clients answer a 401 by refreshing or signing out.
  if (!ok) throw new ConfabError('FORBIDDEN', 'the current password is wrong');
}

// ---- sessions ----

export async function listSessions(ctx: Context, userId: string, currentSessionId: string): Promise<SessionList> {
  const rows = await listLiveSessions(ctx.db, userId);
  return {
    sessions: rows.map((r) => ({ id: r.id, current: r.id === currentSessionId, createdAt: iso(r.created_at)!, lastUsedAt: iso(r.last_used_at)!, userAgent: r.user_agent, ip: r.ip })),
  };
}

/** Ends one of the caller's own live sessions (NOT_FOUND for anyone else's, or one already ended). */
export async function endSession(ctx: Context, userId: string, sessionId: string): Promise<void> {
  const ended = await endSessions(ctx, { userId, sessionIds: [sessionId] });
  if (ended.length === 0) throw new ConfabError('NOT_FOUND', 'no such session');
}

export async function endOtherSessions(ctx: Context, userId: string, currentSessionId: string): Promise<void> {
  await endSessions(ctx, { userId, exceptSessionId: currentSessionId });
}

// ---- passwords ----

/** The caller changes their password; every other session of theirs ends, this one stays. */
export async function changePassword(ctx: Context, userId: string, currentSessionId: string, body: ChangePasswordBody, ip: string): Promise<void> {
  const user = await activePerson(ctx, userId);
  await checkPassword(ctx, user, body.currentPassword, ip);
  const hash = await hashPassword(body.newPassword, ctx.config.fastPasswordHashing);
  await ctx.db.transaction(async (tx) => {
    await setPasswordHash(tx, userId, hash);
    await dropPasswordResets(tx, userId);
  });
  await endSessions(ctx, { userId, exceptSessionId: currentSessionId });
}

/**
 * A one-time link to choose a new password, valid 24 hours. `actorId`: the admin who asked for it
 * (checked here), or null for the command line. Audited as `user.password_reset_link`.
 */
export async function createPasswordResetLink(ctx: Context, userId: string, origin: string, actorId: string | null): Promise<PasswordResetLink> {
  if (actorId !== null) await requireAdmin(ctx, actorId);
  const user = await findUser(ctx.db, userId);
  if (!user || user.status === 'deleted' || user.is_bot) throw new ConfabError('NOT_FOUND', 'no such user');
  const link = newResetLink(ctx, origin);
  await ctx.db.transaction(async (tx) => {
    await insertPasswordReset(tx, { tokenHash: sha256(link.token), userId, createdBy: actorId, expiresAt: new Date(link.expiresAt) });
    await recordAudit(tx, actorId, 'user.password_reset_link', { type: 'user', id: userId }, { expiresAt: link.expiresAt });
  });
  return link;
}

function newResetLink(ctx: Context, origin: string): PasswordResetLink {
  const token = randomBytes(32).toString('base64url');
  const base = (ctx.config.publicUrl ?? origin).replace(/\/+$/, '');
  return { token, url: `${base}/reset-password/${token}`, expiresAt: new Date(Date.now() + PASSWORD_RESET_TTL_MS).toISOString() };
}

/** Spends a reset link (once) and sets the new password; every session of the user ends. */
export async function resetPassword(ctx: Context, body: PasswordResetBody, ip: string): Promise<void> {
  await ctx.limits.consume('passwordResetPerIp', ip);
  const hash = await hashPassword(body.newPassword, ctx.config.fastPasswordHashing);
  const userId = await ctx.db.transaction(async (tx) => {
    const spent = await spendPasswordReset(tx, sha256(body.token));
    if (!spent) return undefined;
    await setPasswordHash(tx, spent.user_id, hash);
    await dropPasswordResets(tx, spent.user_id);
    return spent.user_id;
  });
  // Not 401: nobody is signed in here, and a client's answer to 401 is to refresh a session.
  if (!userId) throw new ConfabError('VALIDATION_ERROR', 'this reset link is invalid or has expired');
  await endSessions(ctx, { userId });
}

/**
 * Somebody asks for a reset link by e-mail. Always succeeds, whether the account exists or not;
 * where SMTP is configured and an active person has this address, the link goes to it, in the
 * background (the answer's timing does not tell either).
 */
export async function requestPasswordReset(ctx: Context, email: string, origin: string, ip: string): Promise<void> {
  await ctx.limits.consume('passwordResetPerIp', ip);
  if (!ctx.mail) return;
  const work = async () => {
    const user = await findUserByLoginEmail(ctx.db, email);
    if (!user || user.status !== 'active' || user.is_bot || !user.email) return;
    try {
      await ctx.limits.consume('passwordResetPerAccount', user.id);
    } catch {
      return;
    }
    const link = newResetLink(ctx, origin);
    await insertPasswordReset(ctx.db, { tokenHash: sha256(link.token), userId: user.id, createdBy: null, expiresAt: new Date(link.expiresAt) });
    const settings = await instanceSettings(ctx);
    await sendPasswordResetEmail(ctx, user.email, link.url, settings.name);
  };
  void work().catch((error: unknown) => ctx.log.warn({ event: 'password_reset_mail_failed', err: { message: (error as Error).message } }, 'a password reset e-mail could not be prepared'));
}

// ---- deleting an account ----

/** DELETE /api/users/me: the caller confirms with their password. */
export async function deleteOwnAccount(ctx: Context, userId: string, password: string, ip: string): Promise<void> {
  const user = await activePerson(ctx, userId);
  await checkPassword(ctx, user, password, ip);
  await deleteAccount(ctx, userId, userId);
}

/** DELETE /api/admin/users/:id: admins; only an owner deletes an owner. Audited as `user.delete`. */
export async function deleteUserAsAdmin(ctx: Context, actorId: string, userId: string): Promise<void> {
  const actor = await requireAdmin(ctx, actorId);
  const target = await findUser(ctx.db, userId);
  if (!target || target.status === 'deleted' || target.is_bot) throw new ConfabError('NOT_FOUND', 'no such user');
  if (target.role === 'owner' && actor.role !== 'owner') throw new ConfabError('FORBIDDEN', 'only an instance owner may delete an owner');
  await deleteAccount(ctx, userId, actorId);
}

/**
 * THE account deletion (the user's own, an admin's, the command line's), in one transaction: the
 * profile becomes "Deleted user" (no e-mail, password, second factor, avatar, key; privacy and
 * settings reset), provider keys and push subscriptions go, every message the user wrote is erased
 * to a tombstone that keeps its seq (as a deleted message is: members' clients get the change live
 * and through `sync`), and every file they uploaded is queued for deletion. Memberships stay, so
 * conversations stay whole for the others (a direct conversation stays readable for the other
 * person). The last active owner cannot be deleted (CONFLICT). After commit, every session ends.
 * Audited as `user.delete` by `actorId` (the user themselves, an admin, or null: the command line).
 */
export async function deleteAccount(ctx: Context, userId: string, actorId: string | null): Promise<void> {
  const erasedIds = await ctx.db.transaction(async (tx) => {
    await lockInstance(tx);
    const user = await lockUser(tx, userId);
    if (!user || user.status === 'deleted' || user.is_bot) throw new ConfabError('NOT_FOUND', 'no such user');
    if (user.role === 'owner' && (await countOtherActiveOwners(tx, userId)) === 0) {
      throw new ConfabError('CONFLICT', 'the last owner of the instance cannot be deleted; make somebody else an owner first');
    }
    await anonymizeUser(tx, userId, await deletedHandle(tx, userId));
    await deletePersonalData(tx, userId);
    const erased = await eraseMessages(tx, userId);
    // Shared snapshots hold copies of messages: those holding the user's go too (docs/ai.md).
    await deleteSharesWithAuthor(tx, userId);
    await deleteAttachmentsBy(tx, userId);
    await recordAudit(tx, actorId, 'user.delete', { type: 'user', id: userId }, { messagesErased: erased.length });
    return erased;
  });
  await endSessions(ctx, { userId });
  await endBotsOf(ctx, userId);
  ctx.jobs.kick();
  // Members see the tombstones live; clients that are away get them through sync (updated_seq).
  for (let i = 0; i < erasedIds.length; i += 500) {
    const rows = await findMessagesById(ctx.db, erasedIds.slice(i, i + 500));
    for (const message of await hydrateMessages(ctx, ctx.db, rows)) ctx.bus.publish({ type: 'message_changed', message });
  }
}

/** Erases the user's messages conversation by conversation; returns the ids of the messages changed (thread roots included). */
async function eraseMessages(tx: Queryable, userId: string): Promise<string[]> {
  const changed: string[] = [];
  for (const conversationId of await conversationsWithMessagesBy(tx, userId)) {
    const erased = await eraseMessagesBy(tx, conversationId, userId);
    changed.push(...erased.map((m) => m.id));
    // A root that lost replies changes too, with the next seq (as deleteMessage does for one).
    const lost = new Map<string, number>();
    for (const m of erased) if (m.thread_root_id) lost.set(m.thread_root_id, (lost.get(m.thread_root_id) ?? 0) + 1);
    for (const [rootId, count] of lost) {
      await threadRepliesRemoved(tx, rootId, count, await nextSeq(tx, conversationId, false));
      changed.push(rootId);
    }
  }
  return [...new Set(changed)];
}
