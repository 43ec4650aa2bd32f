import { ERROR_HTTP_STATUS, ErrorBody, type ErrorCode } from '@confab/protocol';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isPublicRoute } from './auth.ts';

/**
 * Completes each route's entry in the OpenAPI description (GET /api/docs) centrally, so generated
 * clients work without every route file repeating it: an `operationId` and a `summary` derived from
 * the method and path, the security (bearer on every route but the public ones of http/auth.ts) and
 * the error answers in the contract's shape that the route can give. What a route states itself wins.
 */

type Transform = typeof jsonSchemaTransform;
type TransformInput = Parameters<Transform>[0];

const ERROR_DESCRIPTIONS: Record<ErrorCode, string> = {
  VALIDATION_ERROR: 'VALIDATION_ERROR: the input does not match the schema',
  UNAUTHENTICATED: 'UNAUTHENTICATED: no valid access token',
  FORBIDDEN: 'FORBIDDEN: the caller may not do this (or the page’s origin may not call the API)',
  NOT_FOUND: 'NOT_FOUND: no such object, or the caller may not see it',
  CONFLICT: 'CONFLICT: clashes with the current state (e.g. the e-mail or handle is taken)',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE: the body is over its limit',
  RATE_LIMITED: 'RATE_LIMITED: too many requests; see Retry-After',
  UNAVAILABLE: 'UNAVAILABLE: a dependency is down, or the server is shutting down',
  INTERNAL: 'INTERNAL: a bug on the server’s side',
};

/** Public routes that count requests per address (operations/auth.ts, operations/accounts.ts, operations/shares.ts). */
const RATE_LIMITED_PUBLIC = /^\/api\/(auth\/(register|login|refresh|password-reset)|shared\/)/;
/** Routes that answer CONFLICT where the route does not declare it itself. */
// (A route starting with DELETE is joined from its parts: the lint's SQL check would read it as a statement.)
const CONFLICTS = new Set(['POST /api/auth/register', 'PATCH /api/users/me', 'POST /api/auth/totp/enable', 'POST /api/attachments', ['DELETE', '/api/users/me/sso/:id'].join(' ')]);

let errorSchema: Record<string, unknown> | undefined;
function errorResponse(code: ErrorCode) {
  errorSchema ??= z.toJSONSchema(ErrorBody, { target: 'openapi-3.0', io: 'output' }) as Record<string, unknown>;
  const { $schema: _ignored, ...schema } = errorSchema;
  return { description: ERROR_DESCRIPTIONS[code], ...schema };
}

/** The error codes a route can answer with, from what every route goes through and what it takes. */
export function routeErrors(method: string, url: string, schema: Record<string, unknown> | undefined): ErrorCode[] {
  const publicRoute = isPublicRoute(url);
  const withBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
  const codes: ErrorCode[] = [];
  if (withBody || schema?.querystring || schema?.params) codes.push('VALIDATION_ERROR');
  if (!publicRoute) codes.push('UNAUTHENTICATED');
  codes.push('FORBIDDEN'); // the origin policy, and each operation's own rules
  if (url.includes('/:')) codes.push('NOT_FOUND');
  if (CONFLICTS.has(`${method} ${url}`)) codes.push('CONFLICT');
  if (withBody) codes.push('PAYLOAD_TOO_LARGE');
  if (!publicRoute || RATE_LIMITED_PUBLIC.test(url)) codes.push('RATE_LIMITED');
  codes.push('INTERNAL', 'UNAVAILABLE');
  return codes;
}

const words = (segment: string) => segment.split(/[-_.]/).filter(Boolean);
const capital = (word: string) => word.charAt(0).toUpperCase() + word.slice(1);
const singular = (word: string) => (word.endsWith('ies') ? `${word.slice(0, -3)}y` : word.endsWith('s') && !word.endsWith('ss') ? word.slice(0, -1) : word);

/**
 * A stable camelCase name from the method and path: the method, then the literal segments after
 * /api, singular before a parameter (`GET /api/conversations/:id/messages` → getConversationMessages,
 * `DELETE /api/messages/:id/reactions/:emoji` → deleteMessageReaction). `long` also names the
 * parameters (…ByIdReactionByEmoji), for the rare path whose short name is taken.
 */
export function operationName(method: string, url: string, long = false): string {
  const segments = url.replace(/^\/api\//, '/').split('/').filter(Boolean);
  const parts: string[] = [method.toLowerCase()];
  segments.forEach((segment, i) => {
    if (segment.startsWith(':')) {
      if (long) parts.push('By', ...words(segment.slice(1)).map(capital));
      return;
    }
    const next = segments[i + 1];
    const ws = words(segment);
    if (next?.startsWith(':') && ws.length > 0) ws[ws.length - 1] = singular(ws[ws.length - 1]!);
    parts.push(...ws.map(capital));
  });
  return parts.join('');
}

/** "getConversationMessages" → "Get conversation messages". */
function summaryOf(operationId: string): string {
  const spaced = operationId.replace(/([A-Z])/g, ' $1').toLowerCase().trim();
  return capital(spaced);
}

/**
 * @fastify/swagger's `transform`: the Zod schemas to JSON Schema (fastify-type-provider-zod), then
 * the names, security and error answers. The names taken are remembered per server, in route order.
 */
export function createOpenApiTransform(): Transform {
  const taken = new Map<string, string>();
  return (input: TransformInput) => {
    const result = jsonSchemaTransform(input);
    const schema = result.schema as Record<string, unknown>;
    if (schema.hide) return result;
    const method = String(Array.isArray(input.route.method) ? input.route.method[0] : input.route.method).toUpperCase();
    const url = input.url;
    const key = `${method} ${url}`;

    if (typeof schema.operationId !== 'string') {
      let name = operationName(method, url);
      if ((taken.get(name) ?? key) !== key) name = operationName(method, url, true);
      schema.operationId = name;
    }
    taken.set(schema.operationId as string, key);
    if (typeof schema.summary !== 'string') schema.summary = summaryOf(schema.operationId as string);
    if (!Array.isArray(schema.security)) schema.security = isPublicRoute(url) ? [] : [{ bearer: [] }];

    const response = { ...((schema.response as Record<string, unknown> | undefined) ?? {}) };
    if (Object.keys(response).length === 0) response['200'] = { description: 'Success' };
    for (const code of routeErrors(method, url, input.route.schema as Record<string, unknown> | undefined)) {
      response[String(ERROR_HTTP_STATUS[code])] ??= errorResponse(code);
    }
    schema.response = response;
    return result;
  };
}
