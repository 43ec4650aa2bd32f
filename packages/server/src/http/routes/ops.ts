import type { Context } from '../../context.ts';
import type { Metrics } from '../../metrics.ts';
import { ping } from '../../storage/health.ts';
import type { App } from '../app.ts';
import { createMetricsAccess } from '../metricsAccess.ts';

/** Health, readiness, metrics and the OpenAPI document. */
export function opsRoutes(app: App, ctx: Context, metrics: Metrics, extraReadiness: () => Promise<void> = async () => {}) {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (request, reply) => {
    try {
      await ping(ctx.db);
      await extraReadiness();
      return { status: 'ready' };
    } catch (error) {
      request.log.warn({ err: error }, 'not ready');
      return reply.status(503).send({ error: { code: 'UNAVAILABLE', message: 'a dependency is not answering' } });
    }
  });
  const metricsAccess = createMetricsAccess(ctx.config.metricsToken, ctx.config.metricsAllow);
  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    metricsAccess(request.headers, request.socket.remoteAddress);
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  app.get('/api/docs', { schema: { hide: true } }, async () => app.swagger());
}
