import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics; one registry per server instance so tests can run several in one process. */
export interface Metrics {
  registry: Registry;
  observeHttp(method: string, route: string, status: number, seconds: number): void;
  socketEvents: Counter<'event' | 'outcome'>;
  messagesSent: Counter<'transport'>;
  aiAnswers: Counter<'status'>;
  /** Database writes of AI answer text (checkpoints and final writes). */
  aiTextWrites: Counter;
}

export function createMetrics(withDefaults: boolean): Metrics {
  const registry = new Registry();
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'confab_' });
  const httpDuration = new Histogram({
    name: 'confab_http_request_duration_seconds',
    help: 'REST request duration by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return {
    registry,
    observeHttp: (method, route, status, seconds) => httpDuration.observe({ method, route, status: String(status) }, seconds),
    socketEvents: new Counter({ name: 'confab_socket_events_total', help: 'Socket.IO client events by outcome (ok, error, unknown)', labelNames: ['event', 'outcome'], registers: [registry] }),
    aiAnswers: new Counter({ name: 'confab_ai_answers_total', help: 'AI answers finished, by final status', labelNames: ['status'], registers: [registry] }),
    aiTextWrites: new Counter({ name: 'confab_ai_text_writes_total', help: 'Database writes of AI answer text (checkpoints and final writes)', registers: [registry] }),
    messagesSent: new Counter({ name: 'confab_messages_sent_total', help: 'Messages stored', labelNames: ['transport'], registers: [registry] }),
  };
}
