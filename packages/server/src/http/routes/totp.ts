import type { Context } from '../../context.ts';
import type { App } from '../app.ts';

/** The second factor: TOTP setup, enabling with a first code, turning it off (API.md, "Accounts"). */
export function totpRoutes(app: App, ctx: Context) {
  void app;
  void ctx;
}
