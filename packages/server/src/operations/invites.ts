import { randomBytes } from 'node:crypto';
import { ConfabError, type CreateInviteBody, type InstanceRole, type Invite, type InviteList } from '@confab/protocol';
import type { Context } from '../context.ts';
import { sha256 } from '../crypto/keyring.ts';
import { newId } from '../ids.ts';
import { sendInviteEmail } from '../mail/mailer.ts';
import { anyPersonExists } from '../storage/adminUsers.ts';
import type { Queryable } from '../storage/db.ts';
import { lockInstance } from '../storage/instance.ts';
import { findUser } from '../storage/users.ts';
import { findInvite, insertInvite, listLiveInvites, revokeInvite as revokeInviteRow, spendInvite, type InviteRow } from '../storage/invites.ts';
import { adminActor, instanceSettings, recordAudit, requireAdmin } from './instance.ts';
import { iso } from './users.ts';

// Who may register, and the invites that let them (API.md, "Instance roles, registration,
// invites"). docs/admin.md says it for people.

const DEFAULT_EXPIRY_HOURS = 7 * 24;

/** Where links to this server point: CONFAB_PUBLIC_URL, else the origin the request came to. */
export function publicOrigin(ctx: Context, requestOrigin: string): string {
  return (ctx.config.publicUrl ?? requestOrigin).replace(/\/+$/, '');
}

function toInvite(ctx: Context, row: InviteRow, origin: string): Invite {
  const token = ctx.keys.decrypt(row.token_enc);
  return {
    id: row.id,
    token,
    url: `${publicOrigin(ctx, origin)}/invite/${token}`,
    maxUses: row.max_uses,
    uses: row.uses,
    expiresAt: iso(row.expires_at),
    role: row.role,
    createdAt: iso(row.created_at)!,
    createdBy: row.created_by,
  };
}

/** POST /api/admin/invites (admins; an `admin` invite only from an owner). */
export async function createInvite(ctx: Context, actorId: string | null, body: CreateInviteBody, origin: string): Promise<Invite> {
  const actor = await adminActor(ctx, actorId);
  const role = body.role ?? 'user';
  if (role === 'admin' && actor.role !== 'owner') throw new ConfabError('FORBIDDEN', 'only an instance owner may invite admins');
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + (body.expiresInHours ?? DEFAULT_EXPIRY_HOURS) * 3_600_000);
  const row = await ctx.db.transaction(async (tx) => {
    const inserted = await insertInvite(tx, {
      id: newId(),
      tokenHash: sha256(token),
      tokenEnc: ctx.keys.encrypt(token),
      role,
      email: body.email ?? null,
      maxUses: body.maxUses ?? null,
      expiresAt,
      createdBy: actorId,
    });
    // Never the token: the audit log is read by every admin and kept for good.
    await recordAudit(tx, actorId, 'invite.create', { type: 'invite', id: inserted.id }, { role, maxUses: inserted.max_uses, expiresAt: iso(inserted.expires_at), ...(body.email && { email: body.email }) });
    return inserted;
  });
  const invite = toInvite(ctx, row, origin);
  // Where the server can send e-mail, the link also goes to the address given; in the background:
  // a slow mail server must not hold up the admin, and a failure is logged (the link is still shown).
  if (body.email && ctx.mail) {
    const inviter = actorId === null ? undefined : await findUser(ctx.db, actorId);
    const { name } = await instanceSettings(ctx);
    void sendInviteEmail(ctx, body.email, invite.url, inviter?.display_name ?? `The ${name} admins`, name);
  }
  return invite;
}

/** GET /api/admin/invites: every invite not revoked (spent and expired ones too), newest first. */
export async function listInvites(ctx: Context, actorId: string, origin: string): Promise<InviteList> {
  await requireAdmin(ctx, actorId);
  return { invites: (await listLiveInvites(ctx.db)).map((r) => toInvite(ctx, r, origin)) };
}

/** DELETE /api/admin/invites/:id: the invite's link stops working; revoking twice is harmless. */
export async function revokeInvite(ctx: Context, actorId: string, inviteId: string): Promise<void> {
  await requireAdmin(ctx, actorId);
  await ctx.db.transaction(async (tx) => {
    const revoked = await revokeInviteRow(tx, inviteId);
    if (revoked) {
      await recordAudit(tx, actorId, 'invite.revoke', { type: 'invite', id: inviteId }, { role: revoked.role, uses: revoked.uses });
    } else if (!(await findInvite(tx, inviteId))) {
      throw new ConfabError('NOT_FOUND', 'no such invite');
    }
  });
}

/**
 * Whether a new person may register now, and as what; to be called in the registration's
 * transaction. On an empty instance it serializes registrations (the first person becomes the
 * owner, exactly once); once anyone has an account the instance never becomes empty again
 * (accounts are never removed, only marked deleted), so later registrations take no lock and run
 * side by side. Spends the invite when one is given (in `open` mode too: its role applies); the spend is
 * undone if the registration fails later in the transaction. Returns the role and the spent
 * invite's id, for its audit entry once the user exists.
 */
export async function admitRegistration(ctx: Context, tx: Queryable, inviteToken: string | undefined): Promise<{ role: InstanceRole; inviteId?: string }> {
  if (!(await anyPersonExists(tx))) {
    await lockInstance(tx);
    if (!(await anyPersonExists(tx))) return { role: 'owner' };
  }
  const { registration } = await instanceSettings(ctx, tx);
  if (registration === 'closed') throw new ConfabError('FORBIDDEN', 'registration on this server is closed: ask an admin to create your account');
  if (inviteToken === undefined) {
    if (registration === 'invite') throw new ConfabError('FORBIDDEN', 'registration on this server is by invitation: ask an admin for an invite link');
    return { role: 'user' };
  }
  const invite = await spendInvite(tx, sha256(inviteToken));
  if (!invite) throw new ConfabError('FORBIDDEN', 'this invite link is not valid: it may have expired, been used up or been revoked; ask an admin for a new one');
  return { role: invite.role, inviteId: invite.id };
}

/** The audit entry of a registration through an invite, by the new user. */
export async function recordInviteUse(tx: Queryable, userId: string, inviteId: string, role: InstanceRole): Promise<void> {
  await recordAudit(tx, userId, 'invite.use', { type: 'invite', id: inviteId }, { role });
}
