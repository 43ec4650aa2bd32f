import type { Context } from '../../context.ts';
import type { App } from '../app.ts';

/** Incoming webhooks: a URL that posts into one conversation. */
export function incomingHookRoutes(app: App, ctx: Context) {
  void app;
  void ctx;
}
