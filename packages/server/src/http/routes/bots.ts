import type { Context } from '../../context.ts';
import type { App } from '../app.ts';

/** Bots and their tokens. */
export function botRoutes(app: App, ctx: Context) {
  void app;
  void ctx;
}
