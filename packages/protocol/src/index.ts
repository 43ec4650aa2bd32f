/** Confab's wire protocol. Nothing outside this package defines a payload. */
export const PROTOCOL_VERSION = 1;

export * from './errors.ts';
export * from './entities.ts';
export * from './rest.ts';
export * from './realtime.ts';
export * from './ai.ts';
export * from './mentions.ts';
export * from './team.ts';
export * from './platform.ts';
export * from './webhooks.ts';
export * from './sso.ts';
export * from './shares.ts';
