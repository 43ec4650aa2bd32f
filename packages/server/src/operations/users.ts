import { ConfabError, LIMITS, type Me, type PublicUser, type Settings, type UpdateMeBody } from '@confab/protocol';
import type { Context } from '../context.ts';
import type { UserRow } from '../storage/rows.ts';
import { findSettings, findUser, replaceSettings, searchUsers as searchUserRows, updateProfile } from '../storage/users.ts';

export const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());

/**
 * A user as others see them. A user who hides when they were last seen (`show_last_seen` false)
 * shows `lastSeenAt: null` to everyone but `viewerId` themself. Rows without the column (member
 * lists) hid it in their query already.
 */
export function toPublicUser(
  row: Pick<UserRow, 'id' | 'handle' | 'display_name' | 'avatar_url' | 'is_bot' | 'last_seen_at'> & { show_last_seen?: boolean },
  viewerId?: string,
): PublicUser {
  return {
    id: row.id,
    handle: row.handle,
    displayName: row.display_name,
    avatarUrl: row.avatar_url,
    isBot: row.is_bot,
    lastSeenAt: row.show_last_seen === false && row.id !== viewerId ? null : iso(row.last_seen_at),
  };
}

export function toMe(row: UserRow): Me {
  return {
    ...toPublicUser(row, row.id),
    email: row.email ?? '',
    publicKey: row.public_key,
    createdAt: iso(row.created_at)!,
    role: row.role,
    totpEnabled: row.totp_enabled_at !== null,
  };
}

export async function getMe(ctx: Context, userId: string): Promise<Me> {
  const row = await findUser(ctx.db, userId);
  if (!row) throw new ConfabError('UNAUTHENTICATED', 'this account no longer exists');
  return toMe(row);
}

/** Any signed-in user may see any other's public profile: it is what people search to start chats. */
export async function getUser(ctx: Context, userId: string, viewerId?: string): Promise<PublicUser> {
  const row = await findUser(ctx.db, userId);
  if (!row) throw new ConfabError('NOT_FOUND', 'no such user');
  return toPublicUser(row, viewerId);
}

export async function searchUsers(ctx: Context, callerId: string, query: string, limit: number): Promise<PublicUser[]> {
  const rows = await searchUserRows(ctx.db, callerId, query, limit);
  return rows.map((r) => toPublicUser(r, callerId));
}

export async function updateMe(ctx: Context, userId: string, patch: UpdateMeBody): Promise<Me> {
  const row = await updateProfile(ctx.db, userId, patch);
  if (!row) throw new ConfabError('UNAUTHENTICATED', 'this account no longer exists');
  return toMe(row);
}

export async function getSettings(ctx: Context, userId: string): Promise<Settings> {
  return (await findSettings(ctx.db, userId)) ?? {};
}

export async function putSettings(ctx: Context, userId: string, settings: Settings): Promise<Settings> {
  const json = JSON.stringify(settings);
  if (Buffer.byteLength(json) > LIMITS.settingsBytes) {
    throw new ConfabError('PAYLOAD_TOO_LARGE', `settings must be at most ${LIMITS.settingsBytes} bytes`);
  }
  await replaceSettings(ctx.db, userId, json);
  return settings;
}
