import { ConfabError, type AdminUser, type AdminUserList, type AdminUserQuery, type InstanceRole, type PatchAdminUserBody } from '@confab/protocol';
import { hashPassword } from '../auth/passwords.ts';
import type { Context } from '../context.ts';
import { newId } from '../ids.ts';
import { countActiveOwners, findUserByReference, listAdminUsers as listAdminUserRows, updateRoleAndStatus } from '../storage/adminUsers.ts';
import { lockInstance } from '../storage/instance.ts';
import type { UserRow } from '../storage/rows.ts';
import { findUser, findUsersWithEmailOrHandle, insertUser } from '../storage/users.ts';
import { endSessions } from './auth.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { adminActor, recordAudit } from './instance.ts';
import { iso } from './users.ts';

// Instance admins' view of the accounts, and the role and status rules (API.md, "Instance roles,
// registration, invites"; docs/admin.md).

export function toAdminUser(row: UserRow): AdminUser {
  return {
    id: row.id,
    handle: row.handle,
    displayName: row.display_name,
    email: row.email,
    role: row.role,
    status: row.status,
    isBot: row.is_bot,
    createdAt: iso(row.created_at)!,
    lastSeenAt: iso(row.last_seen_at),
  };
}

/** GET /api/admin/users: every account (bots, deactivated and deleted ones too), newest first. */
export async function listAdminUsers(ctx: Context, actorId: string | null, q: AdminUserQuery): Promise<AdminUserList> {
  await adminActor(ctx, actorId);
  const after = decodeCursor(q.cursor);
  if (after && Number.isNaN(Date.parse(after.key))) throw new ConfabError('VALIDATION_ERROR', 'cursor is not one this server gave out');
  const rows = await listAdminUserRows(ctx.db, q.query, after && { at: after.key, id: after.id }, q.limit + 1);
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return { users: page.map(toAdminUser), nextCursor: rows.length > q.limit && last ? encodeCursor(last.created_at_text, last.id) : null };
}

const isAdminRole = (role: string) => role === 'owner' || role === 'admin';

/**
 * PATCH /api/admin/users/:id. Only an owner changes roles (every change makes or unmakes an admin
 * or an owner) or the status of an admin or owner; an admin deactivates and reactivates plain
 * users. The last active owner stays one, and active: the check runs under the instance lock, so
 * two owners demoting each other at once cannot both pass. A deleted account is not changed.
 * Deactivating ends every session of the user (after the commit: see endSessions).
 */
export async function patchAdminUser(ctx: Context, actorId: string | null, targetId: string, body: PatchAdminUserBody): Promise<AdminUser> {
  const { updated, deactivated } = await ctx.db.transaction(async (tx) => {
    await lockInstance(tx);
    const actor = await adminActor(ctx, actorId, tx);
    const target = await findUser(tx, targetId);
    if (!target) throw new ConfabError('NOT_FOUND', 'no such user');
    if (target.status === 'deleted') throw new ConfabError('CONFLICT', 'this account is deleted and cannot be changed');
    const role = body.role !== undefined && body.role !== target.role ? body.role : undefined;
    const status = body.status !== undefined && body.status !== target.status ? body.status : undefined;
    if (role !== undefined) {
      if (actor.role !== 'owner') throw new ConfabError('FORBIDDEN', 'only an instance owner may make or unmake admins and owners');
      if (target.is_bot) throw new ConfabError('VALIDATION_ERROR', 'a bot cannot be an instance admin or owner');
    }
    if (status !== undefined && isAdminRole(target.role) && actor.role !== 'owner') {
      throw new ConfabError('FORBIDDEN', 'only an instance owner may deactivate or reactivate an admin or owner');
    }
    const losesOwner = target.role === 'owner' && target.status === 'active' && ((role !== undefined && role !== 'owner') || status === 'deactivated');
    if (losesOwner && (await countActiveOwners(tx)) <= 1) {
      throw new ConfabError('CONFLICT', 'this is the last active owner: make another owner first');
    }
    if (role === undefined && status === undefined) return { updated: target, deactivated: false };
    const row = (await updateRoleAndStatus(tx, targetId, { role, status }))!;
    const subject = { type: 'user', id: targetId };
    if (role !== undefined) await recordAudit(tx, actorId, 'user.role', subject, { before: target.role, after: role });
    if (status !== undefined) {
      await recordAudit(tx, actorId, status === 'deactivated' ? 'user.deactivate' : 'user.reactivate', subject, { before: target.status, after: status });
    }
    return { updated: row, deactivated: status === 'deactivated' };
  });
  if (deactivated) await endSessions(ctx, { userId: targetId });
  return toAdminUser(updated);
}

/**
 * Creates an account directly, with any role (the `confab` command; no invite needed). Without a
 * password the account cannot sign in until its person sets one through a reset link.
 */
export async function createAccount(
  ctx: Context,
  actorId: string | null,
  input: { email: string; handle: string; displayName: string; role: InstanceRole; password?: string | undefined },
): Promise<AdminUser> {
  const passwordHash = input.password === undefined ? null : await hashPassword(input.password, ctx.config.fastPasswordHashing);
  return ctx.db.transaction(async (tx) => {
    await lockInstance(tx);
    const actor = await adminActor(ctx, actorId, tx);
    if (input.role !== 'user' && actor.role !== 'owner') throw new ConfabError('FORBIDDEN', 'only an instance owner may make admins and owners');
    const taken = await findUsersWithEmailOrHandle(tx, input.email, input.handle);
    if (taken.some((u) => u.email?.toLowerCase() === input.email.toLowerCase())) throw new ConfabError('CONFLICT', 'this email is already registered');
    if (taken.length > 0) throw new ConfabError('CONFLICT', 'this handle is taken');
    const user = await insertUser(tx, { id: newId(), email: input.email, handle: input.handle, displayName: input.displayName, passwordHash, role: input.role });
    if (!user) throw new ConfabError('CONFLICT', 'this email or handle is taken');
    await recordAudit(tx, actor.id, 'user.create', { type: 'user', id: user.id }, { role: input.role, handle: input.handle });
    return toAdminUser(user);
  });
}

/** The account an operator names (id, handle or email); NOT_FOUND otherwise. */
export async function findAccount(ctx: Context, reference: string): Promise<AdminUser> {
  const row = await findUserByReference(ctx.db, reference);
  if (!row) throw new ConfabError('NOT_FOUND', `no account is called "${reference.slice(0, 100)}" (give an id, a handle or an email)`);
  return toAdminUser(row);
}
