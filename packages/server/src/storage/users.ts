// Queries on users (issue #17, item 2: the query layer). The SQL moved here as it was from
// operations/users.ts, auth.ts, conversations.ts and realtime/presence.ts; those keep the rules (who
// may see whom, the settings limit, registration's conflicts, presence's announcements).
import type { InstanceRole, Settings } from '@confab/protocol';
import type { Queryable } from './db.ts';
import type { UserRow } from './rows.ts';

export async function findUser(db: Queryable, userId: string): Promise<UserRow | undefined> {
  const [row] = await db.query<UserRow>('SELECT * FROM users WHERE id = $1', [userId]);
  return row;
}

/** The person (never a bot) who signs in with this email, compared without case. */
export async function findUserByLoginEmail(db: Queryable, email: string): Promise<UserRow | undefined> {
  const [row] = await db.query<UserRow>('SELECT * FROM users WHERE lower(email) = lower($1) AND NOT is_bot', [email]);
  return row;
}

/** Users who already have this email or this handle, compared without case. */
export async function findUsersWithEmailOrHandle(db: Queryable, email: string, handle: string): Promise<Array<{ email: string | null; handle: string }>> {
  return db.query<{ email: string | null; handle: string }>('SELECT email, handle FROM users WHERE lower(email) = lower($1) OR lower(handle) = lower($2)', [email, handle]);
}

/** Inserts a person (instance role `user` unless given); undefined if a unique index (email, handle) refused them. */
export async function insertUser(
  db: Queryable,
  user: { id: string; email: string; handle: string; displayName: string; passwordHash: string | null; role?: InstanceRole },
): Promise<UserRow | undefined> {
  const [row] = await db.query<UserRow>(
    `INSERT INTO users (id, email, handle, display_name, password_hash, role) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT DO NOTHING RETURNING *`,
    [user.id, user.email, user.handle, user.displayName, user.passwordHash, user.role ?? 'user'],
  );
  return row;
}

/** `text` as a LIKE pattern that matches it literally. */
const likeLiteral = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * Active users other than `callerId` whose handle or display name contains `query` (without case),
 * those whose handle starts with it first. A user who is not discoverable is found only by people
 * who share a conversation with them; deactivated and deleted accounts are never found.
 */
export async function searchUsers(db: Queryable, callerId: string, query: string, limit: number): Promise<UserRow[]> {
  const pattern = `%${likeLiteral(query)}%`;
  const prefix = `${likeLiteral(query)}%`;
  return db.query<UserRow>(
    `SELECT * FROM users
      WHERE id <> $1 AND (handle ILIKE $2 OR display_name ILIKE $2) AND status = 'active'
        AND (discoverable OR EXISTS (SELECT 1 FROM conversation_members a JOIN conversation_members b ON b.conversation_id = a.conversation_id
                                      WHERE a.user_id = users.id AND b.user_id = $1))
      ORDER BY (handle ILIKE $3) DESC, lower(handle)
      LIMIT $4`,
    [callerId, pattern, prefix, limit],
  );
}

/** A profile change: an absent field stays as it is; a null avatar or key clears it. */
export interface ProfilePatch {
  displayName?: string | undefined;
  avatarUrl?: string | null | undefined;
  publicKey?: string | null | undefined;
}

/** Applies the patch; undefined if there is no such user. */
export async function updateProfile(db: Queryable, userId: string, patch: ProfilePatch): Promise<UserRow | undefined> {
  const [row] = await db.query<UserRow>(
    `UPDATE users SET
       display_name = COALESCE($2, display_name),
       avatar_url = CASE WHEN $3::boolean THEN $4 ELSE avatar_url END,
       public_key = CASE WHEN $5::boolean THEN $6 ELSE public_key END
     WHERE id = $1 RETURNING *`,
    [userId, patch.displayName ?? null, patch.avatarUrl !== undefined, patch.avatarUrl ?? null, patch.publicKey !== undefined, patch.publicKey ?? null],
  );
  return row;
}

/** The user's settings as stored; undefined if there is no such user. */
export async function findSettings(db: Queryable, userId: string): Promise<Settings | undefined> {
  const [row] = await db.query<{ settings: Settings }>('SELECT settings FROM users WHERE id = $1', [userId]);
  return row?.settings;
}

/** Replaces the user's settings with `json` (already serialized: the caller checked its size). */
export async function replaceSettings(db: Queryable, userId: string, json: string): Promise<void> {
  await db.query('UPDATE users SET settings = $2::jsonb WHERE id = $1', [userId, json]);
}

/**
 * Stamps the last_seen_at of these users with now, returning it with every conversation each user
 * is in (the rooms to tell), in one statement; ids of no user are absent. The rows are locked in id
 * order first, so two of these (on two nodes) never wait for each other in a cycle.
 */
export function stampLastSeen(db: Queryable, userIds: string[]): Promise<Array<{ id: string; last_seen_at: Date; show_last_seen: boolean; conversation_ids: string[] }>> {
  return db.query<{ id: string; last_seen_at: Date; show_last_seen: boolean; conversation_ids: string[] }>(
    `UPDATE users u SET last_seen_at = now()
       FROM (SELECT id FROM users WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE) locked
      WHERE u.id = locked.id
      RETURNING u.id, u.last_seen_at, u.show_last_seen, ARRAY(SELECT conversation_id FROM conversation_members WHERE user_id = u.id) AS conversation_ids`,
    [userIds],
    { prepare: true },
  );
}

// As the conversation operations read users: names for system messages, and whether ids name users and bots.

/** Display names by user id; ids of no user are absent. */
export async function findDisplayNames(db: Queryable, ids: string[]): Promise<Map<string, string>> {
  const rows = await db.query<{ id: string; display_name: string }>('SELECT id, display_name FROM users WHERE id = ANY($1::text[])', [ids]);
  return new Map(rows.map((r) => [r.id, r.display_name]));
}

/** The users of these ids that exist, with whether each is a bot. */
export function findUserKinds(db: Queryable, ids: string[]): Promise<{ id: string; is_bot: boolean }[]> {
  return db.query<{ id: string; is_bot: boolean }>('SELECT id, is_bot FROM users WHERE id = ANY($1::text[])', [ids]);
}

/** Whether the user is a bot; undefined if there is no such user. */
export async function findIsBot(db: Queryable, id: string): Promise<boolean | undefined> {
  const [user] = await db.query<{ is_bot: boolean }>('SELECT is_bot FROM users WHERE id = $1', [id]);
  return user?.is_bot;
}
