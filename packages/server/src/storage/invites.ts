// Queries on invites. A token is looked up by its hash; the encrypted copy is only for showing the
// link to admins again.
import type { Queryable } from './db.ts';

export interface InviteRow {
  id: string;
  token_hash: string;
  token_enc: string;
  role: 'admin' | 'user';
  email: string | null;
  max_uses: number | null;
  uses: number;
  expires_at: Date | null;
  revoked_at: Date | null;
  created_by: string | null;
  created_at: Date;
}

export async function insertInvite(
  db: Queryable,
  invite: { id: string; tokenHash: string; tokenEnc: string; role: 'admin' | 'user'; email: string | null; maxUses: number | null; expiresAt: Date; createdBy: string | null },
): Promise<InviteRow> {
  const [row] = await db.query<InviteRow>(
    `INSERT INTO invites (id, token_hash, token_enc, role, email, max_uses, expires_at, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
    [invite.id, invite.tokenHash, invite.tokenEnc, invite.role, invite.email, invite.maxUses, invite.expiresAt, invite.createdBy],
  );
  return row!;
}

/** Every invite not revoked (spent and expired ones too), newest first. */
export function listLiveInvites(db: Queryable): Promise<InviteRow[]> {
  return db.query<InviteRow>('SELECT * FROM invites WHERE revoked_at IS NULL ORDER BY created_at DESC, id DESC');
}

export async function findInvite(db: Queryable, id: string): Promise<InviteRow | undefined> {
  const [row] = await db.query<InviteRow>('SELECT * FROM invites WHERE id = $1', [id]);
  return row;
}

/** Revokes the invite; undefined if there is no such invite or it was revoked already. */
export async function revokeInvite(db: Queryable, id: string): Promise<InviteRow | undefined> {
  const [row] = await db.query<InviteRow>('UPDATE invites SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING *', [id]);
  return row;
}

/**
 * Spends one use of the invite with this token hash, in one statement (two registrations racing
 * for the last use cannot both get it); undefined if it is unknown, revoked, expired or used up.
 */
export async function spendInvite(db: Queryable, tokenHash: string): Promise<InviteRow | undefined> {
  const [row] = await db.query<InviteRow>(
    `UPDATE invites SET uses = uses + 1
      WHERE token_hash = $1 AND revoked_at IS NULL
        AND (max_uses IS NULL OR uses < max_uses)
        AND (expires_at IS NULL OR expires_at > now())
      RETURNING *`,
    [tokenHash],
  );
  return row;
}
