import type { Context } from '../../context.ts';
import type { App } from '../app.ts';

/** A user's own account: password, sessions, second factor, deletion, export (API.md, "Accounts"). */
export function accountRoutes(app: App, ctx: Context) {
  void app;
  void ctx;
}
