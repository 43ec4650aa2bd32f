import type { Context } from '../../context.ts';
import type { App } from '../app.ts';

export function conversationRoutes(_app: App, _ctx: Context) {}
