import { PasswordBody, RecoveryCodes, TotpEnableBody, TotpSetup } from '@confab/protocol';
import type { Context } from '../../context.ts';
import * as totp from '../../operations/totp.ts';
import type { App } from '../app.ts';
import { requireUser } from '../auth.ts';

/** The second factor: TOTP setup, enabling with a first code, turning it off (API.md, "Accounts"). */
export function totpRoutes(app: App, ctx: Context) {
  const tags = ['auth'];
  const security = [{ bearer: [] }];
  app.post('/api/auth/totp/setup', { schema: { tags, security, response: { 200: TotpSetup } } }, async (req) =>
    totp.setupTotp(ctx, await requireUser(ctx, req)),
  );
  app.post('/api/auth/totp/enable', { schema: { tags, security, body: TotpEnableBody, response: { 200: RecoveryCodes } } }, async (req) =>
    totp.enableTotp(ctx, await requireUser(ctx, req), req.body),
  );
  app.delete('/api/auth/totp', { schema: { tags, security, body: PasswordBody } }, async (req, reply) => {
    await totp.disableTotp(ctx, await requireUser(ctx, req), req.body.password, { ip: req.ip });
    return reply.status(204).send();
  });
}
