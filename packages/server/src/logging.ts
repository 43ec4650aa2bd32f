import { pino, type Logger, type LoggerOptions } from 'pino';

/**
 * What the server logs, whatever logger it is given: requests by method and route (never the query
 * string: `/api/search?query=…` holds the search words, signed file links hold their signature),
 * responses by status, and errors by type, code and where they were thrown, never by the values
 * they carry. An error can carry its input: the AI SDK's APICallError holds the whole request body
 * (system prompt, custom instructions, decrypted history), a PostgreSQL error quotes the value it
 * refused, V8's JSON.parse quotes the text it could not parse, a Zod error lists what it received.
 * See docs/security.md, "Logs".
 */

/** Fields whose values are secrets or people's text, wherever they appear in a logged object. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  ...['password', 'currentPassword', 'newPassword', 'token', 'accessToken', 'refreshToken', 'apiKey', 'secret', 'content', 'query', 'text', 'prompt', 'system', 'instructions'].flatMap(
    (key) => [key, `*.${key}`],
  ),
];

interface LoggedRequest {
  id?: string;
  method?: string;
  url?: string;
  ip?: string;
  routeOptions?: { url?: string };
}

/** A request by its route: `/api/messages/:id`, never the URL as sent (its query string holds search words and link signatures). */
function request(req: LoggedRequest) {
  return { id: req.id, method: req.method, route: req.routeOptions?.url ?? 'unmatched', remoteAddress: req.ip };
}

function response(res: { statusCode?: number }) {
  return { statusCode: res.statusCode };
}

/**
 * Error classes whose messages are ours or the system's (errno messages name a syscall and our own
 * paths), written without the input that caused them. Every other message is shown with its quoted
 * parts removed, and errors that exist to carry a provider's request or a parser's input show none.
 */
const QUOTED = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`|“[^”]*”|«[^»]*»/g;
const SILENT_TYPES = /^(AI_|ZodError$|\$ZodError$)/;
/** Identifiers worth keeping from database and system errors (names of our schema, not values). */
const KEPT_FIELDS = ['code', 'errno', 'syscall', 'severity', 'routine', 'table', 'column', 'constraint'] as const;
const MAX_MESSAGE = 300;
const MAX_DEPTH = 3;

export interface SafeError {
  type: string;
  message?: string;
  status?: number;
  stack?: string;
  cause?: SafeError | undefined;
  [field: string]: unknown;
}

export function safeError(error: unknown, depth = 0): SafeError | undefined {
  if (error === undefined || error === null) return undefined;
  if (typeof error !== 'object') return { type: typeof error };
  const e = error as Record<string, unknown> & { name?: unknown; message?: unknown; stack?: unknown; cause?: unknown };
  const type = typeof e.name === 'string' && e.name !== 'Error' ? e.name : (e.constructor?.name ?? 'Error');
  const out: SafeError = { type };
  if (typeof e.message === 'string' && !SILENT_TYPES.test(type)) out.message = e.message.replace(QUOTED, '…').slice(0, MAX_MESSAGE);
  const status = e.statusCode ?? e.status;
  if (typeof status === 'number') out.status = status;
  for (const field of KEPT_FIELDS) {
    const value = e[field];
    if ((typeof value === 'string' && /^[\w.-]{1,64}$/.test(value)) || typeof value === 'number') out[field] = value;
  }
  // The frames only: the first lines repeat the message.
  if (typeof e.stack === 'string') out.stack = e.stack.split('\n').filter((line) => line.startsWith('    at ')).join('\n');
  if (e.cause !== undefined && depth < MAX_DEPTH) out.cause = safeError(e.cause, depth + 1);
  // AggregateError (e.g. a connection tried on IPv4 and IPv6).
  if (Array.isArray(e.errors) && depth < MAX_DEPTH) out.errors = e.errors.slice(0, 5).map((inner) => safeError(inner, depth + 1));
  return out;
}

export const LOG_SERIALIZERS = { req: request, res: response, err: (error: unknown) => safeError(error) } as const;

/**
 * The server's logger: the given one (tests, embedders) or a new one at `level`, with the
 * serializers and redactions above applied in either case.
 */
export function serverLogger(level: string, given?: Logger): Logger {
  const options = { serializers: LOG_SERIALIZERS, redact: { paths: REDACT_PATHS, censor: '[redacted]' } } satisfies Pick<LoggerOptions, 'serializers' | 'redact'>;
  return given ? given.child({}, options) : pino({ level, ...options });
}
