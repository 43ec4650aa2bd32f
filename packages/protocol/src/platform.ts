import { z } from 'zod';
import { PublicUser } from './entities.ts';
import { Handle } from './rest.ts';

// API keys, platform users and token minting, external JWT exchange, bots (API.md, "Building on Confab").

export const _platformPlaceholder = z.never();

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
