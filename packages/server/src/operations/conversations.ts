import {
  ConfabError,
  LIMITS,
  type Conversation,
  type ConversationList,
  type Member,
  type Message,
  type Role,
  type ServerEventPayload,
  type UpdateConversationBody,
  type Visibility,
} from '@confab/protocol';
import { z } from 'zod';
import { DEFAULT_MODEL } from '../ai/models.ts';
import { requireListedModel } from './ai.ts';
import type { DomainEvent } from '../bus/bus.ts';
import type { Context } from '../context.ts';
import { newId } from '../ids.ts';
import {
  containsPattern,
  type ConversationListCursor,
  deleteConversation as deleteConversationRow,
  findConversations,
  findTitle,
  insertAssistantConversation,
  insertDirectConversation,
  insertGroupConversation,
  listConversationPage,
  lockDirectConversation,
  setMentionChannel,
  setTitle,
} from '../storage/conversations.ts';
import type { Queryable } from '../storage/db.ts';
import {
  deleteMember,
  findMemberIds,
  findMemberProfiles,
  findMemberRole,
  findMemberRoleAndKind,
  findMembersBySeniority,
  findMemberStates,
  insertMembers,
  setMemberRole,
  updateMemberState,
  type MemberStateChanges,
} from '../storage/members.ts';
import { findLastMessages } from '../storage/messages.ts';
import { lockOwnProject } from '../storage/projects.ts';
import type { MembershipRow } from '../storage/rows.ts';
import { findDisplayNames as displayNames, findIsBot, findUserKinds } from '../storage/users.ts';
import { isOwnedBot } from '../storage/bots.ts';
import { isAdmin, requireMember, roleRank } from './access.ts';
import { applyAssistantSettings, systemPromptText } from './assistantSettings.ts';
import { applyChannelSettings } from './channelSettings.ts';
import { commitWithEvents } from './events.ts';
import { appendSystemMessage, hydrateMessages } from './messages.ts';
import { requireMayStartDirect, requireNotBlockedByAny } from './consent.ts';
import { iso, toPublicUser } from './users.ts';

// ---------------------------------------------------------------------------------------------
// Hydration
// ---------------------------------------------------------------------------------------------

/** Fields of a Conversation that belong to the viewing member, not to the conversation. */
const OWN_FIELDS = ['role', 'pinned', 'muted', 'archived', 'draft', 'projectId', 'lastReadSeq', 'lastDeliveredSeq', 'unreadCount', 'unreadMentionCount'] as const;
type OwnField = (typeof OWN_FIELDS)[number];
/** What every member sees alike; the only shape ever broadcast to a conversation room. */
export type SharedConversation = Omit<Conversation, OwnField>;
type OwnState = Pick<Conversation, OwnField>;

/** The parts every member shares, for many conversations in a fixed number of queries. */
async function loadShared(ctx: Context, db: Queryable, ids: string[]): Promise<Map<string, SharedConversation>> {
  const result = new Map<string, SharedConversation>();
  if (ids.length === 0) return result;
  const [convs, members, lastRows] = [await findConversations(db, ids), await findMemberProfiles(db, ids), await findLastMessages(db, ids)];
  const lastMessages = new Map((await hydrateMessages(ctx, db, lastRows)).map((m) => [m.conversationId, m]));
  const membersBy = new Map<string, Member[]>();
  for (const r of members) {
    const list = membersBy.get(r.conversation_id) ?? [];
    list.push({
      userId: r.user_id,
      role: r.role,
      joinedAt: iso(r.joined_at)!,
      lastReadSeq: r.last_read_seq,
      lastDeliveredSeq: r.last_delivered_seq,
      user: toPublicUser({ ...r, id: r.user_id }),
    });
    membersBy.set(r.conversation_id, list);
  }
  for (const c of convs) {
    result.set(c.id, {
      id: c.id,
      type: c.type,
      title: c.title,
      createdAt: iso(c.created_at)!,
      lastActivityAt: iso(c.last_activity_at)!,
      lastSeq: c.last_seq,
      model: c.model,
      members: membersBy.get(c.id) ?? [],
      lastMessage: lastMessages.get(c.id) ?? null,
      generating: c.generating,
      visibility: c.visibility,
      topic: c.topic,
      mentionChannel: c.mention_channel,
      systemPrompt: systemPromptText(ctx, c.system_prompt),
    });
  }
  return result;
}

const pairKey = (conversationId: string, userId: string) => `${conversationId}\u0000${userId}`;

/**
 * Full views for (conversation, viewer) pairs; pairs whose user is not a member are left out.
 * Pairs may mix users, so one call serves both "my list" and "every added member's own view".
 */
async function hydratePairs(ctx: Context, db: Queryable, pairs: { conversationId: string; userId: string }[]): Promise<Map<string, Conversation>> {
  const out = new Map<string, Conversation>();
  if (pairs.length === 0) return out;
  const own = await findMemberStates(db, pairs);
  const shared = await loadShared(ctx, db, [...new Set(own.map((r) => r.conversation_id))]);
  for (const r of own) {
    const s = shared.get(r.conversation_id);
    if (!s) continue;
    const state: OwnState = {
      role: r.role,
      pinned: r.pinned,
      muted: r.muted,
      archived: r.archived,
      draft: r.draft_enc === null ? null : ctx.keys.decrypt(r.draft_enc),
      projectId: r.project_id,
      lastReadSeq: r.last_read_seq,
      lastDeliveredSeq: r.last_delivered_seq,
      unreadCount: r.unread_count,
      unreadMentionCount: r.unread_mention_count,
    };
    out.set(pairKey(r.conversation_id, r.user_id), { ...s, ...state });
  }
  return out;
}

/**
 * The caller's views of these conversations, in the order of `ids`; ones the caller is not a member
 * of are silently left out (callers such as search and sync pass candidate ids).
 * `db` lets a caller hydrate inside its own transaction (on the embedded driver a query outside the
 * open transaction would wait for it forever).
 */
export async function getConversations(ctx: Context, userId: string, ids: string[], db: Queryable = ctx.db): Promise<Conversation[]> {
  const unique = [...new Set(ids)];
  const views = await hydratePairs(ctx, db, unique.map((conversationId) => ({ conversationId, userId })));
  return unique.flatMap((id) => views.get(pairKey(id, userId)) ?? []);
}

/**
 * Several viewers' views at once (a batch of syncs), keyed by conversationViewKey(conversation, viewer);
 * pairs whose user is not a member are left out.
 */
export function getConversationViews(ctx: Context, pairs: { conversationId: string; userId: string }[], db: Queryable = ctx.db): Promise<Map<string, Conversation>> {
  const unique = [...new Map(pairs.map((p) => [pairKey(p.conversationId, p.userId), p])).values()];
  return hydratePairs(ctx, db, unique);
}
export const conversationViewKey = pairKey;

export async function getConversation(ctx: Context, userId: string, id: string, db: Queryable = ctx.db): Promise<Conversation> {
  const [view] = await getConversations(ctx, userId, [id], db);
  if (!view) throw new ConfabError('NOT_FOUND', 'no such conversation');
  return view;
}

/** Strips the viewer's own state, so a room broadcast never carries one member's draft or pins to the others. */
export function sharedView(c: Conversation | SharedConversation): SharedConversation {
  const copy: Record<string, unknown> = { ...c };
  for (const f of OWN_FIELDS) delete copy[f];
  return copy as SharedConversation;
}

export async function sharedOf(ctx: Context, db: Queryable, id: string): Promise<SharedConversation> {
  const s = (await loadShared(ctx, db, [id])).get(id);
  if (!s) throw new ConfabError('NOT_FOUND', 'no such conversation');
  return s;
}

// ---------------------------------------------------------------------------------------------
// Domain events are collected inside the transaction and published only after it commits
// (commitWithEvents in events.ts).
// ---------------------------------------------------------------------------------------------

export const messageStored = (message: Message): DomainEvent => ({ type: 'message_stored', message });
export const conversationChanged = (change: ServerEventPayload<'conversation:update'>): DomainEvent => ({ type: 'conversation_changed', change });
const memberView = (userId: string, view: ServerEventPayload<'conversation:update'>): DomainEvent => ({ type: 'member_view_changed', userId, view });
const membership = (userId: string, conversationId: string, joined: boolean): DomainEvent => ({ type: 'membership', userId, conversationId, joined });

/** Each member of a new conversation (or a new member) gets their own full view plus room membership. */
export async function announceJoins(ctx: Context, tx: Queryable, conversationId: string, userIds: string[], events: DomainEvent[]): Promise<void> {
  // Membership first: the gateway then puts the user's live sockets in the room before anything is sent to it.
  for (const u of userIds) events.push(membership(u, conversationId, true));
  const views = await hydratePairs(ctx, tx, userIds.map((userId) => ({ conversationId, userId })));
  for (const u of userIds) {
    const view = views.get(pairKey(conversationId, u));
    if (view) events.push(memberView(u, view));
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

function nameList(names: string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** Every id must name an existing user, or nothing happens (NOT_FOUND). */
async function requireUsers(tx: Queryable, ids: string[]): Promise<{ id: string; is_bot: boolean }[]> {
  if (ids.length === 0) return [];
  const rows = await findUserKinds(tx, ids);
  if (rows.length !== ids.length) throw new ConfabError('NOT_FOUND', 'no such user');
  return rows;
}

export function checkMemberCap(count: number): void {
  if (count > LIMITS.maxParticipants) {
    throw new ConfabError('VALIDATION_ERROR', `a conversation can have at most ${LIMITS.maxParticipants} members`);
  }
}

const ASSISTANT_USER_ID = 'assistant';

// ---------------------------------------------------------------------------------------------
// Create
// ---------------------------------------------------------------------------------------------

export interface CreateResult {
  conversation: Conversation;
  created: boolean;
}

/**
 * Get-or-create the one direct conversation between two people. `direct_key` is UNIQUE, so
 * concurrent creates race on the index: one insert wins and the others, once it commits, find it.
 * When one side had left, asking again brings them back into the same conversation (and history).
 */
export async function createDirect(ctx: Context, userId: string, peerId: string): Promise<CreateResult> {
  if (peerId === userId) throw new ConfabError('VALIDATION_ERROR', 'a direct conversation needs another person');
  const directKey = [userId, peerId].sort().join(':');
  return commitWithEvents(ctx, async (tx, events) => {
    const peerIsBot = await findIsBot(tx, peerId);
    if (peerIsBot === undefined) throw new ConfabError('NOT_FOUND', 'no such user');
    // A person's bot (operations/bots.ts) talks in direct conversations like anyone; the built-in
    // assistant has its own kind of conversation.
    if (peerIsBot && !(await isOwnedBot(tx, peerId))) throw new ConfabError('VALIDATION_ERROR', 'start an assistant conversation to talk to a bot');
    await requireMayStartDirect(tx, userId, peerId);

    const insertedId = await insertDirectConversation(tx, newId(), directKey, userId);
    if (insertedId) {
      await insertMembers(tx, insertedId, [userId, peerId], 'member', 0);
      await announceJoins(ctx, tx, insertedId, [userId, peerId], events);
      return { conversation: await getConversation(ctx, userId, insertedId, tx), created: true };
    }

    // The lock orders this against a concurrent leave or rejoin of the same pair.
    const existingId = await lockDirectConversation(tx, directKey);
    // Only possible if the row was deleted between our insert and this select (both sides left
    // concurrently); the caller retrying creates a fresh one.
    if (!existingId) throw new ConfabError('UNAVAILABLE', 'the conversation changed concurrently; try again');
    const present = new Set(await findMemberIds(tx, existingId));
    const missing = [userId, peerId].filter((u) => !present.has(u));
    if (missing.length > 0) {
      const names = await displayNames(tx, missing);
      const message = await appendSystemMessage(ctx, tx, existingId, userId, `${nameList(missing.map((u) => names.get(u) ?? 'someone'))} rejoined the conversation`);
      await insertMembers(tx, existingId, missing, 'member', message.seq);
      await announceJoins(ctx, tx, existingId, missing, events);
      events.push(messageStored(message));
      events.push(conversationChanged(await sharedOf(ctx, tx, existingId)));
    }
    return { conversation: await getConversation(ctx, userId, existingId, tx), created: false };
  });
}

export async function createGroup(
  ctx: Context,
  userId: string,
  body: { title: string; participantIds: string[]; visibility?: Visibility | undefined; topic?: string | null | undefined },
): Promise<Conversation> {
  const others = [...new Set(body.participantIds)].filter((id) => id !== userId);
  checkMemberCap(others.length + 1);
  return commitWithEvents(ctx, async (tx, events) => {
    await requireUsers(tx, others);
    await requireNotBlockedByAny(tx, userId, others);
    const id = newId();
    await insertGroupConversation(tx, id, body.title, userId, { visibility: body.visibility ?? 'private', topic: body.topic || null });
    await insertMembers(tx, id, [userId], 'owner', 0);
    await insertMembers(tx, id, others, 'member', 0);
    await announceJoins(ctx, tx, id, [userId, ...others], events);
    return getConversation(ctx, userId, id, tx);
  });
}

/**
 * A conversation with the assistant. A named model must be one `GET /api/models` lists for the
 * caller (the server pays for those or the caller's own key does); none means the default, chosen
 * when each answer starts.
 */
export async function createAssistant(ctx: Context, userId: string, body: { model?: string | undefined; title?: string | undefined }): Promise<Conversation> {
  if (body.model !== undefined) await requireListedModel(ctx, userId, body.model);
  return commitWithEvents(ctx, async (tx, events) => {
    const id = newId();
    await insertAssistantConversation(tx, id, body.title ?? null, body.model ?? DEFAULT_MODEL, userId);
    await insertMembers(tx, id, [userId], 'owner', 0);
    await insertMembers(tx, id, [ASSISTANT_USER_ID], 'member', 0);
    await announceJoins(ctx, tx, id, [userId, ASSISTANT_USER_ID], events);
    return getConversation(ctx, userId, id, tx);
  });
}

// ---------------------------------------------------------------------------------------------
// List
// ---------------------------------------------------------------------------------------------

/** The position after which the next page starts: the last row's sort key. */
const CursorSchema = z.tuple([
  z.boolean(),
  // Microsecond precision: a millisecond-rounded time could skip or repeat rows that share a millisecond.
  z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/)
    // A round trip rejects impossible dates (2024-02-30) that PostgreSQL would fail on with a 500.
    .refine((s) => {
      const ms = Date.parse(`${s.slice(0, 23)}Z`);
      return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 23) === s.slice(0, 23);
    }),
  z.string().min(1).max(64),
]);

function encodeCursor(pinned: boolean, activity: string, id: string): string {
  return Buffer.from(JSON.stringify([pinned, activity, id])).toString('base64url');
}

function decodeCursor(cursor: string): z.infer<typeof CursorSchema> {
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error('not base64url');
    return CursorSchema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw new ConfabError('VALIDATION_ERROR', 'cursor: not a cursor this server issued');
  }
}

export interface ListQuery {
  limit: number;
  cursor?: string | undefined;
  query?: string | undefined;
  archived?: 'true' | 'false' | 'all' | undefined;
}

/**
 * The caller's conversations: pinned first, then most recent activity, then id (a total order, so
 * keyset pagination neither skips nor repeats rows that tie on time).
 */
export async function listConversations(ctx: Context, userId: string, q: ListQuery): Promise<ConversationList> {
  let after: ConversationListCursor | undefined;
  if (q.cursor !== undefined) {
    const [pinned, activity, id] = decodeCursor(q.cursor);
    after = { pinned, activity, id };
  }
  const rows = await listConversationPage(ctx.db, userId, {
    archived: q.archived ?? 'false',
    pattern: q.query ? containsPattern(q.query) : undefined,
    after,
    limit: q.limit + 1,
  });
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return {
    conversations: await getConversations(ctx, userId, page.map((r) => r.id)),
    nextCursor: rows.length > q.limit && last ? encodeCursor(last.pinned, last.activity, last.id) : null,
  };
}

// ---------------------------------------------------------------------------------------------
// Update the conversation or the caller's own state
// ---------------------------------------------------------------------------------------------

export async function updateConversation(ctx: Context, userId: string, id: string, patch: UpdateConversationBody): Promise<Conversation> {
  // Switched only to a model the caller is offered (the admins' allow-list included), as at creation.
  if (patch.model !== undefined) await requireListedModel(ctx, userId, patch.model);
  return commitWithEvents(ctx, async (tx, events) => {
    const channelChange = patch.visibility !== undefined || patch.topic !== undefined;
    const me = await requireMember(tx, id, userId, { lock: patch.title !== undefined || channelChange || patch.model !== undefined || patch.systemPrompt !== undefined });
    let renamed: Message | undefined;
    if (patch.title !== undefined) {
      if (me.type === 'direct') throw new ConfabError('FORBIDDEN', 'a direct conversation has no title');
      if (!isAdmin(me.role)) throw new ConfabError('FORBIDDEN', 'only owners and admins can rename the conversation');
      const current = await findTitle(tx, id);
      if (current?.title !== patch.title) {
        await setTitle(tx, id, patch.title);
        const names = await displayNames(tx, [userId]);
        renamed = await appendSystemMessage(ctx, tx, id, userId, `${names.get(userId) ?? 'Someone'} renamed the conversation to "${patch.title}"`);
      }
    }
    // Visibility and topic (channelSettings.ts): one system message per change, like a rename.
    const channelMessages = channelChange ? await applyChannelSettings(ctx, tx, me, patch) : [];
    let settingsChanged = false;
    if (patch.mentionChannel !== undefined) {
      // Who may notify everyone (docs/mentions.md): the conversation's admins decide.
      if (me.type !== 'group') throw new ConfabError('FORBIDDEN', 'only group conversations restrict @channel');
      if (!isAdmin(me.role)) throw new ConfabError('FORBIDDEN', 'only owners and admins can change who may use @channel');
      settingsChanged = await setMentionChannel(tx, id, patch.mentionChannel);
    }
    // Model and system prompt (assistantSettings.ts): one system message per change, like a rename.
    const aiChange = patch.model !== undefined || patch.systemPrompt !== undefined;
    const aiSettings = aiChange ? await applyAssistantSettings(ctx, tx, me, patch) : { messages: [], changed: false };
    settingsChanged = aiSettings.changed || settingsChanged;
    if (patch.projectId) {
      // FOR SHARE keeps the project from being deleted before this commits (the FK would fail).
      if (!(await lockOwnProject(tx, patch.projectId, userId))) throw new ConfabError('NOT_FOUND', 'no such project');
    }
    const own: MemberStateChanges = {};
    if (patch.pinned !== undefined) own.pinned = patch.pinned;
    if (patch.muted !== undefined) own.muted = patch.muted;
    if (patch.archived !== undefined) own.archived = patch.archived;
    // An empty draft is no draft: clients clear their input by sending "" as often as null.
    if (patch.draft !== undefined) own.draft_enc = patch.draft ? ctx.keys.encrypt(patch.draft) : null;
    if (patch.projectId !== undefined) own.project_id = patch.projectId;
    const ownChanged = Object.keys(own).length > 0;
    if (ownChanged) await updateMemberState(tx, id, userId, own);
    const view = await getConversation(ctx, userId, id, tx);
    const stored = [...(renamed ? [renamed] : []), ...channelMessages, ...aiSettings.messages];
    for (const m of stored) events.push(messageStored(m));
    if (stored.length > 0 || settingsChanged) events.push(conversationChanged(sharedView(view)));
    // The caller's other devices learn of pins, drafts, etc.; nobody else does.
    if (ownChanged || stored.length > 0) events.push(memberView(userId, view));
    return view;
  });
}

// ---------------------------------------------------------------------------------------------
// Membership
// ---------------------------------------------------------------------------------------------

const ROLE_WORDS: Record<Role, string> = { owner: 'the owner', admin: 'an admin', moderator: 'a moderator', member: 'a member' };

function requireGroup(me: MembershipRow, action: string): void {
  if (me.type !== 'group') throw new ConfabError('FORBIDDEN', `only group conversations can ${action}`);
}

export async function addParticipants(ctx: Context, userId: string, id: string, body: { userIds: string[]; role?: Exclude<Role, 'owner'> | undefined }): Promise<Conversation> {
  const role = body.role ?? 'member';
  return commitWithEvents(ctx, async (tx, events) => {
    const me = await requireMember(tx, id, userId, { lock: true });
    requireGroup(me, 'have members added');
    if (!isAdmin(me.role)) throw new ConfabError('FORBIDDEN', 'only owners and admins can add members');
    // The same rule as for role changes: nobody hands out a rank they could not assign later.
    if (roleRank(role) >= roleRank(me.role)) throw new ConfabError('FORBIDDEN', `only the owner can add ${role}s`);
    const wanted = [...new Set(body.userIds)];
    await requireUsers(tx, wanted);
    const present = new Set(await findMemberIds(tx, id));
    const added = wanted.filter((u) => !present.has(u));
    if (added.length === 0) return getConversation(ctx, userId, id, tx);
    await requireNotBlockedByAny(tx, userId, added);
    checkMemberCap(present.size + added.length);
    const names = await displayNames(tx, [userId, ...added]);
    const message = await appendSystemMessage(ctx, tx, id, userId, `${names.get(userId) ?? 'Someone'} added ${nameList(added.map((u) => names.get(u) ?? 'someone'))}`);
    // New members start read up to their joining: history is there to scroll, not to count as unread,
    // and their watermark must not make older messages look unread by "everyone".
    await insertMembers(tx, id, added, role, message.seq);
    await announceJoins(ctx, tx, id, added, events);
    const view = await getConversation(ctx, userId, id, tx);
    events.push(messageStored(message));
    events.push(conversationChanged(sharedView(view)));
    return view;
  });
}

export interface RemovalOutcome {
  /** The conversation was deleted because no person was left in it. */
  deleted: boolean;
}

/**
 * Removes `targetId` from the locked conversation: a leave when the actor is the target. The owner
 * leaving hands the group to the longest-standing admin, else the longest-standing person; the
 * last person leaving deletes the conversation (a bot alone in it is no conversation).
 */
async function removeMember(ctx: Context, tx: Queryable, events: DomainEvent[], me: MembershipRow, targetId: string, targetRole: Role): Promise<RemovalOutcome> {
  const id = me.conversation_id;
  const leaving = targetId === me.user_id;
  await deleteMember(tx, id, targetId);
  events.push(membership(targetId, id, false));
  events.push(memberView(targetId, { id, removed: true }));

  const remaining = await findMembersBySeniority(tx, id);
  const people = remaining.filter((r) => !r.is_bot);
  if (people.length === 0) {
    await deleteConversationRow(tx, id);
    for (const bot of remaining) events.push(membership(bot.user_id, id, false));
    return { deleted: true };
  }

  const names = await displayNames(tx, [me.user_id, targetId]);
  let text = leaving ? `${names.get(targetId) ?? 'Someone'} left` : `${names.get(me.user_id) ?? 'Someone'} removed ${names.get(targetId) ?? 'someone'}`;
  let newOwner: string | undefined;
  if (targetRole === 'owner') {
    const heir = people.find((r) => r.role === 'admin') ?? people[0]!;
    await setMemberRole(tx, id, heir.user_id, 'owner');
    newOwner = heir.user_id;
    text += `; ${(await displayNames(tx, [heir.user_id])).get(heir.user_id) ?? 'someone'} is now the owner`;
  }
  const message = await appendSystemMessage(ctx, tx, id, me.user_id, text);
  events.push(messageStored(message));
  events.push(conversationChanged(await sharedOf(ctx, tx, id)));
  if (newOwner) {
    const view = await getConversation(ctx, newOwner, id, tx);
    events.push(memberView(newOwner, view));
  }
  return { deleted: false };
}

export async function removeParticipant(ctx: Context, userId: string, id: string, targetId: string): Promise<RemovalOutcome> {
  return commitWithEvents(ctx, async (tx, events) => {
    const me = await requireMember(tx, id, userId, { lock: true });
    if (targetId === userId) return removeMember(ctx, tx, events, me, userId, me.role);
    requireGroup(me, 'have members removed');
    if (!isAdmin(me.role)) throw new ConfabError('FORBIDDEN', 'only owners and admins can remove members');
    const targetRole = await findMemberRole(tx, id, targetId);
    if (!targetRole) throw new ConfabError('NOT_FOUND', 'no such member');
    if (roleRank(targetRole) >= roleRank(me.role)) throw new ConfabError('FORBIDDEN', 'you can only remove members ranked below you');
    return removeMember(ctx, tx, events, me, targetId, targetRole);
  });
}

/** Owner of a group or assistant conversation: delete it for everyone. Anyone else: leave it. */
export async function deleteConversation(ctx: Context, userId: string, id: string): Promise<void> {
  await commitWithEvents(ctx, async (tx, events) => {
    const me = await requireMember(tx, id, userId, { lock: true });
    if (me.role !== 'owner') {
      await removeMember(ctx, tx, events, me, userId, me.role);
      return;
    }
    const members = await findMemberIds(tx, id);
    // One statement: messages, versions, reactions and members go by ON DELETE CASCADE, all or nothing.
    await deleteConversationRow(tx, id);
    for (const member of members) {
      events.push(membership(member, id, false));
      events.push(memberView(member, { id, deleted: true }));
    }
  });
}

export async function changeRole(ctx: Context, userId: string, id: string, targetId: string, role: Role): Promise<Conversation> {
  return commitWithEvents(ctx, async (tx, events) => {
    const me = await requireMember(tx, id, userId, { lock: true });
    requireGroup(me, 'have roles');
    if (!isAdmin(me.role)) throw new ConfabError('FORBIDDEN', 'only owners and admins can change roles');
    if (targetId === userId) throw new ConfabError('FORBIDDEN', 'you cannot change your own role');
    const target = await findMemberRoleAndKind(tx, id, targetId);
    if (!target) throw new ConfabError('NOT_FOUND', 'no such member');
    if (me.role !== 'owner' && (roleRank(target.role) >= roleRank(me.role) || roleRank(role) >= roleRank(me.role))) {
      throw new ConfabError('FORBIDDEN', 'admins can only make members ranked below them moderators or members');
    }
    if (role === 'owner' && target.is_bot) throw new ConfabError('VALIDATION_ERROR', 'a bot cannot own a conversation');
    if (target.role === role) return getConversation(ctx, userId, id, tx);

    await setMemberRole(tx, id, targetId, role);
    // A group has exactly one owner: handing it over makes the old owner an admin.
    if (role === 'owner') await setMemberRole(tx, id, userId, 'admin');
    const names = await displayNames(tx, [userId, targetId]);
    const message = await appendSystemMessage(ctx, tx, id, userId, `${names.get(userId) ?? 'Someone'} made ${names.get(targetId) ?? 'someone'} ${ROLE_WORDS[role]}`);
    const views = await hydratePairs(ctx, tx, [userId, targetId].map((u) => ({ conversationId: id, userId: u })));
    const mine = views.get(pairKey(id, userId))!;
    const theirs = views.get(pairKey(id, targetId));
    events.push(messageStored(message));
    events.push(conversationChanged(sharedView(mine)));
    // `role` is part of each member's own view; the two whose role changed get theirs.
    if (theirs) events.push(memberView(targetId, theirs));
    if (role === 'owner') events.push(memberView(userId, mine));
    return mine;
  });
}
