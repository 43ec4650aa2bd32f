import { z } from 'zod';

/** Limits that are part of the contract (clients check them before sending). */
export const LIMITS = {
  /** Largest REST/socket body in bytes. */
  bodyBytes: 1024 * 1024,
  /** Largest message content in UTF-8 bytes. */
  messageContentBytes: 64 * 1024,
  /** Previous versions kept per message (edits, regenerated answers); older ones are dropped. */
  messageVersionsKept: 20,
  /** Largest settings document, serialized, in bytes. */
  settingsBytes: 64 * 1024,
  /** Deepest nesting of objects and arrays in a REST body, socket payload or settings document. */
  jsonDepth: 32,
  /** Largest draft in characters. */
  draftChars: 64 * 1024,
  pageSize: 50,
  maxPageSize: 200,
  maxParticipants: 1000,
  /** Longest group topic in characters. */
  topicChars: 250,
  /** Most messages pinned in one conversation at once. */
  maxPins: 100,
  /** Longest system prompt of a conversation, in characters (as a user's custom instructions). */
  systemPromptChars: 4000,
} as const;

/**
 * Whether objects and arrays in `value` nest deeper than `max` levels (a bare object is one level).
 * Breadth-first, without recursion: it is asked before anything recursive (JSON.stringify,
 * PostgreSQL's jsonb parser) sees the value, and a body of 1 MB can nest hundreds of thousands deep.
 */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  // Each level holds only the objects and arrays found one level down: leaves are never queued.
  let level: object[] = [value];
  for (let depth = 1; level.length > 0; depth++) {
    if (depth > max) return true;
    const next: object[] = [];
    for (const v of level) {
      if (Array.isArray(v)) {
        for (const child of v as unknown[]) if (child !== null && typeof child === 'object') next.push(child);
      } else {
        for (const key in v) {
          const child = (v as Record<string, unknown>)[key];
          if (child !== null && typeof child === 'object') next.push(child);
        }
      }
    }
    level = next;
  }
  return false;
}

export const Id = z.string().min(1).max(64);
export type Id = z.infer<typeof Id>;
export const IsoTime = z.string();
export type IsoTime = z.infer<typeof IsoTime>;

export const Role = z.enum(['owner', 'admin', 'moderator', 'member']);
export type Role = z.infer<typeof Role>;

export const ConversationType = z.enum(['direct', 'group', 'assistant']);
export type ConversationType = z.infer<typeof ConversationType>;

export const MessageKind = z.enum(['text', 'image', 'file', 'voice', 'system']);
export type MessageKind = z.infer<typeof MessageKind>;

/** A group's visibility: `public` (a channel anyone on the instance may find and join) or `private`. */
export const Visibility = z.enum(['public', 'private']);
export type Visibility = z.infer<typeof Visibility>;

export const MessageStatus = z.enum(['complete', 'streaming', 'stopped', 'error']);
export type MessageStatus = z.infer<typeof MessageStatus>;

/** What anyone may see of a user. */
export const PublicUser = z.object({
  id: Id,
  handle: z.string(),
  displayName: z.string(),
  avatarUrl: z.string().nullable(),
  isBot: z.boolean(),
  lastSeenAt: IsoTime.nullable(),
});
export type PublicUser = z.infer<typeof PublicUser>;

/** A user's role on the instance (not in a conversation): only in `me` and the admin routes. */
export const InstanceRole = z.enum(['owner', 'admin', 'user']);
export type InstanceRole = z.infer<typeof InstanceRole>;

/** The signed-in user's own view of themself. */
export const Me = PublicUser.extend({
  email: z.string(),
  publicKey: z.string().nullable(),
  createdAt: IsoTime,
  role: InstanceRole,
  /** A second factor (TOTP) is on. */
  totpEnabled: z.boolean(),
});
export type Me = z.infer<typeof Me>;

export const Reaction = z.object({
  emoji: z.string(),
  count: z.number().int(),
  userIds: z.array(Id),
});
export type Reaction = z.infer<typeof Reaction>;

export const Attachment = z.object({
  id: Id,
  name: z.string(),
  type: z.string(),
  size: z.number().int(),
  width: z.number().int().nullable().optional(),
  height: z.number().int().nullable().optional(),
  durationMs: z.number().int().nullable().optional(),
  hasPreview: z.boolean().optional(),
});
export type Attachment = z.infer<typeof Attachment>;

/** A thread's summary on its root message (threads, issue #18; docs/threads.md). */
export const ThreadSummary = z.object({
  /** Replies in the thread, deleted ones not counted. */
  replyCount: z.number().int(),
  lastReplyAt: IsoTime.nullable(),
  /** Authors of replies, in the order of their first reply. */
  participantIds: z.array(Id),
});
export type ThreadSummary = z.infer<typeof ThreadSummary>;
/**
 * A message's link preview: what the server read from the page of its first http(s) link. The
 * image is a copy the server made (`imageUrl` is a path on this server, served to the
 * conversation's members only), never a link to the outside site.
 */
export const LinkPreview = z.object({
  url: z.string(),
  title: z.string().nullable(),
  description: z.string().nullable(),
  siteName: z.string().nullable(),
  imageUrl: z.string().nullable(),
});
export type LinkPreview = z.infer<typeof LinkPreview>;

/**
 * A tool the assistant called while writing an answer (docs/ai.md, "Tools"): a web search, an MCP
 * server's tool, image generation. `input` is what the model asked for; `output` what the tool
 * returned (cut to a few kilobytes for display; a string ending in "…" when cut), or `error` in
 * words for people. `stopped`: the answer was stopped while the call ran (the call was aborted).
 */
export const ToolCall = z.object({
  id: z.string(),
  name: z.string(),
  input: z.unknown(),
  output: z.unknown().optional(),
  error: z.string().optional(),
  status: z.enum(['running', 'done', 'error', 'stopped']),
  startedAt: IsoTime,
  endedAt: IsoTime.optional(),
});
export type ToolCall = z.infer<typeof ToolCall>;

export const Message = z.object({
  id: Id,
  conversationId: Id,
  /** Position in the conversation; never changes. */
  seq: z.number().int(),
  authorId: Id,
  clientId: z.string().nullable(),
  kind: MessageKind,
  /** Empty for a deleted message (tombstone). */
  content: z.string(),
  replyToId: Id.nullable(),
  attachments: z.array(Attachment),
  reactions: z.array(Reaction),
  createdAt: IsoTime,
  editedAt: IsoTime.nullable(),
  deletedAt: IsoTime.nullable(),
  status: MessageStatus,
  model: z.string().nullable(),
  /** The conversation sequence number of this message's latest change. */
  updatedSeq: z.number().int(),
  /** For an AI answer that ended in `status: "error"`: why, in words for people. */
  statusReason: z.string().nullable().optional(),
  /**
   * For an answer still streaming: how many `ai:delta` pieces `content` already holds. A client
   * applies only deltas with `index >= streamIndex`, so no piece is shown twice or skipped.
   */
  streamIndex: z.number().int().optional(),
  /** Pins (addition): when the message was pinned in its conversation and by whom; null when it is not. */
  pinnedAt: IsoTime.nullable().optional(),
  pinnedBy: Id.nullable().optional(),
  /** A reply in the thread of this message (threads); null or absent on the main line. */
  threadRootId: Id.nullable().optional(),
  /** A thread reply that was also sent to the main line. */
  alsoToChannel: z.boolean().optional(),
  /** On a thread's root, once it has had a reply. */
  thread: ThreadSummary.optional(),
  /**
   * Mentions as the server parsed them when the message was sent or last edited
   * (docs/mentions.md): the ids of the members named by `@handle` (the assistant's id for
   * `@assistant`), and whether it used `@here` / `@channel` with effect (a member not allowed to by
   * the conversation's `mentionChannel` leaves them false). Always present in the server's answers.
   */
  mentions: z.array(Id).optional(),
  mentionsHere: z.boolean().optional(),
  mentionsChannel: z.boolean().optional(),
  /** The preview of the first link, once the server has fetched it; absent when there is none. */
  linkPreview: LinkPreview.nullable().optional(),
  /** AI answers (addition): the tools called while writing it, in the order called; absent when none. */
  toolCalls: z.array(ToolCall).optional(),
});
export type Message = z.infer<typeof Message>;

/** Who may notify everyone with `@channel` and `@here` in a conversation. */
export const MentionChannel = z.enum(['everyone', 'admins']);
export type MentionChannel = z.infer<typeof MentionChannel>;

export const Member = z.object({
  userId: Id,
  role: Role,
  joinedAt: IsoTime,
  lastReadSeq: z.number().int(),
  lastDeliveredSeq: z.number().int(),
  user: PublicUser,
});
export type Member = z.infer<typeof Member>;

export const Conversation = z.object({
  id: Id,
  type: ConversationType,
  title: z.string().nullable(),
  createdAt: IsoTime,
  lastActivityAt: IsoTime,
  /** The conversation's latest sequence number (every change takes the next). */
  lastSeq: z.number().int(),
  /** The assistant's model, for assistant conversations. */
  model: z.string().nullable(),
  members: z.array(Member),
  lastMessage: Message.nullable(),
  unreadCount: z.number().int(),
  /** True while an AI answer streams in this conversation. */
  generating: z.boolean(),
  /** Channels: `public` groups can be found and joined by anyone; everything else is `private`. */
  visibility: Visibility,
  /** A group's topic (shown in its header and in the channel directory); null when none is set. */
  topic: z.string().nullable(),
  /** Who may use `@channel` / `@here` (default `everyone`); owners and admins change it. */
  mentionChannel: MentionChannel.optional(),
  /**
   * What the conversation tells the assistant before every answer (AI conversations); null when
   * none. Every member sees it; the owner (assistant conversations) or admins (groups) set it.
   */
  systemPrompt: z.string().nullable().optional(),
  // The caller's own state:
  role: Role,
  pinned: z.boolean(),
  muted: z.boolean(),
  archived: z.boolean(),
  draft: z.string().nullable(),
  projectId: Id.nullable(),
  lastReadSeq: z.number().int(),
  lastDeliveredSeq: z.number().int(),
  /** Messages after the caller's read watermark that mention them (docs/mentions.md). */
  unreadMentionCount: z.number().int().optional(),
});
export type Conversation = z.infer<typeof Conversation>;

export const Project = z.object({
  id: Id,
  name: z.string(),
  createdAt: IsoTime,
  updatedAt: IsoTime,
});
export type Project = z.infer<typeof Project>;

/**
 * A public channel as the directory shows it, to members and non-members alike: never its messages
 * or member list, only what a person needs to decide to join.
 */
export const Channel = z.object({
  id: Id,
  title: z.string(),
  topic: z.string().nullable(),
  memberCount: z.number().int(),
  /** Whether the caller is a member already. */
  isMember: z.boolean(),
  createdAt: IsoTime,
  lastActivityAt: IsoTime,
});
export type Channel = z.infer<typeof Channel>;
