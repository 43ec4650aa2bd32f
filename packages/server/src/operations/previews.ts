import { randomBytes } from 'node:crypto';
import { ConfabError, type LinkPreview, type Message } from '@confab/protocol';
import { LRUCache } from 'lru-cache';
import pLimit from 'p-limit';
import type { Context } from '../context.ts';
import { firstLink } from '../previews/links.ts';
import { unfurl, type Unfurled } from '../previews/unfurl.ts';
import { PreviewFetchError } from '../previews/fetch.ts';
import type { Queryable } from '../storage/db.ts';
import { findMessage } from '../storage/messages.ts';
import { deleteLinkPreviewImage, dropLinkPreview, findLinkPreviewImage, isLinkPreviewRemoved, putLinkPreviewImage, setLinkPreview } from '../storage/previews.ts';
import type { MessageRow } from '../storage/rows.ts';
import { requireMember } from './access.ts';
import { hydrateMessages, nextSeq } from './messages.ts';

/**
 * Link previews (issue 18; docs/security.md, "Link previews"). The first http(s) link of a stored
 * or edited message is fetched OFF the send path: the send is acknowledged first; a bounded task
 * on the node that stored the message (startLinkPreviews) fetches the page (previews/), and the
 * preview is attached as a change of the message: it takes the conversation's next seq like an
 * edit, is published as `message_changed` (→ `chat:message_updated`), and `sync` carries it.
 *
 * Not in the job queue on purpose: a fetch may take its full 5 s (and the image 5 s more), and the
 * queue's batches wait for their slowest job, so pushes would wait behind slow sites. A preview is
 * worth little after a crash, so one lost with its node is not fetched again.
 */

/** What messages.link_preview_enc holds, encrypted. `image`: a version token of the stored image. */
interface StoredPreview {
  url: string;
  title: string | null;
  description: string | null;
  siteName: string | null;
  image: string | null;
}

/** The path the preview image is served at (this server; members only). */
export const previewImagePath = (messageId: string, version: string) => `/api/messages/${encodeURIComponent(messageId)}/preview/image?v=${version}`;

function readStored(ctx: Context, r: Pick<MessageRow, 'link_preview_enc'>): StoredPreview | undefined {
  if (!r.link_preview_enc) return undefined;
  try {
    return JSON.parse(ctx.keys.decrypt(r.link_preview_enc)) as StoredPreview;
  } catch {
    return undefined;
  }
}

/** The `linkPreview` field of a message built from its row (toMessage): present only when there is one. */
export function linkPreviewField(ctx: Context, r: MessageRow): { linkPreview?: LinkPreview } {
  if (!r.link_preview_enc || r.deleted_at) return {};
  const p = readStored(ctx, r);
  if (!p) return {};
  return {
    linkPreview: { url: p.url, title: p.title, description: p.description, siteName: p.siteName, imageUrl: p.image ? previewImagePath(r.id, p.image) : null },
  };
}

/**
 * Inside an edit's transaction: a preview whose link is no longer the message's first link goes
 * (with the edit's seq). Fetching the new link is scheduled after the commit (ctx.previews).
 */
export async function previewAfterEdit(ctx: Context, tx: Queryable, row: MessageRow, content: string): Promise<void> {
  const link = firstLink(content);
  const stored = readStored(ctx, row);
  if (stored && stored.url !== link) await dropLinkPreview(tx, row.id);
}

/** Inside a delete's transaction: the preview and its image go with the content. */
export async function previewAfterDelete(tx: Queryable, messageId: string): Promise<void> {
  await dropLinkPreview(tx, messageId);
}

/**
 * The sender removes a message's preview (DELETE /api/messages/:id/preview). Others in the
 * conversation get FORBIDDEN, anyone else NOT_FOUND. The removal takes a seq and is broadcast; it
 * sticks: no preview is fetched for this message again, even after an edit. Removing again, or
 * before the preview arrived, is allowed (the latter keeps it from arriving).
 */
export async function removeLinkPreview(ctx: Context, userId: string, messageId: string): Promise<Message> {
  const { message, changed } = await ctx.db.transaction(async (tx) => {
    const row = await findMessage(tx, messageId);
    if (!row) throw new ConfabError('NOT_FOUND', 'no such message');
    try {
      await requireMember(tx, row.conversation_id, userId, { lock: true });
    } catch {
      throw new ConfabError('NOT_FOUND', 'no such message');
    }
    if (row.author_id !== userId) throw new ConfabError('FORBIDDEN', 'only the sender can remove a link preview');
    if (row.deleted_at) throw new ConfabError('NOT_FOUND', 'this message was deleted');
    if ((await isLinkPreviewRemoved(tx, messageId)) && !row.link_preview_enc) {
      return { message: (await hydrateMessages(ctx, tx, [row]))[0]!, changed: false };
    }
    const seq = await nextSeq(tx, row.conversation_id, false);
    await dropLinkPreview(tx, messageId, { seq });
    const after = await findMessage(tx, messageId);
    return { message: (await hydrateMessages(ctx, tx, [after!]))[0]!, changed: true };
  });
  if (changed) ctx.bus.publish({ type: 'message_changed', message });
  return message;
}

export interface PreviewImageDownload {
  contentType: string;
  bytes: Buffer;
  etag: string;
}

/** The preview image of a message, for members of its conversation (others: NOT_FOUND). */
export async function readPreviewImage(ctx: Context, userId: string, messageId: string): Promise<PreviewImageDownload> {
  const row = await findMessage(ctx.db, messageId);
  if (!row) throw new ConfabError('NOT_FOUND', 'no such image');
  try {
    await requireMember(ctx.db, row.conversation_id, userId);
  } catch {
    throw new ConfabError('NOT_FOUND', 'no such image');
  }
  const stored = readStored(ctx, row);
  const image = row.deleted_at || !stored?.image ? undefined : await findLinkPreviewImage(ctx.db, messageId);
  if (!image || !stored?.image) throw new ConfabError('NOT_FOUND', 'no such image');
  return { contentType: image.content_type, bytes: Buffer.from(ctx.keys.decrypt(image.image_enc), 'base64'), etag: `"${stored.image}"` };
}

// ---------------------------------------------------------------------------------------------
// Fetching: a bounded background task on the node that stored the message
// ---------------------------------------------------------------------------------------------

export interface LinkPreviewRunner {
  /** Fetches the preview of the message's first link, later, if it has one that is not shown yet. */
  schedule(message: Message): void;
  /** Resolves when nothing is queued or being fetched (tests). */
  idle(): Promise<void>;
  stop(): Promise<void>;
  /** What happened so far (tests, diagnostics). */
  readonly counts: { scheduled: number; attached: number; failed: number; skipped: number };
}

/** The preview no longer fits the message (edited, deleted, removed meanwhile): the transaction is undone. */
class Stale extends Error {}

/**
 * Pages read lately, by link: the same link posted in several messages (a busy channel, a bot) is
 * fetched once per 10 minutes per node, and fetches of one link at the same time are shared. Only
 * what a page said is kept (a failure is not: the next message tries again); pages are fetched
 * without cookies or credentials, so what one member's link showed is what anyone's would.
 */
const CACHE_TTL_MS = 10 * 60 * 1000;

/** Which message kinds can carry a link in their text. */
const PREVIEWED_KINDS = new Set<Message['kind']>(['text']);

export function startLinkPreviews(ctx: Context): LinkPreviewRunner {
  const opts = ctx.config.previews;
  const log = ctx.log.child({ component: 'previews' });
  const limit = pLimit(opts.concurrency);
  const queued = new Map<string, string>();
  const running = new Set<Promise<void>>();
  const abort = new AbortController();
  const counts = { scheduled: 0, attached: 0, failed: 0, skipped: 0 };
  let stopped = false;
  const cache = new LRUCache<string, { found: Unfurled | null }>({
    max: 500,
    maxSize: 32 * 1024 * 1024,
    sizeCalculation: (v) => 1024 + (v.found?.image?.bytes.length ?? 0),
    ttl: CACHE_TTL_MS,
  });
  const fetching = new Map<string, Promise<Unfurled | undefined>>();

  async function unfurlShared(link: string): Promise<Unfurled | undefined> {
    const hit = cache.get(link);
    if (hit) return hit.found ?? undefined;
    let pending = fetching.get(link);
    if (!pending) {
      pending = unfurl(link, opts, abort.signal).finally(() => fetching.delete(link));
      fetching.set(link, pending);
    }
    const found = await pending;
    cache.set(link, { found: found ?? null });
    return found;
  }

  async function attach(messageId: string, link: string, found: Unfurled): Promise<Message | undefined> {
    const version = randomBytes(9).toString('base64url');
    const stored: StoredPreview = { url: link, title: found.title, description: found.description, siteName: found.siteName, image: found.image ? version : null };
    try {
      return await ctx.db.transaction(async (tx) => {
        const before = await findMessage(tx, messageId);
        if (!before) throw new Stale();
        // The conversation's row lock (taken with the seq) orders this after every change before it.
        const seq = await nextSeq(tx, before.conversation_id, false);
        const row = await findMessage(tx, messageId);
        if (!row || !isStillWanted(row, link) || (await isLinkPreviewRemoved(tx, messageId))) throw new Stale();
        await setLinkPreview(tx, messageId, ctx.keys.encrypt(JSON.stringify(stored)), seq);
        if (found.image) await putLinkPreviewImage(tx, messageId, found.image.contentType, ctx.keys.encrypt(found.image.bytes.toString('base64')));
        else await deleteLinkPreviewImage(tx, messageId);
        const after = await findMessage(tx, messageId);
        return (await hydrateMessages(ctx, tx, [after!]))[0]!;
      });
    } catch (error) {
      if (error instanceof Stale) return undefined;
      throw error;
    }
  }

  /** Whether `row` still asks for a preview of `link` (and has none for it yet). */
  function isStillWanted(row: MessageRow, link: string): boolean {
    if (row.deleted_at || !PREVIEWED_KINDS.has(row.kind)) return false;
    if (firstLink(ctx.keys.decrypt(row.content_enc)) !== link) return false;
    return readStored(ctx, row)?.url !== link;
  }

  async function run(messageId: string, link: string): Promise<void> {
    const row = await findMessage(ctx.db, messageId);
    if (!row || !isStillWanted(row, link) || (await isLinkPreviewRemoved(ctx.db, messageId))) return;
    let found: Unfurled | undefined;
    try {
      found = await unfurlShared(link);
    } catch (error) {
      counts.failed++;
      // The reason only: the link is message content, which is not logged.
      if (error instanceof PreviewFetchError) log.debug({ messageId, reason: error.reason }, 'no link preview');
      else log.warn({ messageId, err: error }, 'link preview failed');
      return;
    }
    if (!found) return;
    const message = await attach(messageId, link, found);
    if (!message) return;
    counts.attached++;
    ctx.bus.publish({ type: 'message_changed', message });
  }

  function schedule(m: Message): void {
    if (!opts.enabled || stopped || !PREVIEWED_KINDS.has(m.kind) || m.status !== 'complete' || m.deletedAt) return;
    const link = firstLink(m.content);
    if (!link || m.linkPreview?.url === link || queued.get(m.id) === link) return;
    if (limit.pendingCount >= opts.maxQueued) {
      counts.skipped++;
      return;
    }
    counts.scheduled++;
    queued.set(m.id, link);
    const task: Promise<void> = limit(() => (stopped ? Promise.resolve() : run(m.id, link)))
      .catch((error: unknown) => log.warn({ messageId: m.id, err: error }, 'could not attach a link preview'))
      .finally(() => {
        running.delete(task);
        if (queued.get(m.id) === link) queued.delete(m.id);
      });
    running.add(task);
  }

  const unsubscribe = ctx.bus.subscribe('message_stored', (event) => {
    // A repeat is a retried send announced again: its preview was scheduled the first time.
    if (!event.repeat) schedule(event.message);
  });

  return {
    schedule,
    counts,
    async idle() {
      while (running.size > 0) await Promise.all([...running]);
    },
    async stop() {
      stopped = true;
      unsubscribe();
      // Tasks still queued see `stopped` and end at once; those fetching are aborted.
      abort.abort();
      await Promise.allSettled([...running]);
    },
  };
}
