import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import { ConfabError, LIMITS, nestedDeeperThan, PROTOCOL_VERSION } from '@confab/protocol';
import type { Logger } from 'pino';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest, type RawReplyDefaultExpression, type RawRequestDefaultExpression, type RawServerDefault } from 'fastify';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Context } from '../context.ts';
import type { Metrics } from '../metrics.ts';
import { requireApiKey, isKeyRoute } from './apiKeys.ts';
import { isPublicRoute, requireUser } from './auth.ts';
import { sendError } from './errors.ts';
import { createOpenApiTransform } from './openapi.ts';
import { createOriginPolicy } from './origins.ts';
import { accountRoutes } from './routes/accounts.ts';
import { adminRoutes } from './routes/admin.ts';
import { botRoutes } from './routes/bots.ts';
import { incomingHookRoutes } from './routes/hooks.ts';
import { shareRoutes } from './routes/shares.ts';
import { platformRoutes } from './routes/platform.ts';
import { ssoRoutes } from './routes/sso.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { aiRoutes } from './routes/ai.ts';
import { attachmentRoutes } from './routes/attachments.ts';
import { authRoutes } from './routes/auth.ts';
import { channelRoutes } from './routes/channels.ts';
import { consentRoutes } from './routes/consent.ts';
import { conversationRoutes } from './routes/conversations.ts';
import { mentionRoutes } from './routes/mentions.ts';
import { messageRoutes } from './routes/messages.ts';
import { threadRoutes } from './routes/threads.ts';
import { totpRoutes } from './routes/totp.ts';
import { opsRoutes } from './routes/ops.ts';
import { previewRoutes } from './routes/previews.ts';
import { projectRoutes } from './routes/projects.ts';
import { pushRoutes } from './routes/push.ts';
import { userRoutes } from './routes/users.ts';
import { webRoutes } from './routes/web.ts';

export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;

const REQUEST_ID = /^[\w.-]{1,100}$/;

export async function buildHttpApp(ctx: Context, metrics: Metrics, extraReadiness?: () => Promise<void>): Promise<App> {
  const app = Fastify({
    loggerInstance: ctx.log as FastifyBaseLogger,
    bodyLimit: LIMITS.bodyBytes,
    // Keep a client's own request id when it is sane, so logs can be joined across services.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    trustProxy: ctx.config.trustProxy,
    return503OnClosing: true,
  }).withTypeProvider<ZodTypeProvider>();

  let shuttingDown = false;
  app.setValidatorCompiler(validatorCompiler);
  // Responses are built from protocol types by the operations; serialize them as they are.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.decorateRequest('userId', undefined);
  app.decorateRequest('sessionId', undefined);

  const origins = createOriginPolicy(ctx.config.publicUrl, ctx.config.origins, ctx.log);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // The API and metrics, not the web app's files: a page that may not call the API may still load them.
    const url = request.routeOptions.url;
    if ((url?.startsWith('/api/') || url === '/metrics') && !origins.allows(request.headers)) {
      throw new ConfabError('FORBIDDEN', 'this page may not call the API: its origin is not allowed (CONFAB_PUBLIC_URL, CONFAB_ORIGINS)');
    }
    if (isKeyRoute(url)) await requireApiKey(ctx, request);
    else if (!isPublicRoute(url)) await requireUser(ctx, request);
  });
  // JSON.parse takes any depth, but what handles the parsed body may recurse (JSON.stringify for a
  // JSON column, PostgreSQL's jsonb parser): too deep is the client's error, not a 500.
  app.addHook('preValidation', async (request) => {
    if (typeof request.body === 'object' && nestedDeeperThan(request.body, LIMITS.jsonDepth)) {
      throw new ConfabError('VALIDATION_ERROR', `JSON bodies must nest at most ${LIMITS.jsonDepth} levels deep`);
    }
  });
  // Every later log line of the request (its errors, "request completed") says whose and which
  // conversation's it was, beside its request id, so an operator can follow one conversation.
  app.addHook('preHandler', async (request) => {
    const conversationId = conversationIdOf(request);
    // Fastify's request logger is a pino child logger of ctx.log.
    if (request.userId || conversationId) (request.log as Logger).setBindings({ ...(request.userId ? { userId: request.userId } : {}), ...(conversationId ? { conversationId } : {}) });
  });
  // While shutting down, in-flight requests finish but their keep-alive connections must not
  // keep the server open: tell clients to close them after this response.
  app.addHook('onSend', async (_request, reply) => {
    if (shuttingDown) reply.header('connection', 'close');
  });
  app.addHook('preClose', async () => {
    shuttingDown = true;
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.observeHttp(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((error, request, reply) => sendError(request, reply, error));
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` } }),
  );

  await app.register(swagger, {
    openapi: {
      info: { title: 'Confab API', version: `${PROTOCOL_VERSION}.0.0`, description: 'REST half of the Confab contract. Errors: { error: { code, message, details? } }.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
    // operationIds, summaries, security and error answers for every route (http/openapi.ts)
    transform: createOpenApiTransform(),
  });

  opsRoutes(app, ctx, metrics, extraReadiness);
  authRoutes(app, ctx);
  userRoutes(app, ctx);
  conversationRoutes(app, ctx);
  projectRoutes(app, ctx);
  messageRoutes(app, ctx);
  channelRoutes(app, ctx);
  threadRoutes(app, ctx);
  mentionRoutes(app, ctx);
  previewRoutes(app, ctx);
  attachmentRoutes(app, ctx);
  pushRoutes(app, ctx);
  aiRoutes(app, ctx);

  adminRoutes(app, ctx);

  accountRoutes(app, ctx);

  totpRoutes(app, ctx);

  consentRoutes(app, ctx);

  platformRoutes(app, ctx);

  botRoutes(app, ctx);

  webhookRoutes(app, ctx);

  incomingHookRoutes(app, ctx);

  shareRoutes(app, ctx);

  ssoRoutes(app, ctx);
  // The web app at /: registered last, so every API route wins over its wildcard.
  await webRoutes(app, ctx.config.webDir);
  return app;
}

/** The conversation a request is about: its `:conversationId`, the `:id` of /api/conversations/:id…, or its body's `conversationId`. */
function conversationIdOf(request: FastifyRequest): string | undefined {
  const params = request.params as Record<string, unknown> | undefined;
  const body = request.body as Record<string, unknown> | undefined;
  const id = params?.conversationId ?? (request.routeOptions.url?.startsWith('/api/conversations/:id') ? params?.id : undefined) ?? (typeof body === 'object' && body !== null ? body.conversationId : undefined);
  return typeof id === 'string' && id.length <= 64 ? id : undefined;
}
