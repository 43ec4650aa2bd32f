import { ConfabError, type Channel, type ChannelList, type ChannelListQuery, type Conversation } from '@confab/protocol';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { findPublicChannel, listPublicChannels, lockPublicChannel, type ChannelCursor } from '../storage/channels.ts';
import { containsPattern } from '../storage/conversations.ts';
import { findMemberIds, insertMembers } from '../storage/members.ts';
import type { ChannelRow } from '../storage/rows.ts';
import { findDisplayNames } from '../storage/users.ts';
import { announceJoins, checkMemberCap, conversationChanged, getConversation, messageStored, sharedOf } from './conversations.ts';
import { commitWithEvents } from './events.ts';
import { appendSystemMessage } from './messages.ts';
import { iso } from './users.ts';

/**
 * Channels: groups with `visibility: "public"`. Anyone signed in may list them (the directory) and
 * join one; what a non-member sees is the Channel summary (title, topic, member count), never the
 * messages or the member list: every other route still answers a non-member NOT_FOUND, because
 * membership is what every access check asks (access.ts). A private group or a direct chat is
 * invisible here (NOT_FOUND), exactly like one that does not exist.
 */

function toChannel(r: ChannelRow): Channel {
  return {
    id: r.id,
    title: r.title,
    topic: r.topic,
    memberCount: r.member_count,
    isMember: r.is_member,
    createdAt: iso(r.created_at)!,
    lastActivityAt: iso(r.last_activity_at)!,
  };
}

const CursorSchema = z.tuple([z.string().max(1000), z.string().min(1).max(64)]);

function encodeCursor(c: ChannelCursor): string {
  return Buffer.from(JSON.stringify([c.title, c.id])).toString('base64url');
}

function decodeCursor(cursor: string): ChannelCursor {
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error('not base64url');
    const [title, id] = CursorSchema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return { title, id };
  } catch {
    throw new ConfabError('VALIDATION_ERROR', 'cursor: not a cursor this server issued');
  }
}

/** One page of the directory: public channels by title (case-insensitive), then id. */
export async function listChannels(ctx: Context, userId: string, q: ChannelListQuery): Promise<ChannelList> {
  const rows = await listPublicChannels(ctx.db, userId, {
    pattern: q.query ? containsPattern(q.query) : undefined,
    after: q.cursor !== undefined ? decodeCursor(q.cursor) : undefined,
    limit: q.limit + 1,
  });
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return {
    channels: page.map(toChannel),
    // lower() as the database computed it: the next page compares with the same expression.
    nextCursor: rows.length > q.limit && last ? encodeCursor({ title: last.sort_title, id: last.id }) : null,
  };
}

/** One public channel's summary (addition: the join screen of a channel link); NOT_FOUND for anything else. */
export async function getChannel(ctx: Context, userId: string, id: string): Promise<Channel> {
  const row = await findPublicChannel(ctx.db, userId, id);
  if (!row) throw new ConfabError('NOT_FOUND', 'no such channel');
  return toChannel(row);
}

/**
 * Joins a public channel: the caller becomes a member (read up to the join, like someone added),
 * a system message records it, and the `membership` event puts the caller's live sockets into the
 * room at once, on every node. Joining again changes nothing and answers the conversation.
 */
export async function joinChannel(ctx: Context, userId: string, id: string): Promise<Conversation> {
  return commitWithEvents(ctx, async (tx, events) => {
    // The row lock orders this against a concurrent join, leave, or change of visibility.
    if (!(await lockPublicChannel(tx, id))) throw new ConfabError('NOT_FOUND', 'no such channel');
    const present = await findMemberIds(tx, id);
    if (present.includes(userId)) return getConversation(ctx, userId, id, tx);
    checkMemberCap(present.length + 1);
    const names = await findDisplayNames(tx, [userId]);
    const message = await appendSystemMessage(ctx, tx, id, userId, `${names.get(userId) ?? 'Someone'} joined the channel`);
    await insertMembers(tx, id, [userId], 'member', message.seq);
    await announceJoins(ctx, tx, id, [userId], events);
    events.push(messageStored(message));
    events.push(conversationChanged(await sharedOf(ctx, tx, id)));
    return getConversation(ctx, userId, id, tx);
  });
}
