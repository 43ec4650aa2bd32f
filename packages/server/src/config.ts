import path from 'node:path';
import { AiProvider } from '@confab/protocol';
import { z } from 'zod';
import { DEFAULT_FILES_OPTIONS, type FilesOptions } from './files/options.ts';
import { parseAllowEntry } from './http/metricsAccess.ts';
import { normalizeOrigin } from './http/origins.ts';
import { DEFAULT_JOB_OPTIONS, type JobQueueOptions } from './jobs/queue.ts';
import { DEFAULT_PREVIEW_OPTIONS, type PreviewOptions } from './previews/options.ts';
import { DEFAULT_PUSH_OPTIONS, type PushOptions } from './push/sender.ts';
import type { VapidKeys } from './push/vapid.ts';

/**
 * Everything the server reads from the environment, in one table (VARIABLES below): the only
 * module that reads it. Every variable is parsed strictly when the server starts, so a bad value
 * stops it with a message naming the variable instead of surfacing later as NaN or a refused
 * connection. The README's configuration table (and docs/ai.md's) is generated from the table:
 * `npm run docs:config`; config.test.ts fails when they differ.
 */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** PostgreSQL URL; the embedded database in DATA_DIR when unset. */
  databaseUrl: string | undefined;
  /** Named prepared statements on PostgreSQL (CONFAB_DATABASE_PREPARED_STATEMENTS); off behind a transaction-mode pooler. */
  databasePreparedStatements: boolean;
  /** PostgreSQL connections this node keeps at most (CONFAB_DATABASE_POOL_SIZE). */
  databasePoolSize: number;
  redisUrl: string | undefined;
  /** Prefix of every Redis key and channel (several deployments or test runs can share one Redis). */
  redisPrefix: string;
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
  /** Where the built web app is served from; packages/web/dist when unset (see http/routes/web.ts). */
  webDir: string | undefined;
  /** Cheaper password hashing, for tests only. */
  fastPasswordHashing: boolean;
  /** The instance's name and who may register, until an admin changes them (operations/instance.ts). */
  instanceName: string;
  registration: 'open' | 'invite' | 'closed';
  /** Where e-mail goes out (nodemailer); unset, admins hand out links instead. */
  smtp: { url: string; from: string } | undefined;
  /** A developer's own sign-in: their JWTs exchanged for Confab tokens (POST /api/auth/external); unset, the route answers 404. */
  externalJwt: { jwksUrl: string | undefined; secret: string | undefined; issuer: string; audience: string } | undefined;
  /** Outgoing webhooks may target private and loopback addresses (tests, an intranet). */
  webhooksAllowPrivate: boolean;
  /** The before-send hook: every message is POSTed there before it is stored. */
  beforeSend: { url: string; secret: string | undefined; timeoutMs: number; failClosed: boolean } | undefined;
  /** OpenID Connect providers for single sign-on (CONFAB_OIDC_<ID>_*; see oidcProviders below). */
  oidc: OidcProviderConfig[];
  ai: AiConfig;
  files: FilesOptions;
  jobs: JobQueueOptions;
  push: PushOptions;
  /** Link previews (previews/options.ts): on or off, and whether private addresses may be fetched. */
  previews: PreviewOptions;
  /** Web push keys from the environment; generated into DATA_DIR/vapid.json when unset (push/vapid.ts). */
  vapidKeys: VapidKeys | undefined;
}

/** One single sign-on provider: CONFAB_OIDC_<ID>_ISSUER, _CLIENT_ID, _CLIENT_SECRET and _NAME. */
export interface OidcProviderConfig {
  /** <ID> lowercased: the provider's part of /api/auth/oidc/<id>/start. */
  id: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** What the sign-in button says; the id when _NAME is unset. */
  name: string;
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
  /** Models that take images besides those known to (ai/models.ts); `provider:prefix*` matches a prefix. */
  visionModels: string[];
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
  /** Each user's daily allowance on the server's keys, until an admin changes it; 0 = unlimited. */
  quota: { answersPerDay: number; tokensPerDay: number };
  /** Tools the model may call (assistant/tools/, docs/ai.md "Tools"); none when unset. */
  tools?: AiToolsConfig | undefined;
}

/** What answers may call, and the bounds on it. */
export interface AiToolsConfig {
  /** A SearXNG-compatible search endpoint (CONFAB_SEARCH_URL): the `web_search` tool is offered when set. */
  searchUrl: string | undefined;
  /** Results one search gives the model. */
  searchResults: number;
  /** `openai:<model>` for the `generate_image` tool (CONFAB_IMAGE_MODEL); not offered when unset. */
  imageModel: string | undefined;
  /** MCP servers whose tools are offered (CONFAB_MCP_<ID>_*; see mcpServers below). */
  mcpServers: McpServerConfig[];
  /** Model requests per answer: the last one gets no tools, so the answer ends in words. */
  maxSteps: number;
  /** Longest one tool call may take. */
  callTimeoutMs: number;
  /** Time all tool calls of one answer may take together; calls after that fail at once. */
  answerBudgetMs: number;
}

/** One MCP server: a program started by the server (stdio) or a streamable-HTTP endpoint. */
export type McpServerConfig = {
  /** <ID> lowercased: the prefix of its tools' names (`<id>__<tool>`). */
  id: string;
  /** Only these of its tools are offered (CONFAB_MCP_<ID>_TOOLS); all of them when unset. */
  tools: string[] | undefined;
} & ({ transport: 'stdio'; command: string; args: string[]; env: Record<string, string> } | { transport: 'http'; url: string; token: string | undefined });

// ---- kinds of value: how a variable's text is read, and what the docs call it ----

type Parsed<T> = { ok: true; value: T } | { ok: false; problem?: string };

interface Kind<T> {
  /** The "type" column of the docs. */
  type: string;
  /** "CONFAB_X must be <expects>, got ...". */
  expects: string;
  parse(raw: string): Parsed<T>;
}

const fromZod =
  <T>(schema: z.ZodType<T>) =>
  (raw: string): Parsed<T> => {
    const result = schema.safeParse(raw);
    return result.success ? { ok: true, value: result.data } : { ok: false };
  };

const WHOLE = z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().max(Number.MAX_SAFE_INTEGER));

/** A whole number of `unit`, at least `min` (and at most `max`). */
function whole(unit: string, min = 1, max = Number.MAX_SAFE_INTEGER): Kind<number> {
  const read = fromZod(WHOLE);
  return {
    type: `whole number (${unit})`,
    expects: `a whole number of ${unit}`,
    parse(raw) {
      const n = read(raw);
      if (!n.ok) return n;
      if (n.value < min) return { ok: false, problem: `at least ${min}` };
      if (n.value > max) return { ok: false, problem: `at most ${max}` };
      return n;
    },
  };
}

const PORT_NUMBER = whole('port', 0, 65535);
const port: Kind<number> = {
  type: 'port',
  expects: 'a port number (0 to 65535)',
  parse: (raw) => {
    const parsed = PORT_NUMBER.parse(raw);
    return parsed.ok ? parsed : { ok: false };
  },
};

function flag(on: string, off: string): Kind<boolean> {
  const read = fromZod(z.string().toLowerCase().pipe(z.enum([on, off] as [string, string])));
  return { type: `${on}/${off}`, expects: `${on} or ${off}`, parse: (raw) => map(read(raw), (v) => v === on) };
}

function oneOf<const T extends string>(values: readonly [T, ...T[]]): Kind<T> {
  return { type: values.join('/'), expects: `one of ${values.join(', ')}`, parse: fromZod(z.enum(values)) };
}

const text: Kind<string> = { type: 'text', expects: 'text', parse: (raw) => ({ ok: true, value: raw }) };

const directory: Kind<string> = { type: 'path', expects: 'a path', parse: (raw) => ({ ok: true, value: raw }) };

/** A URL with one of `protocols` (without the colon), kept as written. */
function url(protocols: readonly string[]): Kind<string> {
  const read = fromZod(z.url({ protocol: new RegExp(`^(${protocols.join('|')})$`) }));
  return { type: 'URL', expects: `a URL (${protocols.map((p) => `${p}:`).join(', ')})`, parse: read };
}

const origin: Kind<string> = {
  type: 'URL',
  expects: 'an http(s) origin such as https://chat.example.com',
  parse(raw) {
    try {
      return { ok: true, value: normalizeOrigin(raw) };
    } catch {
      return { ok: false };
    }
  },
};

/** Comma-separated items of `item`; blanks between commas are ignored. */
function list<T>(item: Kind<T>, itemsAre: string): Kind<T[]> {
  return {
    type: `list of ${item.type}`,
    expects: `a comma-separated list of ${itemsAre}`,
    parse(raw) {
      const out: T[] = [];
      for (const part of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
        const parsed = item.parse(part);
        if (!parsed.ok) return { ok: false, problem: `"${part}" is not one` };
        out.push(parsed.value);
      }
      return { ok: true, value: out };
    },
  };
}

const address: Kind<string> = {
  type: 'address',
  expects: 'an IP address or CIDR range',
  parse: (raw) => (parseAllowEntry(raw) ? { ok: true, value: raw } : { ok: false }),
};

const model: Kind<string> = {
  type: 'model',
  expects: `provider:model with provider one of ${AiProvider.options.join(', ')}`,
  parse: fromZod(z.string().regex(new RegExp(`^(${AiProvider.options.join('|')}):\\S+$`))),
};

/** A base64url P-256 key of `bytes` bytes (65 public, 32 private). */
function vapidKey(bytes: number): Kind<string> {
  return {
    type: 'base64url key',
    expects: `a base64url P-256 key of ${bytes} bytes (npx web-push generate-vapid-keys)`,
    parse: (raw) => (/^[\w-]+$/.test(raw) && Buffer.from(raw, 'base64url').length === bytes ? { ok: true, value: raw } : { ok: false }),
  };
}

const pushSubject: Kind<string> = {
  type: 'URL',
  expects: 'a mailto: or https: URL',
  parse: (raw) => (/^(mailto:|https:\/\/)/.test(raw) ? { ok: true, value: raw } : { ok: false }),
};

function map<A, B>(parsed: Parsed<A>, f: (a: A) => B): Parsed<B> {
  return parsed.ok ? { ok: true, value: f(parsed.value) } : parsed;
}

// ---- the table ----

export interface Variable<T, D extends T | undefined> {
  kind: Kind<T>;
  /** The value when the variable is unset or empty. */
  default: D;
  /** What the docs show as the default, when not the value itself ("generated", a derived path). */
  shown?: string;
  /** One line for the docs (Markdown). */
  doc: string;
  /** Never echoed in an error message (it may be, or carry, a password or key). */
  secret?: boolean;
  /** docs/ai.md repeats the AI rows. */
  group?: 'ai';
}

function variable<T, D extends T | undefined>(kind: Kind<T>, dflt: D, doc: string, more: Omit<Variable<T, D>, 'kind' | 'default' | 'doc'> = {}): Variable<T, D> {
  return { kind, default: dflt, doc, ...more };
}

const SECONDS = whole('seconds');
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Every environment variable the server reads: its kind, default and meaning. */
export const VARIABLES = {
  PORT: variable(port, 3000, 'HTTP port (REST, Socket.IO and the web app)'),
  HOST: variable(text, '0.0.0.0', 'address to bind'),
  DATA_DIR: variable(directory, './data', 'embedded database, files, generated keys; kept `0700` (files `0600`) whatever the umask'),
  DATABASE_URL: variable(url(['postgres', 'postgresql', 'socket']), undefined, 'PostgreSQL URL; the embedded database in `DATA_DIR/db` when unset', { secret: true }),
  CONFAB_DATABASE_POOL_SIZE: variable(whole('connections'), 20, 'PostgreSQL connections each node keeps at most; behind a pooler in session mode, its pool must hold this many per node'),
  CONFAB_DATABASE_PREPARED_STATEMENTS: variable(
    flag('on', 'off'),
    true,
    '`off` behind a pooler in transaction mode that cannot keep named prepared statements (PgBouncer before 1.21, or `max_prepared_statements = 0`); left `on`, such a pooler is detected at its first refusal and they are turned off (see [`docs/operations.md`](docs/operations.md#connection-poolers))',
    { shown: '`on`' },
  ),
  REDIS_URL: variable(url(['redis', 'rediss']), undefined, 'Redis URL for several nodes; single node when unset', { secret: true }),
  CONFAB_REDIS_PREFIX: variable(text, 'confab:', 'prefix of every Redis key and channel (several deployments on one Redis)'),
  CONFAB_SECRET: variable(text, undefined, 'master secret for token signing and encryption at rest; when unset one is generated into `DATA_DIR/secret.json` on first start', { shown: 'generated', secret: true }),
  CONFAB_PREVIOUS_SECRETS: variable(list(text, 'secrets'), [], 'comma-separated earlier secrets, still used to decrypt (key rotation)', { secret: true }),
  CONFAB_PUBLIC_URL: variable(
    origin,
    undefined,
    "the server's public origin, e.g. `https://chat.example.com`: browser pages of that origin may open sockets and call the API. Unset (and no `CONFAB_ORIGINS`): only pages opened at `localhost` or at the server's IP address are, so set it when users open a host name (see [`docs/security.md`](docs/security.md#browser-origins))",
  ),
  CONFAB_ORIGINS: variable(list(origin, 'http(s) origins such as https://chat.example.com'), [], 'comma-separated further origins allowed to open sockets and call the API from a browser'),
  CONFAB_METRICS_TOKEN: variable(text, undefined, '`GET /metrics` then needs `Authorization: Bearer <token>`; unset, it is served to loopback addresses only', { secret: true }),
  CONFAB_METRICS_ALLOW: variable(list(address, 'IP addresses or CIDR ranges'), [], 'comma-separated addresses or CIDR ranges (`10.0.0.0/8`) also served `/metrics` when no token is set'),
  CONFAB_RATE_LIMITS: variable(flag('on', 'off'), true, '`off` lifts per-user and per-IP limits (load tests on a trusted network only); the login lockout stays on', { shown: '`on`' }),
  CONFAB_ACCESS_TOKEN_TTL: variable(SECONDS, 900, 'access token lifetime, seconds'),
  CONFAB_REFRESH_TOKEN_TTL_DAYS: variable(whole('days'), 30, 'refresh token lifetime, days'),
  CONFAB_TRUST_PROXY: variable(flag('true', 'false'), false, '`true` behind a reverse proxy, so client IPs come from `X-Forwarded-For`'),
  LOG_LEVEL: variable(oneOf(LOG_LEVELS), 'info', 'pino log level'),
  CONFAB_NAME: variable(text, 'Confab', "the instance's name on the sign-in page and in e-mail, until an admin changes it"),
  CONFAB_REGISTRATION: variable(
    oneOf(['open', 'invite', 'closed'] as const),
    'invite',
    'who may create an account, until an admin changes it: `open` (anyone), `invite` (with an invite link) or `closed`; the first account on an empty instance may always register, and becomes its owner',
  ),
  CONFAB_SMTP_URL: variable(url(['smtp', 'smtps']), undefined, 'e-mail for password reset links and invitations, e.g. `smtps://user:pass@mail.example.com`; unset, admins hand out links', { secret: true }),
  CONFAB_SMTP_FROM: variable(text, 'Confab <confab@localhost>', 'the From of e-mail the server sends'),
  CONFAB_EXTERNAL_JWT_JWKS_URL: variable(url(['http', 'https']), undefined, "your own sign-in: the JWKS URL of the keys that sign your users' JWTs, exchanged at `POST /api/auth/external` (see [`docs/platform.md`](docs/platform.md))"),
  CONFAB_EXTERNAL_JWT_SECRET: variable(text, undefined, 'your own sign-in: a shared HS256 secret instead of a JWKS URL', { secret: true }),
  CONFAB_EXTERNAL_JWT_ISSUER: variable(text, undefined, "your own sign-in: the `iss` your JWTs must carry (needed with either of the two above)"),
  CONFAB_EXTERNAL_JWT_AUDIENCE: variable(text, undefined, "your own sign-in: the `aud` your JWTs must carry (needed with either of the two above)"),
  CONFAB_WEBHOOKS_ALLOW_PRIVATE: variable(flag('true', 'false'), false, '`true` lets outgoing webhooks target private and loopback addresses (an intranet; tests)'),
  CONFAB_BEFORE_SEND_URL: variable(url(['http', 'https']), undefined, 'the before-send hook: each message is POSTed there before it is stored, to allow, block or replace it'),
  CONFAB_BEFORE_SEND_SECRET: variable(text, undefined, "the before-send hook's signing secret (`Confab-Signature`)", { secret: true }),
  CONFAB_BEFORE_SEND_TIMEOUT_MS: variable(whole('milliseconds'), 1500, 'how long a send waits for the before-send hook'),
  CONFAB_BEFORE_SEND_FAIL: variable(oneOf(['open', 'closed'] as const), 'open', "without the hook's answer in time: `open` stores the message, `closed` refuses it (503)"),
  CONFAB_WEB_DIR: variable(directory, undefined, 'where the built web app is served from', { shown: '`packages/web/dist`' }),
  CONFAB_MAX_FILE_BYTES: variable(whole('bytes'), DEFAULT_FILES_OPTIONS.maxFileBytes, 'largest attachment (25 MB)'),
  CONFAB_UPLOAD_URL_TTL: variable(SECONDS, DEFAULT_FILES_OPTIONS.uploadUrlTtlSeconds, 'how long an upload URL works, seconds'),
  CONFAB_UPLOADS_PER_HOUR: variable(whole('files'), DEFAULT_FILES_OPTIONS.uploadsPerHour, 'files a user may upload per hour (429 beyond)'),
  CONFAB_UPLOAD_BYTES_PER_DAY: variable(whole('bytes'), DEFAULT_FILES_OPTIONS.uploadBytesPerDay, 'bytes a user may upload per day (1 GiB; 429 beyond)'),
  CONFAB_PDF_MAX_PAGES: variable(whole('pages'), DEFAULT_FILES_OPTIONS.pdfMaxPages, "pages of a PDF whose text is extracted for the assistant"),
  CONFAB_PDF_TIMEOUT_MS: variable(whole('milliseconds'), DEFAULT_FILES_OPTIONS.pdfTimeoutMs, "time allowed to extract a PDF's text (a worker thread, stopped then)"),
  CONFAB_S3_BUCKET: variable(text, undefined, 'S3-compatible object storage for attachments (needed with several nodes); local disk under `DATA_DIR/files` when unset. Needs the three below'),
  CONFAB_S3_ENDPOINT: variable(url(['http', 'https']), undefined, 'the S3 endpoint, e.g. `https://s3.eu-west-1.amazonaws.com` or `http://minio:9000`'),
  CONFAB_S3_ACCESS_KEY_ID: variable(text, undefined, 'S3 access key id'),
  CONFAB_S3_SECRET_ACCESS_KEY: variable(text, undefined, 'S3 secret access key', { secret: true }),
  CONFAB_S3_REGION: variable(text, 'us-east-1', 'S3 region'),
  CONFAB_S3_PREFIX: variable(text, '', 'key prefix inside the bucket, e.g. `confab/`', { shown: 'none' }),
  CONFAB_S3_PATH_STYLE: variable(flag('true', 'false'), true, '`https://endpoint/bucket/key` (MinIO and most others); `false`: `https://bucket.endpoint/key`'),
  CONFAB_VAPID_PUBLIC_KEY: variable(vapidKey(65), undefined, 'web push public key; with the private key, or both generated into `DATA_DIR/vapid.json` (several nodes must share them)', { shown: 'generated' }),
  CONFAB_VAPID_PRIVATE_KEY: variable(vapidKey(32), undefined, 'web push private key (see above)', { shown: 'generated', secret: true }),
  CONFAB_VAPID_SUBJECT: variable(pushSubject, DEFAULT_PUSH_OPTIONS.subject, 'how push services can reach the operator (`mailto:` or `https:` URL)'),
  CONFAB_PUSH_TTL: variable(whole('seconds', 0), DEFAULT_PUSH_OPTIONS.ttlSeconds, 'how long a push service keeps an undelivered notification, seconds'),
  CONFAB_PUSH_ALLOW_INSECURE: variable(flag('true', 'false'), false, '`true` also sends pushes to plain-HTTP and private-address endpoints (tests, development only)'),
  CONFAB_LINK_PREVIEWS: variable(flag('on', 'off'), true, '`off`: no link previews are fetched (see [`docs/security.md`](docs/security.md#link-previews))', { shown: '`on`' }),
  CONFAB_PREVIEWS_ALLOW_PRIVATE: variable(flag('true', 'false'), false, '`true` lets link previews fetch private, loopback and link-local addresses too (an intranet; never on a server that can reach cloud metadata or internal admin pages)'),
  CONFAB_JOBS_POLL_MS: variable(whole('milliseconds'), DEFAULT_JOB_OPTIONS.pollIntervalMs, 'how often the job queue (push, file clean-up) looks for work'),
  OPENAI_API_KEY: variable(text, undefined, 'server key for OpenAI (the server pays)', { secret: true, group: 'ai' }),
  ANTHROPIC_API_KEY: variable(text, undefined, 'server key for Anthropic', { secret: true, group: 'ai' }),
  GOOGLE_GENERATIVE_AI_API_KEY: variable(text, undefined, 'server key for Google', { secret: true, group: 'ai' }),
  OPENAI_BASE_URL: variable(
    url(['http', 'https']),
    undefined,
    "any OpenAI-compatible endpoint for the server's OpenAI models: Ollama (`http://localhost:11434/v1`), vLLM, OpenRouter. Called through Chat Completions, which they all speak; no key needed for a local endpoint",
    { group: 'ai' },
  ),
  CONFAB_BYOK_OPENAI_BASE_URL: variable(url(['http', 'https']), undefined, "where users' own OpenAI keys are sent; OpenAI itself when unset", { group: 'ai' }),
  CONFAB_MODELS: variable(list(model, 'provider:model entries'), [], 'models offered, comma-separated `provider:model` (e.g. `openai:llama3.1,anthropic:claude-sonnet-4-5`); a built-in list per provider when unset', { group: 'ai' }),
  CONFAB_VISION_MODELS: variable(
    list(model, 'provider:model entries'),
    [],
    'models that can see images, besides those Confab knows (OpenAI GPT-4o, GPT-4.1, GPT-5, o3, o4; Claude 3 and later; Gemini), comma-separated `provider:model`; a trailing `*` matches names that start so (e.g. `openai:llava*,openai:qwen2.5vl*` on Ollama). Other models are told an image is attached, not shown it',
    { group: 'ai' },
  ),
  CONFAB_DEFAULT_MODEL: variable(model, undefined, 'the model of conversations that name none; else the first usable', { group: 'ai' }),
  CONFAB_TITLE_MODEL: variable(model, undefined, "a cheap model for titles; else the answer's model", { group: 'ai' }),
  CONFAB_AI_TIMEOUT_MS: variable(whole('milliseconds'), 60_000, 'give up when the provider is silent this long (first piece or between pieces)', { group: 'ai' }),
  CONFAB_AI_CONTEXT_CHARS: variable(whole('characters'), 24_000, 'history sent to the model, in characters (~4 per token)', { group: 'ai' }),
  CONFAB_AI_MAX_OUTPUT_TOKENS: variable(whole('tokens'), 4096, "most tokens one answer or title may produce (the AI SDK's `maxOutputTokens`)", { group: 'ai' }),
  CONFAB_AI_ANSWERS_PER_DAY: variable(whole('answers', 0), 0, "answers per user per day on the server's keys (0: unlimited), until an admin changes it; answers on a user's own key do not count", { group: 'ai' }),
  CONFAB_AI_TOKENS_PER_DAY: variable(whole('tokens', 0), 0, "tokens (input and output) per user per day on the server's keys (0: unlimited), until an admin changes it", { group: 'ai' }),
  CONFAB_SEARCH_URL: variable(url(['http', 'https']), undefined, 'a SearXNG-compatible search endpoint (`GET <url>/search?q=…&format=json`): answers may search the web (the `web_search` tool); no web search when unset', { group: 'ai' }),
  CONFAB_SEARCH_RESULTS: variable(whole('results', 1, 20), 5, 'results one web search gives the model (titles, addresses and snippets)', { group: 'ai' }),
  CONFAB_IMAGE_MODEL: variable(model, undefined, 'an OpenAI-compatible image model (`openai:gpt-image-1`): answers may draw pictures (the `generate_image` tool), stored as attachments of the answer; none when unset', { group: 'ai' }),
  CONFAB_AI_MAX_STEPS: variable(whole('steps', 1, 20), 5, 'model requests per answer when tools are offered; the last one gets no tools, so the answer ends in words (1: no tools)', { group: 'ai' }),
  CONFAB_AI_TOOL_TIMEOUT_MS: variable(whole('milliseconds'), 30_000, 'longest one tool call (a search, an MCP tool, an image) may take; it then fails with a clear error the model sees', { group: 'ai' }),
  CONFAB_AI_TOOLS_TIME_MS: variable(whole('milliseconds'), 120_000, 'time all tool calls of one answer may take together; later calls fail at once', { group: 'ai' }),
} satisfies Record<string, Variable<unknown, unknown>>;

export type VariableName = keyof typeof VARIABLES;
type ValueOf<V> = V extends Variable<infer T, infer D> ? T | D : never;
type Values = { [K in VariableName]: ValueOf<(typeof VARIABLES)[K]> };

/** Each variable of the table, read from `env` (empty counts as unset); throws naming the first bad one. */
export function readEnvironment(env: NodeJS.ProcessEnv): Values {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(VARIABLES) as Array<[string, Variable<unknown, unknown>]>) {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      out[name] = spec.default;
      continue;
    }
    const parsed = spec.kind.parse(raw);
    if (!parsed.ok) {
      const problem = parsed.problem ? ` (${parsed.problem})` : '';
      const got = spec.secret ? ' (the value is not shown: it is secret)' : `, got ${JSON.stringify(raw)}`;
      throw new Error(`${name} must be ${spec.kind.expects}${problem}${got}`);
    }
    out[name] = parsed.value;
  }
  return out as Values;
}

/** The server's configuration: the environment through the table, then `overrides` (tests). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const v = readEnvironment(env);
  return {
    port: v.PORT,
    host: v.HOST,
    dataDir: path.resolve(v.DATA_DIR),
    databaseUrl: v.DATABASE_URL,
    databasePreparedStatements: v.CONFAB_DATABASE_PREPARED_STATEMENTS,
    databasePoolSize: v.CONFAB_DATABASE_POOL_SIZE,
    redisUrl: v.REDIS_URL,
    redisPrefix: v.CONFAB_REDIS_PREFIX,
    secret: v.CONFAB_SECRET,
    previousSecrets: v.CONFAB_PREVIOUS_SECRETS,
    origins: v.CONFAB_ORIGINS,
    publicUrl: v.CONFAB_PUBLIC_URL,
    metricsToken: v.CONFAB_METRICS_TOKEN,
    metricsAllow: v.CONFAB_METRICS_ALLOW,
    rateLimits: v.CONFAB_RATE_LIMITS,
    trustProxy: v.CONFAB_TRUST_PROXY,
    accessTokenTtlSeconds: v.CONFAB_ACCESS_TOKEN_TTL,
    refreshTokenTtlDays: v.CONFAB_REFRESH_TOKEN_TTL_DAYS,
    logLevel: v.LOG_LEVEL,
    webDir: v.CONFAB_WEB_DIR,
    fastPasswordHashing: false,
    instanceName: v.CONFAB_NAME,
    registration: v.CONFAB_REGISTRATION,
    smtp: v.CONFAB_SMTP_URL ? { url: v.CONFAB_SMTP_URL, from: v.CONFAB_SMTP_FROM } : undefined,
    externalJwt: externalJwt(v),
    webhooksAllowPrivate: v.CONFAB_WEBHOOKS_ALLOW_PRIVATE,
    oidc: oidcProviders(env),
    beforeSend: v.CONFAB_BEFORE_SEND_URL
      ? { url: v.CONFAB_BEFORE_SEND_URL, secret: v.CONFAB_BEFORE_SEND_SECRET, timeoutMs: v.CONFAB_BEFORE_SEND_TIMEOUT_MS, failClosed: v.CONFAB_BEFORE_SEND_FAIL === 'closed' }
      : undefined,
    ai: {
      keys: { openai: v.OPENAI_API_KEY, anthropic: v.ANTHROPIC_API_KEY, google: v.GOOGLE_GENERATIVE_AI_API_KEY },
      openaiBaseUrl: v.OPENAI_BASE_URL,
      byokOpenaiBaseUrl: v.CONFAB_BYOK_OPENAI_BASE_URL,
      models: v.CONFAB_MODELS,
      visionModels: v.CONFAB_VISION_MODELS,
      defaultModel: v.CONFAB_DEFAULT_MODEL,
      titleModel: v.CONFAB_TITLE_MODEL,
      idleTimeoutMs: v.CONFAB_AI_TIMEOUT_MS,
      contextChars: v.CONFAB_AI_CONTEXT_CHARS,
      checkpointMs: 500,
      maxOutputTokens: v.CONFAB_AI_MAX_OUTPUT_TOKENS,
      quota: { answersPerDay: v.CONFAB_AI_ANSWERS_PER_DAY, tokensPerDay: v.CONFAB_AI_TOKENS_PER_DAY },
      tools: aiTools(v, env),
    },
    files: {
      ...DEFAULT_FILES_OPTIONS,
      maxFileBytes: v.CONFAB_MAX_FILE_BYTES,
      uploadUrlTtlSeconds: v.CONFAB_UPLOAD_URL_TTL,
      uploadsPerHour: v.CONFAB_UPLOADS_PER_HOUR,
      uploadBytesPerDay: v.CONFAB_UPLOAD_BYTES_PER_DAY,
      pdfMaxPages: v.CONFAB_PDF_MAX_PAGES,
      pdfTimeoutMs: v.CONFAB_PDF_TIMEOUT_MS,
      s3: s3Options(v),
    },
    jobs: { ...DEFAULT_JOB_OPTIONS, pollIntervalMs: v.CONFAB_JOBS_POLL_MS },
    push: { ...DEFAULT_PUSH_OPTIONS, subject: v.CONFAB_VAPID_SUBJECT, ttlSeconds: v.CONFAB_PUSH_TTL, allowInsecureEndpoints: v.CONFAB_PUSH_ALLOW_INSECURE },
    previews: { ...DEFAULT_PREVIEW_OPTIONS, enabled: v.CONFAB_LINK_PREVIEWS, allowPrivate: v.CONFAB_PREVIEWS_ALLOW_PRIVATE },
    vapidKeys: vapidKeys(v),
    ...overrides,
  };
}

function externalJwt(v: Values): Config['externalJwt'] {
  const { CONFAB_EXTERNAL_JWT_JWKS_URL: jwksUrl, CONFAB_EXTERNAL_JWT_SECRET: secret, CONFAB_EXTERNAL_JWT_ISSUER: issuer, CONFAB_EXTERNAL_JWT_AUDIENCE: audience } = v;
  if (!jwksUrl && !secret) {
    if (issuer || audience) throw new Error('CONFAB_EXTERNAL_JWT_ISSUER and _AUDIENCE need CONFAB_EXTERNAL_JWT_JWKS_URL or CONFAB_EXTERNAL_JWT_SECRET');
    return undefined;
  }
  if (jwksUrl && secret) throw new Error('set CONFAB_EXTERNAL_JWT_JWKS_URL or CONFAB_EXTERNAL_JWT_SECRET, not both');
  if (!issuer || !audience) throw new Error('CONFAB_EXTERNAL_JWT_ISSUER and CONFAB_EXTERNAL_JWT_AUDIENCE must be set with your own sign-in');
  return { jwksUrl, secret, issuer, audience };
}

const OIDC_PREFIX = 'CONFAB_OIDC_';
const OIDC_VARIABLE = /^CONFAB_OIDC_([A-Z0-9]+)_(ISSUER|CLIENT_ID|CLIENT_SECRET|NAME)$/;

/**
 * Single sign-on providers: any number, each from CONFAB_OIDC_<ID>_ISSUER, _CLIENT_ID,
 * _CLIENT_SECRET (all three needed) and _NAME (optional). The table above holds fixed names, so
 * these are read here, as strictly: any other CONFAB_OIDC_ variable (a typo) stops the server, and
 * no message shows a value (a secret may be among them).
 */
export function oidcProviders(env: NodeJS.ProcessEnv): OidcProviderConfig[] {
  const parts = new Map<string, Partial<Record<'ISSUER' | 'CLIENT_ID' | 'CLIENT_SECRET' | 'NAME', string>>>();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(OIDC_PREFIX) || value === undefined || value === '') continue;
    const match = OIDC_VARIABLE.exec(name);
    if (!match) throw new Error(`${name} is not a single sign-on variable: use CONFAB_OIDC_<ID>_ISSUER, _CLIENT_ID, _CLIENT_SECRET or _NAME, with <ID> of capital letters and digits`);
    const [, id, part] = match as unknown as [string, string, 'ISSUER' | 'CLIENT_ID' | 'CLIENT_SECRET' | 'NAME'];
    parts.set(id, { ...parts.get(id), [part]: value });
  }
  return [...parts].sort(([a], [b]) => a.localeCompare(b)).map(([id, p]) => {
    for (const part of ['ISSUER', 'CLIENT_ID', 'CLIENT_SECRET'] as const) {
      if (!p[part]) throw new Error(`CONFAB_OIDC_${id}_${part} must be set: single sign-on provider ${id} needs CONFAB_OIDC_${id}_ISSUER, _CLIENT_ID and _CLIENT_SECRET`);
    }
    const issuer = p.ISSUER!;
    if (!oidcIssuerAllowed(issuer)) throw new Error(`CONFAB_OIDC_${id}_ISSUER must be an https: URL (http: only for localhost), got ${JSON.stringify(issuer)}`);
    return { id: id.toLowerCase(), issuer, clientId: p.CLIENT_ID!, clientSecret: p.CLIENT_SECRET!, name: p.NAME ?? id.toLowerCase() };
  });
}

/** An issuer is https:, or http: on a loopback address (development, tests). */
export function oidcIssuerAllowed(issuer: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(issuer);
  } catch {
    return false;
  }
  if (parsed.protocol === 'https:') return true;
  return parsed.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(parsed.hostname);
}

function aiTools(v: Values, env: NodeJS.ProcessEnv): AiToolsConfig {
  if (v.CONFAB_IMAGE_MODEL && !v.CONFAB_IMAGE_MODEL.startsWith('openai:')) {
    throw new Error(`CONFAB_IMAGE_MODEL must be an OpenAI-compatible image model (openai:<model>, e.g. openai:gpt-image-1), got ${JSON.stringify(v.CONFAB_IMAGE_MODEL)}`);
  }
  return {
    searchUrl: v.CONFAB_SEARCH_URL,
    searchResults: v.CONFAB_SEARCH_RESULTS,
    imageModel: v.CONFAB_IMAGE_MODEL,
    mcpServers: mcpServers(env),
    maxSteps: v.CONFAB_AI_MAX_STEPS,
    callTimeoutMs: v.CONFAB_AI_TOOL_TIMEOUT_MS,
    answerBudgetMs: v.CONFAB_AI_TOOLS_TIME_MS,
  };
}

const MCP_PREFIX = 'CONFAB_MCP_';
const MCP_PARTS = ['URL', 'TOKEN', 'COMMAND', 'ARGS', 'ENV', 'TOOLS'] as const;
type McpPart = (typeof MCP_PARTS)[number];
const MCP_VARIABLE = new RegExp(`^CONFAB_MCP_([A-Z0-9]+)_(${MCP_PARTS.join('|')})$`);
const STRINGS = z.array(z.string().max(4096)).max(100);

/**
 * MCP servers whose tools the assistant may call, each from CONFAB_MCP_<ID>_*: either _URL (a
 * streamable-HTTP endpoint, with _TOKEN sent as a bearer token) or _COMMAND (a program the server
 * starts and talks to over stdio, with _ARGS a JSON array of its arguments and _ENV a JSON object
 * of its environment: it gets nothing else of the server's environment but PATH, HOME and the
 * like). _TOOLS narrows what is offered to a comma-separated list of its tools. Read like
 * CONFAB_OIDC_<ID>_*: any other CONFAB_MCP_ variable (a typo) stops the server, and no message
 * shows a value (tokens and environments hold secrets).
 */
export function mcpServers(env: NodeJS.ProcessEnv): McpServerConfig[] {
  const parts = new Map<string, Partial<Record<McpPart, string>>>();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(MCP_PREFIX) || value === undefined || value === '') continue;
    const match = MCP_VARIABLE.exec(name);
    if (!match) throw new Error(`${name} is not an MCP server variable: use CONFAB_MCP_<ID>_URL, _TOKEN, _COMMAND, _ARGS, _ENV or _TOOLS, with <ID> of capital letters and digits`);
    const [, id, part] = match as unknown as [string, string, McpPart];
    parts.set(id, { ...parts.get(id), [part]: value });
  }
  const json = <T>(id: string, part: McpPart, schema: z.ZodType<T>, expects: string): T | undefined => {
    const raw = parts.get(id)?.[part];
    if (raw === undefined) return undefined;
    try {
      return schema.parse(JSON.parse(raw));
    } catch {
      throw new Error(`CONFAB_MCP_${id}_${part} must be ${expects} (the value is not shown: it may hold secrets)`);
    }
  };
  return [...parts].sort(([a], [b]) => a.localeCompare(b)).map(([id, p]): McpServerConfig => {
    const tools = p.TOOLS?.split(',').map((t) => t.trim()).filter(Boolean);
    const common = { id: id.toLowerCase(), tools: tools?.length ? tools : undefined };
    if (p.URL && p.COMMAND) throw new Error(`MCP server ${id}: set CONFAB_MCP_${id}_URL or CONFAB_MCP_${id}_COMMAND, not both`);
    if (p.URL) {
      if (p.ARGS || p.ENV) throw new Error(`MCP server ${id}: CONFAB_MCP_${id}_ARGS and _ENV go with _COMMAND, not _URL`);
      if (!/^https?:\/\/[^\s]+$/.test(p.URL) || !URL.canParse(p.URL)) throw new Error(`CONFAB_MCP_${id}_URL must be an http(s) URL`);
      return { ...common, transport: 'http', url: p.URL, token: p.TOKEN };
    }
    if (p.COMMAND) {
      if (p.TOKEN) throw new Error(`MCP server ${id}: CONFAB_MCP_${id}_TOKEN goes with _URL, not _COMMAND (pass secrets to a program in _ENV)`);
      const args = json(id, 'ARGS', STRINGS, 'a JSON array of strings, e.g. ["-y","some-mcp-server"]') ?? [];
      const childEnv = json(id, 'ENV', z.record(z.string(), z.string()), 'a JSON object of strings, e.g. {"API_KEY":"…"}') ?? {};
      return { ...common, transport: 'stdio', command: p.COMMAND, args, env: childEnv };
    }
    throw new Error(`MCP server ${id} needs CONFAB_MCP_${id}_URL (streamable HTTP) or CONFAB_MCP_${id}_COMMAND (a program over stdio)`);
  });
}

function s3Options(v: Values): FilesOptions['s3'] {
  if (!v.CONFAB_S3_BUCKET) return undefined;
  const { CONFAB_S3_ENDPOINT: endpoint, CONFAB_S3_ACCESS_KEY_ID: accessKeyId, CONFAB_S3_SECRET_ACCESS_KEY: secretAccessKey } = v;
  if (!endpoint || !accessKeyId || !secretAccessKey) {
    const missing = Object.entries({ CONFAB_S3_ENDPOINT: endpoint, CONFAB_S3_ACCESS_KEY_ID: accessKeyId, CONFAB_S3_SECRET_ACCESS_KEY: secretAccessKey }).filter(([, value]) => !value);
    throw new Error(`CONFAB_S3_BUCKET is set, so ${missing.map(([name]) => name).join(', ')} must be too`);
  }
  return { endpoint, bucket: v.CONFAB_S3_BUCKET, region: v.CONFAB_S3_REGION, accessKeyId, secretAccessKey, prefix: v.CONFAB_S3_PREFIX, pathStyle: v.CONFAB_S3_PATH_STYLE };
}

function vapidKeys(v: Values): VapidKeys | undefined {
  const { CONFAB_VAPID_PUBLIC_KEY: publicKey, CONFAB_VAPID_PRIVATE_KEY: privateKey } = v;
  if (!publicKey && !privateKey) return undefined;
  if (!publicKey || !privateKey) throw new Error('CONFAB_VAPID_PUBLIC_KEY and CONFAB_VAPID_PRIVATE_KEY must both be set, as base64url P-256 keys (npx web-push generate-vapid-keys)');
  return { publicKey, privateKey };
}

/** The `confab` command's configuration: the server's, but quiet (warnings only) unless LOG_LEVEL says otherwise: what it prints is its answer. */
export function loadCommandLineConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig({ ...env, LOG_LEVEL: env.LOG_LEVEL || 'warn' });
}
