import { ConfabError, LIMITS, type Me, type PublicUser, type Settings, type UpdateMeBody } from '@confab/protocol';
import type { Context } from '../context.ts';
import type { Queryable } from '../storage/db.ts';

export interface UserRow {
  id: string;
  email: string | null;
  handle: string;
  display_name: string;
  avatar_url: string | null;
  public_key: string | null;
  is_bot: boolean;
  password_hash: string | null;
  created_at: Date;
  last_seen_at: Date | null;
}

export const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());

export function toPublicUser(row: Pick<UserRow, 'id' | 'handle' | 'display_name' | 'avatar_url' | 'is_bot' | 'last_seen_at'>): PublicUser {
  return {
    id: row.id,
    handle: row.handle,
    displayName: row.display_name,
    avatarUrl: row.avatar_url,
    isBot: row.is_bot,
    lastSeenAt: iso(row.last_seen_at),
  };
}

export function toMe(row: UserRow): Me {
  return { ...toPublicUser(row), email: row.email ?? '', publicKey: row.public_key, createdAt: iso(row.created_at)! };
}

export async function findUser(db: Queryable, userId: string): Promise<UserRow | undefined> {
  const [row] = await db.query<UserRow>('SELECT * FROM users WHERE id = $1', [userId]);
  return row;
}

export async function getMe(ctx: Context, userId: string): Promise<Me> {
  const row = await findUser(ctx.db, userId);
  if (!row) throw new ConfabError('UNAUTHENTICATED', 'this account no longer exists');
  return toMe(row);
}

/** Any signed-in user may see any other's public profile: it is what people search to start chats. */
export async function getUser(ctx: Context, userId: string): Promise<PublicUser> {
  const row = await findUser(ctx.db, userId);
  if (!row) throw new ConfabError('NOT_FOUND', 'no such user');
  return toPublicUser(row);
}

export async function searchUsers(ctx: Context, callerId: string, query: string, limit: number): Promise<PublicUser[]> {
  const pattern = `%${query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const prefix = `${query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const rows = await ctx.db.query<UserRow>(
    `SELECT * FROM users
      WHERE id <> $1 AND (handle ILIKE $2 OR display_name ILIKE $2)
      ORDER BY (handle ILIKE $3) DESC, lower(handle)
      LIMIT $4`,
    [callerId, pattern, prefix, limit],
  );
  return rows.map(toPublicUser);
}

export async function updateMe(ctx: Context, userId: string, patch: UpdateMeBody): Promise<Me> {
  const [row] = await ctx.db.query<UserRow>(
    `UPDATE users SET
       display_name = COALESCE($2, display_name),
       avatar_url = CASE WHEN $3::boolean THEN $4 ELSE avatar_url END,
       public_key = CASE WHEN $5::boolean THEN $6 ELSE public_key END
     WHERE id = $1 RETURNING *`,
    [userId, patch.displayName ?? null, patch.avatarUrl !== undefined, patch.avatarUrl ?? null, patch.publicKey !== undefined, patch.publicKey ?? null],
  );
  if (!row) throw new ConfabError('UNAUTHENTICATED', 'this account no longer exists');
  return toMe(row);
}

export async function getSettings(ctx: Context, userId: string): Promise<Settings> {
  const [row] = await ctx.db.query<{ settings: Settings }>('SELECT settings FROM users WHERE id = $1', [userId]);
  return row?.settings ?? {};
}

export async function putSettings(ctx: Context, userId: string, settings: Settings): Promise<Settings> {
  const json = JSON.stringify(settings);
  if (Buffer.byteLength(json) > LIMITS.settingsBytes) {
    throw new ConfabError('PAYLOAD_TOO_LARGE', `settings must be at most ${LIMITS.settingsBytes} bytes`);
  }
  await ctx.db.query('UPDATE users SET settings = $2::jsonb WHERE id = $1', [userId, json]);
  return settings;
}
