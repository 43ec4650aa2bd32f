import type { Logger } from 'pino';
import type { Bus } from './bus/bus.ts';
import type { Config } from './config.ts';
import type { Keyring } from './crypto/keyring.ts';
import type { RateLimits } from './rateLimits.ts';
import type { Database } from './storage/db.ts';

/** What every operation needs; built once by the composition root (server.ts). */
export interface Context {
  config: Config;
  db: Database;
  keys: Keyring;
  bus: Bus;
  log: Logger;
  limits: RateLimits;
}
