import {
  ConfabError,
  type Message,
  type NotificationSettings,
  type PushSubscriptionBody,
  type PushSubscriptionInfo,
  type ServerEventPayload,
  type UpdateNotificationSettingsBody,
} from '@confab/protocol';
import type { Context } from '../context.ts';
import { newId } from '../ids.ts';
import { PermanentJobError, RetryLaterError } from '../jobs/queue.ts';
import type { SendOptions } from '../push/sender.ts';
import { findMessageAuthor } from '../storage/messages.ts';
import { findThreadFollowers } from '../storage/threads.ts';
import { findNotificationPreferences, peopleOfConversation, recipientsOfConversations, upsertNotificationPreferences } from '../storage/notificationPreferences.ts';
import {
  deleteOlderPushSubscriptions,
  deletePushSubscription,
  deleteUserPushSubscription,
  findPushSubscription,
  findPushSubscriptionByEndpoint,
  listUserPushSubscriptions,
  markPushDelivered,
  pushSubscriptionsOfUsers,
  upsertPushSubscription,
} from '../storage/pushSubscriptions.ts';
import type { NotificationRecipientRow, PushSubscriptionRow } from '../storage/rows.ts';
import { mentionsUser } from './mentions.ts';
import { iso } from './users.ts';

/**
 * Notifications. When a message is stored, every other member who has not muted the conversation
 * and whose level lets it through (all / mentions only / none) gets an in-app `notification`
 * event on their user room; the client shows it unless that conversation is on screen. A member
 * with no connected socket (or only sockets that said they are away) also gets a web push on each
 * of their devices, through the job queue: never on the request path, retried with backoff.
 * A reply in a thread goes to the thread's followers instead (and to members it mentions; with
 * `alsoToChannel`, to the conversation as usual), by the same settings (docs/threads.md).
 *
 * Triggering: the bus is per node and only the node that stored a message publishes it, so each
 * message is seen once. A retried send (same clientId) is announced again for live clients, marked
 * `repeat`, and triggers nothing; a memory of recent message ids per node and an age limit are a
 * second guard against anything else that replays an announcement.
 */

type NotificationEvent = ServerEventPayload<'notification'>;

export const DEFAULT_NOTIFICATION_SETTINGS: NotificationSettings = { level: 'all', preview: true };
/** Announcements of older messages are replays (a retried send, a sync), not news. */
const MAX_AGE_MS = 10 * 60 * 1000;
const MAX_SUBSCRIPTIONS_PER_USER = 20;
const BODY_CHARS = 200;

// ---------------------------------------------------------------------------------------------
// Settings and subscriptions
// ---------------------------------------------------------------------------------------------

export async function getNotificationSettings(ctx: Context, userId: string): Promise<NotificationSettings> {
  const row = await findNotificationPreferences(ctx.db, userId);
  return row ? { level: row.level, preview: row.preview } : { ...DEFAULT_NOTIFICATION_SETTINGS };
}

export async function updateNotificationSettings(ctx: Context, userId: string, patch: UpdateNotificationSettingsBody): Promise<NotificationSettings> {
  const row = await upsertNotificationPreferences(ctx.db, userId, { level: patch.level ?? null, preview: patch.preview ?? null });
  return { level: row.level, preview: row.preview };
}

const toInfo = (r: Pick<PushSubscriptionRow, 'id' | 'endpoint' | 'created_at'>): PushSubscriptionInfo => ({ id: r.id, endpoint: r.endpoint, createdAt: iso(r.created_at)! });

/**
 * Registers a device. The same endpoint again updates it; an endpoint known under another account
 * moves to the caller only with the same keys (the same browser signing in as someone else), so
 * knowing someone's endpoint URL is not enough to take their notifications away.
 */
export async function subscribePush(ctx: Context, userId: string, body: PushSubscriptionBody): Promise<PushSubscriptionInfo> {
  const target = { endpoint: body.endpoint, keys: { p256dh: body.keys.p256dh, auth: body.keys.auth } };
  ctx.push.validateSubscription(target);
  const keysJson = JSON.stringify(target.keys);
  const existing = await findPushSubscriptionByEndpoint(ctx.db, body.endpoint);
  if (existing && existing.user_id !== userId && ctx.keys.decrypt(existing.keys_enc) !== keysJson) {
    throw new ConfabError('CONFLICT', 'this push endpoint is registered with other keys');
  }
  const row = await upsertPushSubscription(ctx.db, { id: newId(), userId, endpoint: body.endpoint, keysEnc: ctx.keys.encrypt(keysJson) });
  // Browsers that were reset leave dead subscriptions behind; keep the newest few.
  await deleteOlderPushSubscriptions(ctx.db, userId, MAX_SUBSCRIPTIONS_PER_USER);
  return toInfo(row);
}

/** Idempotent, and silent about endpoints that are not the caller's. */
export async function unsubscribePush(ctx: Context, userId: string, endpoint: string): Promise<void> {
  await deleteUserPushSubscription(ctx.db, userId, endpoint);
}

export async function listPushSubscriptions(ctx: Context, userId: string): Promise<PushSubscriptionInfo[]> {
  const rows = await listUserPushSubscriptions(ctx.db, userId);
  return rows.map(toInfo);
}

// ---------------------------------------------------------------------------------------------
// Deciding who is told what
// ---------------------------------------------------------------------------------------------

/** One line about a message: its text, or what it carries. */
export function summarize(message: Pick<Message, 'content' | 'kind' | 'attachments'>): string {
  const text = message.content.replace(/\s+/g, ' ').trim();
  if (text) return text.length > BODY_CHARS ? `${text.slice(0, BODY_CHARS - 1)}…` : text;
  const [first] = message.attachments;
  if (message.kind === 'voice') return 'Voice message';
  if (!first) return 'New message';
  if (first.type.startsWith('image/')) return message.attachments.length > 1 ? `${message.attachments.length} photos` : 'Photo';
  return message.attachments.length > 1 ? `${message.attachments.length} files` : `File: ${first.name}`;
}

interface Delivery {
  userId: string;
  event: NotificationEvent;
  /**
   * Whether a connected user also gets an in-app `notification` event: for mentions, direct
   * messages and AI answers. Every other message already reaches a connected user's client as
   * `chat:message_received` (clients receive all their conversations), so a second event per
   * message and member would double the fan-out for nothing the client cannot derive itself.
   */
  inApp: boolean;
  /** False: the push shows who and where, not what. */
  preview: boolean;
  urgency: NonNullable<SendOptions['urgency']>;
  /** Pushes with the same topic replace each other at the push service while the device is offline. */
  topic?: string;
}

/**
 * In-app events for those connected, web push for the others. Nobody offline is sent an in-app
 * event (it would reach no socket, and with Redis every emit is a publish). Without a presence
 * service, everyone gets both.
 */
async function deliver(ctx: Context, deliveries: Delivery[]): Promise<void> {
  if (deliveries.length === 0) return;
  const userIds = [...new Set(deliveries.map((d) => d.userId))];
  let online: Set<string> | undefined;
  try {
    online = ctx.presence ? await ctx.presence.online(userIds) : undefined;
  } catch (error) {
    // Presence unknown (Redis away): better told twice than not at all.
    ctx.log.warn({ err: error }, 'presence lookup failed; notifying in app and by push');
  }
  for (const d of deliveries) if (d.inApp && (!online || online.has(d.userId))) ctx.bus.publish({ type: 'notification', userId: d.userId, notification: d.event });
  const offline = online ? deliveries.filter((d) => !online.has(d.userId)) : deliveries;
  if (offline.length === 0) return;
  const subscriptions = await pushSubscriptionsOfUsers(ctx.db, offline.map((d) => d.userId));
  if (subscriptions.length === 0) return;
  const byUser = new Map(offline.map((d) => [d.userId, d]));
  const ttlSeconds = ctx.push.options.ttlSeconds;
  const payloads = subscriptions.map((s) => {
    const d = byUser.get(s.user_id)!;
    const shown = d.preview ? d.event : { ...d.event, body: d.event.kind === 'ai_answer' ? 'Your answer is ready' : 'New message' };
    return {
      subscriptionId: s.id,
      // The text of the message, encrypted at rest like the message itself.
      notification: ctx.keys.encrypt(JSON.stringify(shown)),
      urgency: d.urgency,
      ...(d.topic ? { topic: d.topic } : {}),
      expiresAt: Date.now() + ttlSeconds * 1000,
    };
  });
  await ctx.jobs.enqueueMany(ctx.db, 'push.send', payloads, { maxAttempts: ctx.push.options.maxAttempts });
  ctx.jobs.kick();
}

const TOPIC = /^[A-Za-z0-9_-]{1,32}$/;

async function onlineForHere(ctx: Context, messages: Message[], members: Map<string, NotificationRecipientRow[]>): Promise<Set<string>> {
  const userIds = new Set<string>();
  for (const m of messages) if (m.mentionsHere) for (const r of members.get(m.conversationId) ?? []) userIds.add(r.user_id);
  if (userIds.size === 0 || !ctx.presence) return new Set();
  try {
    return await ctx.presence.online([...userIds]);
  } catch (error) {
    ctx.log.warn({ err: error }, 'presence lookup for @here failed');
    return new Set();
  }
}

/**
 * Notifies the other members of newly stored messages (those this node stored), with one query for
 * the members of all their conversations (the authors' names included), however many messages
 * there are.
 */
export async function notifyNewMessages(ctx: Context, messages: Message[]): Promise<void> {
  if (messages.length === 0) return;
  const conversationIds = [...new Set(messages.map((m) => m.conversationId))];
  const rows = await recipientsOfConversations(ctx.db, conversationIds);
  const members = new Map<string, NotificationRecipientRow[]>();
  for (const r of rows) {
    // Appended in place: copying the list per row was quadratic in a large group's member count.
    const list = members.get(r.conversation_id);
    if (list) list.push(r);
    else members.set(r.conversation_id, [r]);
  }
  const followers = await threadFollowers(ctx, messages);
  // @here reaches the members online now. The send stored who they were; the message as
  // announced does not carry that list, so ask presence once for the whole batch (a few ms later).
  const here = await onlineForHere(ctx, messages, members);
  const deliveries: Delivery[] = [];
  for (const message of messages) {
    const body = summarize(message);
    const conversationMembers = members.get(message.conversationId) ?? [];
    // An author who has left since is no longer listed.
    const author = conversationMembers.find((r) => r.user_id === message.authorId)?.display_name ?? 'Someone';
    // A reply in a thread is for the thread's followers (and whoever it mentions; with
    // alsoToChannel, for the conversation as well), each as far as they read the thread.
    const thread = message.threadRootId ? (followers.get(message.threadRootId) ?? new Map<string, number>()) : null;
    for (const r of conversationMembers) {
      // Bots, muted members and those who want nothing are not told.
      if (r.is_bot || r.muted || r.level === 'none') continue;
      if (r.user_id === message.authorId) continue;
      // As stored by the send: the one parser's result, resolved against the members (operations/mentions.ts).
      const mentioned = mentionsUser(message, r.user_id, here.has(r.user_id));
      const threadRead = thread?.get(r.user_id);
      if (thread && threadRead === undefined && !mentioned && !message.alsoToChannel) continue;
      // Members who have read past it (or joined after it) are not told.
      if ((threadRead ?? r.last_read_seq) >= message.seq) continue;
      // A direct conversation is addressed to its other member: it counts as a mention.
      if (r.level === 'mentions' && !mentioned && r.type !== 'direct') continue;
      const where = r.title ?? (r.type === 'assistant' ? 'Assistant' : 'a group');
      const title =
        r.type === 'direct'
          ? thread
            ? `${author} replied in a thread`
            : author
          : mentioned
            ? `${author} mentioned you in ${thread ? 'a thread in ' : ''}${where}`
            : thread
              ? `${author} replied in a thread in ${where}`
              : `${author} in ${where}`;
      deliveries.push({
        userId: r.user_id,
        event: {
          kind: mentioned ? 'mention' : 'message',
          conversationId: message.conversationId,
          messageId: message.id,
          title,
          body,
          ...(message.threadRootId ? { threadRootId: message.threadRootId } : {}),
        },
        inApp: mentioned || r.type === 'direct',
        preview: r.preview,
        urgency: mentioned || r.type === 'direct' ? 'high' : 'normal',
        // Plain messages of one conversation collapse into the latest; mentions stand alone.
        ...(!mentioned && TOPIC.test(message.conversationId) ? { topic: message.conversationId } : {}),
      });
    }
  }
  await deliver(ctx, deliveries);
}

/** The followers of the threads these messages reply in: root id → follower → their read watermark in it. */
async function threadFollowers(ctx: Context, messages: Message[]): Promise<Map<string, Map<string, number>>> {
  const rootIds = [...new Set(messages.flatMap((m) => (m.threadRootId ? [m.threadRootId] : [])))];
  const byRoot = new Map<string, Map<string, number>>();
  if (rootIds.length === 0) return byRoot;
  for (const f of await findThreadFollowers(ctx.db, rootIds)) {
    let users = byRoot.get(f.root_id);
    if (!users) byRoot.set(f.root_id, (users = new Map()));
    users.set(f.user_id, f.last_read_seq);
  }
  return byRoot;
}

/**
 * "Your AI answer is ready", for the AI feature to call when an answer completes. Goes to
 * `userIds` when given (the assistant gives the member who asked), else to the author of the message it replies to, else to every person in
 * the conversation; muted conversations and level `none` stay silent, as for messages.
 */
export async function notifyAiAnswerReady(ctx: Context, message: Message, opts: { userIds?: string[] } = {}): Promise<void> {
  let userIds = opts.userIds;
  if (!userIds && message.replyToId) {
    const askerId = await findMessageAuthor(ctx.db, message.replyToId, message.conversationId);
    if (askerId) userIds = [askerId];
  }
  const rows = await peopleOfConversation(ctx.db, message.conversationId, userIds ?? null);
  const body = summarize(message);
  const deliveries: Delivery[] = rows
    .filter((r) => !r.muted && r.level !== 'none')
    .map((r) => ({
      userId: r.user_id,
      event: { kind: 'ai_answer', conversationId: message.conversationId, messageId: message.id, title: r.title ? `Your AI answer is ready: ${r.title}` : 'Your AI answer is ready', body },
      inApp: true,
      preview: r.preview,
      urgency: 'high',
    }));
  await deliver(ctx, deliveries);
}

// ---------------------------------------------------------------------------------------------
// Wiring: the bus trigger and the push job
// ---------------------------------------------------------------------------------------------

export interface NotificationTrigger {
  stop(): Promise<void>;
}

/**
 * Listens to this node's bus for stored messages and completed AI answers. Messages are gathered for `windowMs` and then
 * handled together (one query per batch, whatever its size), a few batches at a time: under load
 * the queries per second stay bounded instead of growing with the message rate (in the benchmarks,
 * two queries per message were as many round trips as storing the messages). A notification is a
 * hint, so a few milliseconds more do not matter; past a cap the oldest waiting message is dropped
 * (the messages themselves are never lost).
 */
export function startNotifications(ctx: Context, opts: { concurrency?: number; maxQueued?: number; windowMs?: number } = {}): NotificationTrigger {
  const concurrency = opts.concurrency ?? 2;
  const maxQueued = opts.maxQueued ?? 10_000;
  const windowMs = opts.windowMs ?? 20;
  // Message ids seen lately, in two generations: the older one is dropped whole when the newer
  // fills, so 10,000–20,000 ids are remembered. (Evicting the oldest id of one Set for each new one
  // costs more per message than it should: V8 skips the deleted entries from the start on every
  // values().next().)
  let recent = new Set<string>();
  let older = new Set<string>();
  const queue: Message[] = [];
  const running = new Set<Promise<void>>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  // Batches start only from the timer, also after a batch ends: starting the next one at once
  // would query again for every few messages under a steady load.
  const schedule = () => {
    timer ??= setTimeout(() => {
      timer = undefined;
      pump();
    }, windowMs);
  };
  const pump = () => {
    while (!stopped && running.size < concurrency && queue.length > 0) {
      // Messages that queued up while others were being handled go together (one query for all).
      const batch = queue.splice(0, 500);
      const task: Promise<void> = notifyNewMessages(ctx, batch)
        .catch((error: unknown) => ctx.log.warn({ err: error, messages: batch.length }, 'could not send notifications'))
        .finally(() => {
          running.delete(task);
          if (queue.length > 0) schedule();
        });
      running.add(task);
    }
  };

  const unsubscribeStored = ctx.bus.subscribe('message_stored', (event) => {
    if (stopped || event.repeat) return;
    const { message } = event;
    if (message.kind === 'system' || message.status !== 'complete' || message.deletedAt) return;
    if (Date.now() - Date.parse(message.createdAt) > MAX_AGE_MS) return;
    if (recent.has(message.id) || older.has(message.id)) return;
    recent.add(message.id);
    if (recent.size >= 10_000) [older, recent] = [recent, new Set()];
    if (queue.length >= maxQueued) {
      queue.shift();
      ctx.log.warn('notification queue full: dropping the oldest');
    }
    queue.push(message);
    schedule();
  });

  const answering = new Set<Promise<void>>();
  // "Your AI answer is ready": handled at once (answers are few), and waited for by stop(). Only
  // for the member who asked (in a group, the others were not waiting for it: they see it as an
  // unread message); push, in-app and every other channel alike, as deliver() decides.
  const unsubscribeAnswers = ctx.bus.subscribe('answer_completed', (event) => {
    if (stopped || event.status !== 'complete') return;
    const task: Promise<void> = notifyAiAnswerReady(ctx, event.message, event.requestedBy ? { userIds: [event.requestedBy] } : {})
      .catch((error: unknown) => ctx.log.warn({ err: error }, 'AI answer notification failed'))
      .finally(() => answering.delete(task));
    answering.add(task);
  });

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      unsubscribeStored();
      unsubscribeAnswers();
      queue.length = 0;
      while (running.size + answering.size > 0) await Promise.allSettled([...running, ...answering]);
    },
  };
}

interface PushJobPayload {
  subscriptionId: string;
  notification: string;
  urgency?: SendOptions['urgency'];
  topic?: string;
  expiresAt?: number;
}

export function registerNotificationJobs(ctx: Context): void {
  ctx.jobs.register('push.send', async (job) => {
    const p = job.payload as PushJobPayload;
    const sub = await findPushSubscription(ctx.db, p.subscriptionId);
    if (!sub) return; // unsubscribed meanwhile
    const remainingSeconds = p.expiresAt === undefined ? ctx.push.options.ttlSeconds : Math.floor((p.expiresAt - Date.now()) / 1000);
    if (remainingSeconds <= 0) return; // retried past its TTL: nobody wants it now
    const keys = JSON.parse(ctx.keys.decrypt(sub.keys_enc)) as { p256dh: string; auth: string };
    const result = await ctx.push.send({ endpoint: sub.endpoint, keys }, ctx.keys.decrypt(p.notification), {
      ttlSeconds: remainingSeconds,
      ...(p.urgency ? { urgency: p.urgency } : {}),
      ...(p.topic ? { topic: p.topic } : {}),
    });
    switch (result.outcome) {
      case 'delivered':
        await markPushDelivered(ctx.db, sub.id);
        return;
      case 'gone':
        // The browser unsubscribed or the subscription expired: it will never work again.
        await deletePushSubscription(ctx.db, sub.id);
        ctx.log.info({ subscriptionId: sub.id, status: result.status }, 'push subscription is gone: removed');
        return;
      case 'retry':
        throw result.retryAfterMs !== undefined ? new RetryLaterError(result.message, result.retryAfterMs) : new Error(result.message);
      case 'rejected':
        throw new PermanentJobError(result.message);
    }
  });
}
