import type { Context } from '../../context.ts';
import type { App } from '../app.ts';

export function messageRoutes(_app: App, _ctx: Context) {}
