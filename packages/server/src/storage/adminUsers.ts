// Queries on users as instance admins see them: every account (bots, deactivated and deleted ones
// too), their role and status, and the facts the role rules need.
import type { Queryable } from './db.ts';
import type { UserRow } from './rows.ts';

/** `text` as a LIKE pattern that matches it literally. */
const likeLiteral = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

export type AdminUserRow = UserRow & { created_at_text: string };

/**
 * Accounts whose handle, display name or email contains `query` (without case; all for ''),
 * newest first, after the cursor's (created_at, id) when given.
 */
export function listAdminUsers(db: Queryable, query: string, after: { at: string; id: string } | undefined, limit: number): Promise<AdminUserRow[]> {
  return db.query<AdminUserRow>(
    `SELECT *, created_at::text AS created_at_text FROM users
      WHERE ($1 = '' OR handle ILIKE $2 OR display_name ILIKE $2 OR email ILIKE $2)
        AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::text))
      ORDER BY created_at DESC, id DESC LIMIT $5`,
    [query, `%${likeLiteral(query)}%`, after?.at ?? null, after?.id ?? null, limit],
  );
}

/** Whether any person (not a bot) has an account, in any state. */
export async function anyPersonExists(db: Queryable): Promise<boolean> {
  const [row] = await db.query<{ exists: boolean }>('SELECT EXISTS (SELECT 1 FROM users WHERE NOT is_bot) AS exists');
  return row?.exists === true;
}

/** How many active owners the instance has. */
export async function countActiveOwners(db: Queryable): Promise<number> {
  const [row] = await db.query<{ n: number | string }>(`SELECT count(*) AS n FROM users WHERE role = 'owner' AND status = 'active' AND NOT is_bot`);
  return Number(row?.n ?? 0);
}

/** Sets the role and status given (an absent one stays); undefined if there is no such user. */
export async function updateRoleAndStatus(db: Queryable, userId: string, change: { role?: string | undefined; status?: string | undefined }): Promise<UserRow | undefined> {
  const [row] = await db.query<UserRow>('UPDATE users SET role = COALESCE($2, role), status = COALESCE($3, status) WHERE id = $1 RETURNING *', [
    userId,
    change.role ?? null,
    change.status ?? null,
  ]);
  return row;
}

/** The account an operator names on the command line: by id, handle (with or without @) or email, without case. */
export async function findUserByReference(db: Queryable, reference: string): Promise<UserRow | undefined> {
  const [row] = await db.query<UserRow>(
    `SELECT * FROM users WHERE id = $1 OR lower(handle) = lower($2) OR lower(email) = lower($1)
      ORDER BY (id = $1) DESC LIMIT 1`,
    [reference, reference.replace(/^@/, '')],
  );
  return row;
}
