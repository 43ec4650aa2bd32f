import type { Queryable } from './db.ts';

/** webhooks: an admin's outgoing webhook (the secret encrypted like message content). */
export interface WebhookRow {
  id: string;
  url: string;
  events: string[];
  secret_enc: string;
  enabled: boolean;
  disabled_reason: string | null;
  failing_since: Date | null;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface DeliveryRow {
  id: string;
  webhook_id: string;
  event_id: string;
  event_type: string;
  conversation_id: string | null;
  seq: number | null;
  body: string;
  ref: Record<string, unknown> | null;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  next_attempt_at: Date;
  created_at: Date;
  delivered_at: Date | null;
  n: string;
}

export interface AttemptRow {
  id: string;
  delivery_id: string;
  at: Date;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

const WEBHOOK_COLUMNS = 'id, url, events, secret_enc, enabled, disabled_reason, failing_since, created_by, created_at, updated_at';
const DELIVERY_COLUMNS = 'id, webhook_id, event_id, event_type, conversation_id, seq, body, ref, status, attempts, next_attempt_at, created_at, delivered_at, n::text AS n';

export async function insertWebhook(db: Queryable, w: { id: string; url: string; events: string[]; secretEnc: string; createdBy: string | null }): Promise<WebhookRow> {
  const rows = await db.query<WebhookRow>(
    `INSERT INTO webhooks (id, url, events, secret_enc, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING ${WEBHOOK_COLUMNS}`,
    [w.id, w.url, w.events, w.secretEnc, w.createdBy],
  );
  return rows[0]!;
}

export async function findWebhook(db: Queryable, id: string): Promise<WebhookRow | undefined> {
  return (await db.query<WebhookRow>(`SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1`, [id]))[0];
}

export function listWebhookRows(db: Queryable): Promise<WebhookRow[]> {
  return db.query<WebhookRow>(`SELECT ${WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_at DESC, id DESC`);
}

export function listEnabledWebhooks(db: Queryable): Promise<WebhookRow[]> {
  return db.query<WebhookRow>(`SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE enabled`);
}

/** Changes what is given; enabling again clears the failure record. */
export async function updateWebhookRow(db: Queryable, id: string, patch: { url?: string; events?: string[]; enabled?: boolean }): Promise<WebhookRow | undefined> {
  const rows = await db.query<WebhookRow>(
    `UPDATE webhooks SET url = coalesce($2, url), events = coalesce($3, events), enabled = coalesce($4, enabled),
       failing_since = CASE WHEN $4 IS TRUE THEN NULL ELSE failing_since END,
       disabled_reason = CASE WHEN $4 IS TRUE THEN NULL WHEN $4 IS FALSE THEN 'disabled by an admin' ELSE disabled_reason END,
       updated_at = now()
     WHERE id = $1 RETURNING ${WEBHOOK_COLUMNS}`,
    [id, patch.url ?? null, patch.events ?? null, patch.enabled ?? null],
  );
  return rows[0];
}

export async function deleteWebhookRow(db: Queryable, id: string): Promise<boolean> {
  return (await db.query(`DELETE FROM webhooks WHERE id = $1 RETURNING id`, [id])).length > 0;
}

/** Each trigger (migration 15) and the events it writes deliveries for. */
const TRIGGERS: { table: string; name: string; events: string[] }[] = [
  { table: 'messages', name: 'confab_webhook_messages', events: ['message.created', 'message.updated', 'message.deleted', 'ai.answer.completed'] },
  { table: 'message_reactions', name: 'confab_webhook_reactions', events: ['reaction.changed'] },
  { table: 'conversations', name: 'confab_webhook_conversations', events: ['conversation.created', 'conversation.deleted'] },
  { table: 'conversations', name: 'confab_webhook_conversations_update', events: ['conversation.updated'] },
  { table: 'conversation_members', name: 'confab_webhook_members', events: ['member.added', 'member.removed'] },
  { table: 'users', name: 'confab_webhook_users', events: ['user.created'] },
];

/**
 * Enables exactly the triggers whose events some enabled webhook wants, and disables the others:
 * with no webhooks (or none wanting a table's events) no trigger runs on that table's writes.
 * Each ALTER is its own statement (its own transaction on the database itself), so it holds one
 * table's lock at a time and cannot deadlock with sends. Idempotent; every node runs it now and
 * then, which also repairs a change interrupted by a crash.
 */
export async function syncWebhookTriggers(db: Queryable): Promise<void> {
  const wanted = new Set((await db.query<{ event: string }>(`SELECT DISTINCT unnest(events) AS event FROM webhooks WHERE enabled`)).map((r) => r.event));
  const current = await db.query<{ tgname: string; tgenabled: string }>(`SELECT tgname, tgenabled FROM pg_trigger WHERE tgname LIKE 'confab_webhook_%' AND NOT tgisinternal`);
  const enabled = new Map(current.map((t) => [t.tgname, t.tgenabled !== 'D']));
  for (const t of TRIGGERS) {
    const want = t.events.some((e) => wanted.has(e));
    if (enabled.get(t.name) === want) continue;
    await db.query(`ALTER TABLE ${t.table} ${want ? 'ENABLE' : 'DISABLE'} TRIGGER ${t.name}`);
  }
}

// ---- the delivery log

export async function findDelivery(db: Queryable, webhookId: string, deliveryId: string): Promise<DeliveryRow | undefined> {
  return (await db.query<DeliveryRow>(`SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 AND id = $2`, [webhookId, deliveryId]))[0];
}

/** Newest first; `after` is the (created_at, n) of the last one of the previous page. */
export function listDeliveryRows(db: Queryable, webhookId: string, limit: number, after?: { n: string }): Promise<DeliveryRow[]> {
  return db.query<DeliveryRow>(
    `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 AND ($2::bigint IS NULL OR n < $2::bigint) ORDER BY webhook_deliveries.n DESC LIMIT $3`,
    [webhookId, after?.n ?? null, limit],
  );
}

export function findAttempts(db: Queryable, deliveryIds: string[]): Promise<AttemptRow[]> {
  if (deliveryIds.length === 0) return Promise.resolve([]);
  return db.query<AttemptRow>(`SELECT id, delivery_id, at, status_code, error, duration_ms FROM webhook_attempts WHERE delivery_id = ANY($1) ORDER BY at, id`, [deliveryIds]);
}

/** Due again at once (a manual retry, also of a failed one). */
export async function requeueDelivery(db: Queryable, deliveryId: string): Promise<void> {
  await db.query(`UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(), locked_until = NULL WHERE id = $1`, [deliveryId]);
}

// ---- the deliverer

/** The first pending delivery of each (webhook, conversation) whose webhook is enabled, if due and free: what may be sent now. */
/**
 * The due heads of pending (webhook, conversation) streams, oldest first, at most `perWebhook` of
 * each webhook: an endpoint with a large backlog (older, so first) would otherwise fill the list,
 * and the deliverer, which starts at most `perWebhook` streams per endpoint, would find no head of
 * any other endpoint to start.
 */
export function findDueHeads(db: Queryable, limit: number, perWebhook: number): Promise<{ id: string; webhook_id: string; stream: string }[]> {
  return db.query(
    `SELECT id, webhook_id, stream FROM (
       SELECT d.id, d.webhook_id, d.stream, d.next_attempt_at,
              row_number() OVER (PARTITION BY d.webhook_id ORDER BY d.next_attempt_at) AS rank
       FROM (
         SELECT DISTINCT ON (webhook_id, coalesce(conversation_id, '')) id, webhook_id, coalesce(conversation_id, '') AS stream, next_attempt_at, locked_until
         FROM webhook_deliveries WHERE status = 'pending' AND webhook_id IN (SELECT id FROM webhooks WHERE enabled)
         ORDER BY webhook_id, coalesce(conversation_id, ''), n
       ) d JOIN webhooks w ON w.id = d.webhook_id AND w.enabled
       WHERE d.next_attempt_at <= now() AND (d.locked_until IS NULL OR d.locked_until < now())
     ) heads
     WHERE rank <= $2
     ORDER BY next_attempt_at LIMIT $1`,
    [limit, perWebhook],
  );
}

/**
 * Leases the first deliveries of one (webhook, conversation) stream, up to `limit`, in order: the
 * head and those after it up to the first one that is not due or is leased by another node.
 * Nothing when the head is not free. Another node claiming the same stream at the same moment
 * holds its rows' locks (skipped here), so the head check makes this one claim nothing.
 */
export async function claimStream(db: Queryable, webhookId: string, stream: string, limit: number, leaseMs: number): Promise<DeliveryRow[]> {
  const rows = await db.query<DeliveryRow>(
    `WITH head AS (
       SELECT min(n) AS n FROM webhook_deliveries WHERE webhook_id = $1 AND coalesce(conversation_id, '') = $2 AND status = 'pending'
     ), firsts AS (
       SELECT id, n, next_attempt_at <= now() AND (locked_until IS NULL OR locked_until < now()) AS free
       FROM webhook_deliveries WHERE webhook_id = $1 AND coalesce(conversation_id, '') = $2 AND status = 'pending'
       ORDER BY n LIMIT $3 FOR UPDATE SKIP LOCKED
     ), ok AS (
       SELECT id FROM firsts
       WHERE (SELECT n FROM head) = (SELECT min(n) FROM firsts)
         AND n < coalesce((SELECT min(n) FROM firsts WHERE NOT free), 9223372036854775807)
     )
     UPDATE webhook_deliveries d SET locked_until = now() + make_interval(secs => $4::float8 / 1000) FROM ok WHERE d.id = ok.id
     RETURNING ${DELIVERY_COLUMNS.split(', ').map((c) => `d.${c}`).join(', ')}`,
    [webhookId, stream, limit, leaseMs],
  );
  return rows.sort((a, b) => (BigInt(a.n) < BigInt(b.n) ? -1 : 1));
}

/** 2xx answers: those deliveries are done, their webhook no longer failing. */
export async function recordSuccesses(db: Queryable, webhookId: string, done: AttemptResult[]): Promise<void> {
  if (done.length === 0) return;
  await db.query(
    `WITH a AS (
       INSERT INTO webhook_attempts (id, delivery_id, status_code, duration_ms) SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[])
     ), w AS (
       UPDATE webhooks SET failing_since = NULL WHERE id = $6 AND failing_since IS NOT NULL
     ), b AS (
       SELECT * FROM unnest($2::text[], $5::text[]) AS b(id, body)
     )
     UPDATE webhook_deliveries d SET status = 'delivered', delivered_at = now(), attempts = attempts + 1, body = b.body, locked_until = NULL FROM b WHERE d.id = b.id`,
    [done.map((a) => a.attemptId), done.map((a) => a.deliveryId), done.map((a) => a.statusCode), done.map((a) => a.durationMs), done.map((a) => a.body), webhookId],
  );
}

/** Gives leases back without an attempt (this node is stopping, or the lease is running out). */
export async function releaseDeliveries(db: Queryable, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(`UPDATE webhook_deliveries SET locked_until = NULL WHERE id = ANY($1)`, [ids]);
}

export interface AttemptResult {
  deliveryId: string;
  attemptId: string;
  body: string;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/**
 * Anything else: tried again after `retryInMs`, or `failed` once it is older than `retryForMs`.
 * The webhook is failing since its first failure after a success; failing for `disableAfterMs`,
 * it is disabled. Answers whether it was disabled now.
 */
export async function recordFailure(
  db: Queryable,
  webhookId: string,
  a: AttemptResult,
  timing: { retryInMs: number; retryForMs: number; disableAfterMs: number },
): Promise<{ disabled: boolean }> {
  const rows = await db.query<{ disabled: boolean }>(
    `WITH a AS (INSERT INTO webhook_attempts (id, delivery_id, status_code, error, duration_ms) VALUES ($2, $1, $4, $5, $6)),
     d AS (UPDATE webhook_deliveries SET attempts = attempts + 1, body = $3, locked_until = NULL,
             status = CASE WHEN created_at < now() - make_interval(secs => $8::float8 / 1000) THEN 'failed' ELSE 'pending' END,
             next_attempt_at = now() + make_interval(secs => $7::float8 / 1000)
           WHERE id = $1)
     UPDATE webhooks SET failing_since = coalesce(failing_since, now()),
       enabled = enabled AND NOT coalesce(failing_since < now() - make_interval(secs => $9::float8 / 1000), false),
       disabled_reason = CASE WHEN enabled AND failing_since < now() - make_interval(secs => $9::float8 / 1000)
         THEN 'every delivery failed since ' || to_char(failing_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') ELSE disabled_reason END
     WHERE id = $10
     RETURNING (NOT enabled AND failing_since < now() - make_interval(secs => $9::float8 / 1000)) AS disabled`,
    [a.deliveryId, a.attemptId, a.body, a.statusCode, a.error, a.durationMs, timing.retryInMs, timing.retryForMs, timing.disableAfterMs, webhookId],
  );
  return { disabled: rows[0]?.disabled ?? false };
}

/** The rows a body is built from, by id: messages (for reactions), users. */
export function findMessageRowsForWebhook<T>(db: Queryable, ids: string[]): Promise<T[]> {
  return db.query<T>(
    `SELECT id, conversation_id, seq, updated_seq, author_id, client_id, kind, content_enc, reply_to_id, attachments, status, model, created_at, edited_at, deleted_at, status_reason,
       pinned_at, pinned_by, thread_root_id, also_to_channel, thread_reply_count, thread_last_reply_at, thread_participant_ids, mentions, mentions_here, mentions_channel, link_preview_enc
     FROM messages WHERE id = ANY($1)`,
    [ids],
  );
}
