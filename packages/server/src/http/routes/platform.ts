import type { Context } from '../../context.ts';
import type { App } from '../app.ts';

/** API keys, platform users and tokens, your own sign-in (external JWTs). */
export function platformRoutes(app: App, ctx: Context) {
  void app;
  void ctx;
}
