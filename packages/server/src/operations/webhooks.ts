import { createHmac } from 'node:crypto';
import { promises as dns, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { ConfabError, type CreatedWebhook, type CreateWebhookBody, type PageQuery, type UpdateWebhookBody, type Webhook, type WebhookDeliveryList, type WebhookEventType, type WebhookList } from '@confab/protocol';
import type { Context } from '../context.ts';
import { pooledRandomBytes } from '../crypto/random.ts';
import { newId } from '../ids.ts';
import { isPublicAddress } from '../previews/address.ts';
import type { MessageRow } from '../storage/rows.ts';
import {
  deleteWebhookRow,
  findAttempts,
  findDelivery,
  findMessageRowsForWebhook,
  findWebhook,
  insertWebhook,
  listDeliveryRows,
  listWebhookRows,
  requeueDelivery,
  syncWebhookTriggers,
  updateWebhookRow,
  type DeliveryRow,
  type WebhookRow,
} from '../storage/webhooks.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { adminActor, recordAudit } from './instance.ts';
import { hydrateMessages } from './messages.ts';
import { iso } from './users.ts';

/**
 * Outgoing webhooks (docs/platform.md, "Outgoing webhooks"). Admins manage them here; deliveries
 * are written by database triggers in the transaction of each change (migration 15) and sent by
 * webhooks/deliverer.ts. This module holds the rules both need: the URL check, the event body,
 * the signature.
 */

export function toWebhook(w: WebhookRow): Webhook {
  return {
    id: w.id,
    url: w.url,
    events: w.events as WebhookEventType[],
    enabled: w.enabled,
    disabledReason: w.disabled_reason,
    failingSince: iso(w.failing_since),
    createdBy: w.created_by,
    createdAt: iso(w.created_at)!,
    updatedAt: iso(w.updated_at)!,
  };
}

export type Resolve = (hostname: string) => Promise<LookupAddress[]>;
const systemResolve: Resolve = (hostname) => dns.lookup(hostname, { all: true, verbatim: true });

/**
 * The URL a webhook may have: https (http too where private addresses are allowed: an intranet,
 * tests), no credentials, and, unless CONFAB_WEBHOOKS_ALLOW_PRIVATE, a host whose EVERY address is
 * public (previews/address.ts). Checked at creation and again at each delivery (DNS may change);
 * answers the address to connect to, so the request cannot be rebound to another one.
 */
export async function checkWebhookUrl(ctx: Context, raw: string, resolve: Resolve = systemResolve): Promise<{ url: URL; address: LookupAddress }> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfabError('VALIDATION_ERROR', 'url: not a URL');
  }
  const allowPrivate = ctx.config.webhooksAllowPrivate;
  if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:')) throw new ConfabError('VALIDATION_ERROR', 'url: webhooks are sent over https');
  if (url.username || url.password) throw new ConfabError('VALIDATION_ERROR', 'url: must not carry credentials');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: LookupAddress[];
  if (isIP(host) !== 0) addresses = [{ address: host, family: isIP(host) }];
  else {
    try {
      addresses = await resolve(host);
    } catch {
      throw new ConfabError('VALIDATION_ERROR', `url: ${host} does not resolve`);
    }
  }
  if (addresses.length === 0) throw new ConfabError('VALIDATION_ERROR', `url: ${host} does not resolve`);
  if (!allowPrivate && addresses.some((a) => !isPublicAddress(a.address))) throw new ConfabError('VALIDATION_ERROR', 'url: private, loopback and link-local addresses are refused');
  return { url, address: addresses[0]! };
}

/** `Confab-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export function signWebhook(secret: string, unixSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

export async function createWebhook(ctx: Context, actorId: string, input: CreateWebhookBody): Promise<CreatedWebhook> {
  await adminActor(ctx, actorId);
  await checkWebhookUrl(ctx, input.url);
  const secret = input.secret ?? pooledRandomBytes(32).toString('base64url');
  const events = [...new Set(input.events)];
  const row = await ctx.db.transaction(async (tx) => {
    const w = await insertWebhook(tx, { id: newId(), url: input.url, events, secretEnc: ctx.keys.encrypt(secret), createdBy: actorId });
    // The URL may carry a token in its query: the audit keeps its origin only.
    await recordAudit(tx, actorId, 'webhook.create', { type: 'webhook', id: w.id }, { origin: new URL(w.url).origin, events });
    return w;
  });
  await changed(ctx);
  return { ...toWebhook(row), secret };
}

export async function listWebhooks(ctx: Context, actorId: string): Promise<WebhookList> {
  await adminActor(ctx, actorId);
  return { webhooks: (await listWebhookRows(ctx.db)).map(toWebhook) };
}

async function visibleWebhook(ctx: Context, id: string): Promise<WebhookRow> {
  const w = await findWebhook(ctx.db, id);
  if (!w) throw new ConfabError('NOT_FOUND', 'no such webhook');
  return w;
}

export async function getWebhook(ctx: Context, actorId: string, id: string): Promise<Webhook> {
  await adminActor(ctx, actorId);
  return toWebhook(await visibleWebhook(ctx, id));
}

export async function updateWebhook(ctx: Context, actorId: string, id: string, input: UpdateWebhookBody): Promise<Webhook> {
  await adminActor(ctx, actorId);
  const before = await visibleWebhook(ctx, id);
  if (input.url !== undefined) await checkWebhookUrl(ctx, input.url);
  const events = input.events ? [...new Set(input.events)] : undefined;
  const row = await ctx.db.transaction(async (tx) => {
    const w = await updateWebhookRow(tx, id, { ...(input.url !== undefined ? { url: input.url } : {}), ...(events ? { events } : {}), ...(input.enabled !== undefined ? { enabled: input.enabled } : {}) });
    if (!w) throw new ConfabError('NOT_FOUND', 'no such webhook');
    await recordAudit(tx, actorId, 'webhook.update', { type: 'webhook', id }, {
      ...(input.url !== undefined ? { origin: new URL(input.url).origin } : {}),
      ...(events ? { events } : {}),
      ...(input.enabled !== undefined ? { enabled: input.enabled, wasEnabled: before.enabled } : {}),
    });
    return w;
  });
  await changed(ctx);
  return toWebhook(row);
}

export async function deleteWebhook(ctx: Context, actorId: string, id: string): Promise<void> {
  await adminActor(ctx, actorId);
  await ctx.db.transaction(async (tx) => {
    if (!(await deleteWebhookRow(tx, id))) throw new ConfabError('NOT_FOUND', 'no such webhook');
    await recordAudit(tx, actorId, 'webhook.delete', { type: 'webhook', id });
  });
  await changed(ctx);
}

export async function listWebhookDeliveries(ctx: Context, actorId: string, id: string, query: PageQuery): Promise<WebhookDeliveryList> {
  await adminActor(ctx, actorId);
  await visibleWebhook(ctx, id);
  const after = decodeCursor(query.cursor);
  const rows = await listDeliveryRows(ctx.db, id, query.limit + 1, after ? { n: after.key } : undefined);
  const page = rows.slice(0, query.limit);
  const attempts = await findAttempts(
    ctx.db,
    page.map((d) => d.id),
  );
  const last = page.at(-1);
  return {
    deliveries: page.map((d) => ({
      id: d.id,
      eventId: d.event_id,
      type: d.event_type as WebhookEventType,
      conversationId: d.conversation_id,
      status: d.status,
      createdAt: iso(d.created_at)!,
      deliveredAt: iso(d.delivered_at),
      nextAttemptAt: d.status === 'pending' ? iso(d.next_attempt_at) : null,
      attempts: attempts.filter((a) => a.delivery_id === d.id).map((a) => ({ at: iso(a.at)!, statusCode: a.status_code, error: a.error, durationMs: a.duration_ms })),
    })),
    nextCursor: rows.length > query.limit && last ? encodeCursor(last.n, last.id) : null,
  };
}

export async function retryWebhookDelivery(ctx: Context, actorId: string, id: string, deliveryId: string): Promise<void> {
  await adminActor(ctx, actorId);
  await visibleWebhook(ctx, id);
  const delivery = await findDelivery(ctx.db, id, deliveryId);
  if (!delivery) throw new ConfabError('NOT_FOUND', 'no such delivery');
  await ctx.db.transaction(async (tx) => {
    await requeueDelivery(tx, deliveryId);
    await recordAudit(tx, actorId, 'webhook.delivery_retry', { type: 'webhook', id }, { deliveryId, eventType: delivery.event_type });
  });
  webhookListeners.get(ctx)?.();
}

/** The deliverer of this server hears of changes made here at once (other nodes within seconds). */
const webhookListeners = new WeakMap<Context, () => void>();
export function onWebhooksChanged(ctx: Context, listener: () => void): void {
  webhookListeners.set(ctx, listener);
}

async function changed(ctx: Context): Promise<void> {
  await syncWebhookTriggers(ctx.db);
  webhookListeners.get(ctx)?.();
}

// ---- the body of an event

const toDate = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(v as string));

/** A messages row as the trigger wrote it (to_jsonb: dates as strings) back into a MessageRow. */
function messageRowFromRef(ref: Record<string, unknown>): MessageRow {
  const r = ref as unknown as MessageRow & Record<string, unknown>;
  return {
    ...r,
    created_at: toDate(r.created_at)!,
    edited_at: toDate(r.edited_at),
    deleted_at: toDate(r.deleted_at),
    pinned_at: toDate(r.pinned_at),
    thread_last_reply_at: toDate(r.thread_last_reply_at),
  };
}

function conversationFromRef(ref: Record<string, unknown>) {
  return {
    id: ref.id,
    type: ref.type,
    title: ref.title ?? null,
    topic: ref.topic ?? null,
    visibility: ref.visibility ?? 'private',
    model: ref.model ?? null,
    createdBy: ref.created_by ?? null,
    createdAt: iso((ref.created_at as string | undefined) ?? null),
  };
}

/**
 * The JSON body of a delivery: `{ id, type, createdAt, data }`. Built from what the trigger wrote
 * (the row as it was at the change: a message's content is the content it had then) when the
 * delivery is first tried, and kept: a retry sends the same bytes.
 */
export async function buildWebhookBodies(ctx: Context, deliveries: DeliveryRow[]): Promise<Map<string, string>> {
  const bodies = new Map<string, string>();
  const todo = deliveries.filter((d) => !d.body);
  for (const d of deliveries) if (d.body) bodies.set(d.id, d.body);
  // Messages hydrated together (one read of their reactions).
  const ofMessages = todo.filter((d) => MESSAGE_EVENTS.has(d.event_type));
  const messages = await hydrateMessages(
    ctx,
    ctx.db,
    ofMessages.map((d) => messageRowFromRef(d.ref ?? {})),
  );
  ofMessages.forEach((d, i) => bodies.set(d.id, envelope(d, { message: messages[i] })));
  for (const d of todo) if (!MESSAGE_EVENTS.has(d.event_type)) bodies.set(d.id, await buildWebhookBody(ctx, d));
  return bodies;
}

const MESSAGE_EVENTS = new Set(['message.created', 'message.updated', 'message.deleted', 'ai.answer.completed']);
const envelope = (d: DeliveryRow, data: unknown) => JSON.stringify({ id: d.event_id, type: d.event_type, createdAt: iso(d.created_at), data });

async function buildWebhookBody(ctx: Context, d: DeliveryRow): Promise<string> {
  const ref = d.ref ?? {};
  let data: Record<string, unknown>;
  switch (d.event_type) {
    case 'reaction.changed': {
      const rows = await findMessageRowsForWebhook<MessageRow>(ctx.db, [ref.messageId as string]);
      const [message] = await hydrateMessages(ctx, ctx.db, rows);
      data = { messageId: ref.messageId, userId: ref.userId, emoji: ref.emoji, added: ref.added, ...(message ? { message } : {}) };
      break;
    }
    case 'conversation.created':
    case 'conversation.updated':
    case 'conversation.deleted':
      data = { conversation: conversationFromRef(ref) };
      break;
    case 'user.created':
      data = { user: ref };
      break;
    default:
      data = ref;
  }
  return envelope(d, data);
}
