import { z } from 'zod';

// Single sign-on with OpenID Connect (API.md, "Single sign-on").

/** A configured provider's id (CONFAB_OIDC_<ID>_*, lowercased). */
export const SsoProviderParams = z.strictObject({ id: z.string().min(1).max(64) });
export type SsoProviderParams = z.infer<typeof SsoProviderParams>;

/** GET /api/auth/oidc/:id/start: `invite` carries an invite link's token while registration is by invite. */
export const SsoStartQuery = z.strictObject({ invite: z.string().min(1).max(256).optional() });
export type SsoStartQuery = z.infer<typeof SsoStartQuery>;

/** What the provider sends back to the callback (the authorization response); other parameters pass through to the check. */
export const SsoCallbackQuery = z.looseObject({
  state: z.string().max(1024).optional(),
  code: z.string().max(4096).optional(),
  error: z.string().max(256).optional(),
  error_description: z.string().max(2048).optional(),
});
export type SsoCallbackQuery = z.infer<typeof SsoCallbackQuery>;

/** POST /api/auth/oidc/exchange: the one-time code the callback put in the web app's /sso?code=… URL. */
export const SsoExchangeBody = z.strictObject({ code: z.string().min(1).max(256) });
export type SsoExchangeBody = z.infer<typeof SsoExchangeBody>;

/** GET /api/users/me/sso: the caller's links to single sign-on providers. */
export const LinkedSignIn = z.object({
  provider: z.string(),
  /** The provider's display name; the id again when the provider is no longer configured. */
  name: z.string(),
  /** The address the provider gave when the link was made, if verified. */
  email: z.string().nullable(),
  linkedAt: z.string(),
});
export type LinkedSignIn = z.infer<typeof LinkedSignIn>;
export const LinkedSignIns = z.object({ links: z.array(LinkedSignIn) });
export type LinkedSignIns = z.infer<typeof LinkedSignIns>;
