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

/** The signed-in user's own view of themself. */
export const Me = PublicUser.extend({
  email: z.string(),
  publicKey: z.string().nullable(),
  createdAt: IsoTime,
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
  /** The preview of the first link, once the server has fetched it; absent when there is none. */
  linkPreview: LinkPreview.nullable().optional(),
});
export type Message = z.infer<typeof Message>;

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
  // The caller's own state:
  role: Role,
  pinned: z.boolean(),
  muted: z.boolean(),
  archived: z.boolean(),
  draft: z.string().nullable(),
  projectId: Id.nullable(),
  lastReadSeq: z.number().int(),
  lastDeliveredSeq: z.number().int(),
});
export type Conversation = z.infer<typeof Conversation>;

export const Project = z.object({
  id: Id,
  name: z.string(),
  createdAt: IsoTime,
  updatedAt: IsoTime,
});
export type Project = z.infer<typeof Project>;
