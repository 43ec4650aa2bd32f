import { randomBytes } from 'node:crypto';
import { ConfabError, type CreatePlatformKeyBody, type CreatedPlatformKey, type PlatformKey, type PlatformKeyList, type PlatformKeyScope } from '@confab/protocol';
import type { Context } from '../context.ts';
import { sha256 } from '../crypto/keyring.ts';
import { newId } from '../ids.ts';
import { findLivePlatformKey, insertPlatformKey, listLivePlatformKeys, revokePlatformKey as revokeKeyRow, touchPlatformKey, type PlatformKeyRow } from '../storage/platformKeys.ts';
import { adminActor, recordAudit } from './instance.ts';
import { iso } from './users.ts';

/** Every API key starts so: the transports tell it from an access token (a JWT) or a bot token by it. */
export const API_KEY_PREFIX = 'cfk_';
/** How much of a key the list shows: the prefix and 6 random characters, never enough to use. */
const SHOWN_CHARACTERS = API_KEY_PREFIX.length + 6;
/** `last_used_at` is written at most this often per key (per node), not on every request. */
const TOUCH_EVERY_MS = 60_000;

export const isApiKey = (token: string) => token.startsWith(API_KEY_PREFIX);

function toPlatformKey(row: PlatformKeyRow): PlatformKey {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes as PlatformKeyScope[],
    prefix: row.key_prefix,
    createdAt: iso(row.created_at)!,
    createdBy: row.created_by,
    lastUsedAt: iso(row.last_used_at),
  };
}

/** POST /api/admin/api-keys (instance admins): the key is in this answer only; its hash is stored. */
export async function createPlatformKey(ctx: Context, actorId: string | null, body: CreatePlatformKeyBody): Promise<CreatedPlatformKey> {
  const actor = await adminActor(ctx, actorId);
  const key = API_KEY_PREFIX + randomBytes(32).toString('base64url');
  const scopes = [...new Set(body.scopes)];
  const row = await ctx.db.transaction(async (tx) => {
    const created = await insertPlatformKey(tx, { id: newId(), name: body.name, keyHash: sha256(key), keyPrefix: key.slice(0, SHOWN_CHARACTERS), scopes, createdBy: actor.id });
    await recordAudit(tx, actor.id, 'api_key.create', { type: 'api_key', id: created.id }, { name: body.name, scopes });
    return created;
  });
  return { ...toPlatformKey(row), key };
}

export async function listPlatformKeys(ctx: Context, actorId: string | null): Promise<PlatformKeyList> {
  await adminActor(ctx, actorId);
  return { keys: (await listLivePlatformKeys(ctx.db)).map(toPlatformKey) };
}

/** DELETE /api/admin/api-keys/:id: the key stops working at once (every request looks it up). */
export async function revokePlatformKey(ctx: Context, actorId: string | null, id: string): Promise<void> {
  const actor = await adminActor(ctx, actorId);
  await ctx.db.transaction(async (tx) => {
    const row = await revokeKeyRow(tx, id);
    if (!row) throw new ConfabError('NOT_FOUND', 'no such API key');
    await recordAudit(tx, actor.id, 'api_key.revoke', { type: 'api_key', id }, { name: row.name });
  });
}

/** The key's id and scopes. */
export interface KeyCaller {
  id: string;
  scopes: PlatformKeyScope[];
}

const lastTouched = new WeakMap<Context, Map<string, number>>();

/** Checks a presented key: UNAUTHENTICATED for an unknown or revoked one. Notes its use (cheaply). */
export async function authenticateKey(ctx: Context, key: string): Promise<KeyCaller> {
  const row = await findLivePlatformKey(ctx.db, sha256(key));
  if (!row) throw new ConfabError('UNAUTHENTICATED', 'unknown or revoked API key');
  let touched = lastTouched.get(ctx);
  if (!touched) lastTouched.set(ctx, (touched = new Map()));
  const now = Date.now();
  if (now - (touched.get(row.id) ?? 0) >= TOUCH_EVERY_MS) {
    touched.set(row.id, now);
    if (touched.size > 10_000) touched.clear();
    // Not awaited on the request's path: a lost write only makes "last used" a minute older.
    touchPlatformKey(ctx.db, row.id).catch((error: unknown) => ctx.log.warn({ err: error, keyId: row.id }, 'could not note an API key\'s use'));
  }
  return { id: row.id, scopes: row.scopes as PlatformKeyScope[] };
}

/** FORBIDDEN unless the key has the scope. */
export function requireScope(caller: KeyCaller, scope: PlatformKeyScope): void {
  if (!caller.scopes.includes(scope)) throw new ConfabError('FORBIDDEN', `this API key lacks the "${scope}" scope`);
}
