import type { Context } from '../../context.ts';
import type { App } from '../app.ts';

/** Blocks, privacy settings and reports (API.md, "Consent and privacy"). */
export function consentRoutes(app: App, ctx: Context) {
  void app;
  void ctx;
}
