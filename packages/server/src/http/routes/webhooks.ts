import type { Context } from '../../context.ts';
import type { App } from '../app.ts';

/** Outgoing webhooks (admins) and their delivery log. */
export function webhookRoutes(app: App, ctx: Context) {
  void app;
  void ctx;
}
