import { ConfabError, LIMITS, mentionTokens, type MentionList, type MentionListQuery, type Message } from '@confab/protocol';
import type { Context } from '../context.ts';
import { findMemberIds } from '../storage/members.ts';
import { listMentionPage, type MentionCursor } from '../storage/mentions.ts';
import { hydrateMessages } from './messages.ts';

/**
 * THE mention parser (docs/mentions.md). Sending and editing (what a message stores in `mentions`,
 * `mentionsHere`, `mentionsChannel`), the AI trigger (does a group message ask the assistant?) and
 * notifications (was this member mentioned?) all read what this parser found, so they cannot
 * disagree: a message never wakes the assistant while telling nobody it was addressed. Its grammar
 * (what counts as `@handle`: not in emails, longer handles, domains, URL paths or code) is
 * `mentionTokens` in @confab/protocol, so that clients highlight exactly what the server counted.
 */

/** At most this many distinct handles are looked up per message; more are not mentions. */
export const MAX_MENTIONED_HANDLES = 50;

export interface ParsedMentions {
  /** Distinct handles named, lower-cased, without `here` and `channel`. */
  handles: string[];
  here: boolean;
  channel: boolean;
}

export function parseMentions(content: string): ParsedMentions {
  const result: ParsedMentions = { handles: [], here: false, channel: false };
  const handles = new Set<string>();
  for (const { handle } of mentionTokens(content)) {
    if (handle === 'here') result.here = true;
    else if (handle === 'channel') result.channel = true;
    else if (handles.size < MAX_MENTIONED_HANDLES) handles.add(handle);
  }
  result.handles = [...handles];
  return result;
}

/** Whether the parse found anything to resolve (else a send stores no mentions and takes the fast path). */
export function hasMentions(parsed: ParsedMentions): boolean {
  return parsed.handles.length > 0 || parsed.here || parsed.channel;
}

/** Whether `content` mentions `@handle` (case-insensitive), by the one parser above. */
export function mentions(content: string, handle: string): boolean {
  return parseMentions(content).handles.includes(handle.toLowerCase());
}

/** What the store needs to resolve a message's mentions in the statement that writes it. */
export interface MentionInput {
  /** Lower-cased handles; the statement keeps those of the conversation's members. */
  handles: string[];
  here: boolean;
  channel: boolean;
  /** For `@here`: the members online when it was sent (the author left out). */
  hereUserIds: string[];
}

/**
 * The parse of `content` made ready to store. `@here` needs to know who is online: one look-up of
 * the members and one of presence, only for messages that say `@here`.
 */
export async function mentionInput(ctx: Context, conversationId: string, authorId: string, content: string): Promise<MentionInput | undefined> {
  const parsed = parseMentions(content);
  if (!hasMentions(parsed)) return undefined;
  let hereUserIds: string[] = [];
  if (parsed.here && ctx.presence) {
    const members = (await findMemberIds(ctx.db, conversationId)).filter((id) => id !== authorId);
    try {
      const online = await ctx.presence.online(members);
      hereUserIds = members.filter((id) => online.has(id));
    } catch (error) {
      // Presence unknown (Redis away): @here then reaches no one rather than failing the send.
      ctx.log.warn({ err: error }, 'presence lookup for @here failed');
    }
  }
  return { ...parsed, hereUserIds };
}

/** Whether a stored message mentions `userId` (its author never counts): directly, by `@channel`, or by `@here` when online. */
export function mentionsUser(message: Pick<Message, 'authorId' | 'mentions' | 'mentionsChannel' | 'mentionsHere'>, userId: string, isHere: boolean): boolean {
  if (message.authorId === userId) return false;
  return (message.mentions ?? []).includes(userId) || message.mentionsChannel === true || (message.mentionsHere === true && isHere);
}

// ---------------------------------------------------------------------------------------------
// GET /api/mentions
// ---------------------------------------------------------------------------------------------

function decodeCursor(cursor: string | undefined): MentionCursor | undefined {
  if (cursor === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[0] === 'string' && typeof parsed[1] === 'string' && !Number.isNaN(Date.parse(parsed[0]))) {
      return { createdAt: parsed[0], id: parsed[1] };
    }
  } catch {
    /* answered below */
  }
  throw new ConfabError('VALIDATION_ERROR', 'invalid cursor');
}

const encodeCursor = (c: MentionCursor) => Buffer.from(JSON.stringify([c.createdAt, c.id])).toString('base64url');

/**
 * The messages that mention the caller, newest first: by `@handle`, by `@channel`, or by `@here`
 * while they were online; only in conversations they are a member of now, sent since they joined,
 * not deleted, not their own.
 */
export async function listMentions(ctx: Context, userId: string, query: MentionListQuery): Promise<MentionList> {
  const limit = Math.min(query.limit, LIMITS.maxPageSize);
  const rows = await listMentionPage(ctx.db, userId, decodeCursor(query.cursor), limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    messages: await hydrateMessages(ctx, ctx.db, page),
    nextCursor: rows.length > limit && last ? encodeCursor({ createdAt: last.created_at_text, id: last.id }) : null,
  };
}
