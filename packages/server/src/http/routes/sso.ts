import type { Context } from '../../context.ts';
import type { App } from '../app.ts';

/** Single sign-on with OpenID Connect. */
export function ssoRoutes(app: App, ctx: Context) {
  void app;
  void ctx;
}
