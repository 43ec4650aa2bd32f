import path from 'node:path';

/** Everything the server reads from the environment, in one place. See README "Configuration". */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** PostgreSQL URL; the embedded database in DATA_DIR when unset. */
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  /** Master secret for token signing and encryption at rest; a key file in DATA_DIR when unset. */
  secret: string | undefined;
  /** Earlier secrets, still accepted for decrypting (key rotation). */
  previousSecrets: string[];
  /** Origins allowed to open sockets and call the API from a browser; empty means same origin only. */
  origins: string[];
  rateLimits: boolean;
  accessTokenTtlSeconds: number;
  refreshTokenTtlDays: number;
  logLevel: string;
  /** Cheaper password hashing, for tests only. */
  fastPasswordHashing: boolean;
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const port = Number.parseInt(env.PORT ?? '3000', 10);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, got ${env.PORT}`);
  const rateLimits = (env.CONFAB_RATE_LIMITS ?? 'on').toLowerCase();
  if (rateLimits !== 'on' && rateLimits !== 'off') throw new Error('CONFAB_RATE_LIMITS must be "on" or "off"');
  return {
    port,
    host: env.HOST ?? '0.0.0.0',
    dataDir: path.resolve(env.DATA_DIR ?? './data'),
    databaseUrl: env.DATABASE_URL || undefined,
    redisUrl: env.REDIS_URL || undefined,
    secret: env.CONFAB_SECRET || undefined,
    previousSecrets: list(env.CONFAB_PREVIOUS_SECRETS),
    origins: list(env.CONFAB_ORIGINS),
    rateLimits: rateLimits === 'on',
    accessTokenTtlSeconds: Number.parseInt(env.CONFAB_ACCESS_TOKEN_TTL ?? '900', 10),
    refreshTokenTtlDays: Number.parseInt(env.CONFAB_REFRESH_TOKEN_TTL_DAYS ?? '30', 10),
    logLevel: env.LOG_LEVEL ?? 'info',
    fastPasswordHashing: false,
    ...overrides,
  };
}
