import path from 'node:path';
import { normalizeOrigin } from './http/origins.ts';

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
  /** Origins allowed to open sockets and call the API from a browser, besides publicUrl; see http/origins.ts. */
  origins: string[];
  /** The server's public origin (CONFAB_PUBLIC_URL), e.g. https://chat.example.com behind a proxy. */
  publicUrl: string | undefined;
  /** Bearer token for GET /metrics; without it, only loopback and metricsAllow addresses get metrics. */
  metricsToken: string | undefined;
  /** Addresses and CIDR ranges, besides loopback, that may read /metrics when no token is set. */
  metricsAllow: string[];
  /** Load limits on; CONFAB_RATE_LIMITS=off lifts them (not the login protection). */
  rateLimits: boolean;
  /** Behind a reverse proxy: the client IP comes from X-Forwarded-For (CONFAB_TRUST_PROXY=true). */
  trustProxy: boolean;
  accessTokenTtlSeconds: number;
  refreshTokenTtlDays: number;
  logLevel: string;
  /** Cheaper password hashing, for tests only. */
  fastPasswordHashing: boolean;
  ai: AiConfig;
}

/** AI providers and limits; see docs/ai.md. */
export interface AiConfig {
  /** Server-paid keys per provider (from OPENAI_API_KEY, ANTHROPIC_API_KEY, GOOGLE_GENERATIVE_AI_API_KEY). */
  keys: { openai?: string | undefined; anthropic?: string | undefined; google?: string | undefined };
  /** Any OpenAI-compatible endpoint for the server's OpenAI models (Ollama, vLLM, OpenRouter). */
  openaiBaseUrl: string | undefined;
  /** Where users' own OpenAI keys are sent; OpenAI itself unless set. */
  byokOpenaiBaseUrl: string | undefined;
  /** The models offered, as `provider:model`; a built-in list per provider when empty. */
  models: string[];
  defaultModel: string | undefined;
  /** A cheap model for conversation titles; the answer's model when unset. */
  titleModel: string | undefined;
  /** How long to wait for the first piece, and between pieces, before giving up. */
  idleTimeoutMs: number;
  /** How much history (in characters, ~4 per token) goes into the model's context. */
  contextChars: number;
  /** How often a streaming answer's text is written to the database. */
  checkpointMs: number;
  /** Most tokens one answer (or title) may produce: bounds what a single request can cost. */
  maxOutputTokens: number;
}

export function loadAiConfig(env: NodeJS.ProcessEnv): AiConfig {
  return {
    keys: { openai: env.OPENAI_API_KEY || undefined, anthropic: env.ANTHROPIC_API_KEY || undefined, google: env.GOOGLE_GENERATIVE_AI_API_KEY || undefined },
    openaiBaseUrl: env.OPENAI_BASE_URL || undefined,
    byokOpenaiBaseUrl: env.CONFAB_BYOK_OPENAI_BASE_URL || undefined,
    models: list(env.CONFAB_MODELS),
    defaultModel: env.CONFAB_DEFAULT_MODEL || undefined,
    titleModel: env.CONFAB_TITLE_MODEL || undefined,
    idleTimeoutMs: Number.parseInt(env.CONFAB_AI_TIMEOUT_MS ?? '60000', 10),
    contextChars: Number.parseInt(env.CONFAB_AI_CONTEXT_CHARS ?? '24000', 10),
    checkpointMs: 500,
    maxOutputTokens: positiveInt(env, 'CONFAB_AI_MAX_OUTPUT_TOKENS', 4096),
  };
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
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
    publicUrl: env.CONFAB_PUBLIC_URL ? normalizeOrigin(env.CONFAB_PUBLIC_URL) : undefined,
    metricsToken: env.CONFAB_METRICS_TOKEN || undefined,
    metricsAllow: list(env.CONFAB_METRICS_ALLOW),
    rateLimits: rateLimits === 'on',
    trustProxy: env.CONFAB_TRUST_PROXY === 'true',
    accessTokenTtlSeconds: Number.parseInt(env.CONFAB_ACCESS_TOKEN_TTL ?? '900', 10),
    refreshTokenTtlDays: Number.parseInt(env.CONFAB_REFRESH_TOKEN_TTL_DAYS ?? '30', 10),
    logLevel: env.LOG_LEVEL ?? 'info',
    fastPasswordHashing: false,
    ai: loadAiConfig(env),
    ...overrides,
  };
}
