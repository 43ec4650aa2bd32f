import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics; one registry per server instance so tests can run several in one process. */
export interface Metrics {
  registry: Registry;
  observeHttp(method: string, route: string, status: number, seconds: number): void;
  socketEvents: Counter<'event' | 'outcome'>;
  /** From a client event's arrival to its ack (a send's ack latency), by event. */
  socketEventSeconds: Histogram<'event'>;
  /** Emits of this node to a room (a conversation's or a user's sockets, on every node), by wire event. */
  realtimeEmits: Counter<'event'>;
  messagesSent: Counter<'transport'>;
  /** Sends stored by one statement together (the group commit of operations/sendBatch.ts). */
  sendBatchSize: Histogram;
  aiAnswers: Counter<'status'>;
  /** Tokens the providers reported, input and output. */
  aiTokens: Counter<'direction'>;
  /** Database writes of AI answer text (checkpoints and final writes). */
  aiTextWrites: Counter;
  /** From an event to its webhook delivery's 2xx answer. */
  webhookLagSeconds: Histogram;
  /** Sockets connected to this node, and what the database holds in wait: set by the parts that know (server.ts, the gateway). */
  sources: {
    connections?: () => number;
    /** Jobs waiting (pending) and webhook deliveries waiting, read at each scrape. */
    backlog?: () => Promise<{ jobs: number; webhookDeliveries: number }>;
  };
}

/** A scrape never waits longer than this for the database: the backlog gauges are then left out. */
const BACKLOG_TIMEOUT_MS = 2_000;

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
  const sources: Metrics['sources'] = {};
  new Gauge({
    name: 'confab_socket_connections',
    help: 'Socket.IO connections to this node',
    registers: [registry],
    collect() {
      this.set(sources.connections?.() ?? 0);
    },
  });
  const jobs = new Gauge({ name: 'confab_job_queue_depth', help: 'Jobs waiting in the durable queue (all nodes)', registers: [registry] });
  const deliveries = new Gauge({ name: 'confab_webhook_deliveries_pending', help: 'Webhook deliveries not yet delivered (all nodes)', registers: [registry] });
  // One database read per scrape for both gauges, bounded in time: a slow database must not hang /metrics.
  new Gauge({
    name: 'confab_metrics_backlog_read_ok',
    help: '1 when the last scrape could read the job and webhook backlogs from the database',
    registers: [registry],
    async collect() {
      if (!sources.backlog) return this.set(0);
      let timer: NodeJS.Timeout | undefined;
      try {
        const read = await Promise.race([
          sources.backlog(),
          new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), BACKLOG_TIMEOUT_MS))),
        ]);
        jobs.set(read.jobs);
        deliveries.set(read.webhookDeliveries);
        this.set(1);
      } catch {
        this.set(0);
      } finally {
        clearTimeout(timer);
      }
    },
  });
  return {
    registry,
    sources,
    observeHttp: (method, route, status, seconds) => httpDuration.observe({ method, route, status: String(status) }, seconds),
    socketEvents: new Counter({ name: 'confab_socket_events_total', help: 'Socket.IO client events by outcome (ok, error, unknown)', labelNames: ['event', 'outcome'], registers: [registry] }),
    socketEventSeconds: new Histogram({
      name: 'confab_socket_event_duration_seconds',
      help: "From a client event's arrival to its ack, by event (chat:message_send: the send's ack latency)",
      labelNames: ['event'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    realtimeEmits: new Counter({ name: 'confab_realtime_emits_total', help: "This node's emits to rooms, by wire event", labelNames: ['event'], registers: [registry] }),
    aiAnswers: new Counter({ name: 'confab_ai_answers_total', help: 'AI answers finished, by final status', labelNames: ['status'], registers: [registry] }),
    aiTokens: new Counter({ name: 'confab_ai_tokens_total', help: 'Tokens the AI providers reported, by direction (input, output)', labelNames: ['direction'], registers: [registry] }),
    aiTextWrites: new Counter({ name: 'confab_ai_text_writes_total', help: 'Database writes of AI answer text (checkpoints and final writes)', registers: [registry] }),
    messagesSent: new Counter({ name: 'confab_messages_sent_total', help: 'Messages stored', labelNames: ['transport'], registers: [registry] }),
    sendBatchSize: new Histogram({
      name: 'confab_send_batch_size',
      help: 'Sends stored by one database statement (group commit)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers: [registry],
    }),
    webhookLagSeconds: new Histogram({
      name: 'confab_webhook_delivery_lag_seconds',
      help: "From an event to its webhook delivery's 2xx answer",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
  };
}
