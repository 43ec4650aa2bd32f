import { z } from 'zod';
import { Id, IsoTime, PublicUser } from './entities.ts';
import { Email, Handle } from './rest.ts';
import { UserStatus } from './team.ts';

// API keys, platform users and token minting, external JWT exchange, bots (API.md, "Building on Confab").

// ---- API keys and your users (docs/platform.md) ----

/** What a developer's backend may do with a key. */
export const PlatformKeyScope = z.enum(['users', 'tokens', 'messages', 'conversations']);
export type PlatformKeyScope = z.infer<typeof PlatformKeyScope>;

export const CreatePlatformKeyBody = z.strictObject({
  name: z.string().trim().min(1).max(100),
  scopes: z.array(PlatformKeyScope).min(1).max(4),
});
export type CreatePlatformKeyBody = z.infer<typeof CreatePlatformKeyBody>;

/** A key as listed: never the key itself, only its first characters to tell keys apart. */
export const PlatformKey = z.object({
  id: Id,
  name: z.string(),
  scopes: z.array(PlatformKeyScope),
  /** The key's first characters (`cfk_` and a few more). */
  prefix: z.string(),
  createdAt: IsoTime,
  createdBy: Id.nullable(),
  /** Updated at most once a minute. */
  lastUsedAt: IsoTime.nullable(),
});
export type PlatformKey = z.infer<typeof PlatformKey>;
/** A new key: `key` is shown this once (only its hash is stored). */
export const CreatedPlatformKey = PlatformKey.extend({ key: z.string() });
export type CreatedPlatformKey = z.infer<typeof CreatedPlatformKey>;
export const PlatformKeyList = z.object({ keys: z.array(PlatformKey) });
export type PlatformKeyList = z.infer<typeof PlatformKeyList>;

/** The developer's own id for a user: anything printable, up to 255 characters. */
export const ExternalId = z.string().min(1).max(255).regex(/^[\x21-\x7e]+$/, 'externalId must be printable ASCII without spaces');

export const PutPlatformUserBody = z.strictObject({
  /** Derived from the display name (made unique) when absent on creation; unchanged when absent later. */
  handle: Handle.optional(),
  displayName: z.string().trim().min(1).max(64),
  /** Absent: unchanged; null: cleared. */
  email: Email.nullable().optional(),
  avatarUrl: z.url({ protocol: /^https?$/ }).max(2048).nullable().optional(),
});
export type PutPlatformUserBody = z.infer<typeof PutPlatformUserBody>;

/** A Confab user tied to a developer's own id. */
export const PlatformUser = z.object({
  id: Id,
  externalId: z.string(),
  handle: z.string(),
  displayName: z.string(),
  email: z.string().nullable(),
  avatarUrl: z.string().nullable(),
  status: UserStatus,
  createdAt: IsoTime,
});
export type PlatformUser = z.infer<typeof PlatformUser>;

export const MintTokensBody = z.strictObject({
  externalId: ExternalId,
  /** The access token's life, at most the server's CONFAB_ACCESS_TOKEN_TTL (its default). */
  ttlSeconds: z.number().int().min(10).max(86_400).optional(),
});
export type MintTokensBody = z.infer<typeof MintTokensBody>;

export const ExternalTokenBody = z.strictObject({ token: z.string().min(1).max(16_384) });
export type ExternalTokenBody = z.infer<typeof ExternalTokenBody>;

// ---- bots ----
// A bot is a user (isBot true) that belongs to the person who created it and signs in with a
// non-expiring token (`cfb_…`), shown once. API.md, "Building on Confab": Bots.

export const CreateBotBody = z.strictObject({
  handle: Handle,
  displayName: z.string().trim().min(1).max(64),
});
export type CreateBotBody = z.infer<typeof CreateBotBody>;

/** A bot and its token (creating one, rotating its token): the token is shown only here. */
export const BotWithToken = z.object({
  bot: PublicUser,
  token: z.string(),
});
export type BotWithToken = z.infer<typeof BotWithToken>;

/** The caller's bots (not deleted ones), oldest first. */
export const BotList = z.object({ bots: z.array(PublicUser) });
export type BotList = z.infer<typeof BotList>;
