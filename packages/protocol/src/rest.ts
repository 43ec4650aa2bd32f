import { z } from 'zod';
import { Channel, Conversation, Id, IsoTime, LIMITS, Me, MentionChannel, Message, MessageKind, nestedDeeperThan, Project, PublicUser, Role, Visibility } from './entities.ts';

/**
 * Request and response bodies of the REST half of the contract.
 * Request objects are strict: an unknown field is a VALIDATION_ERROR, so typos never pass silently.
 */

export const Email = z.string().trim().toLowerCase().max(254).pipe(z.email());
export const Password = z.string().min(8, 'password must have at least 8 characters').max(256);
export const Handle = z
  .string()
  .trim()
  .min(2)
  .max(32)
  .regex(/^[a-zA-Z0-9_.-]+$/, 'handle may only contain letters, digits, _ . -')
  // `@here` and `@channel` mention groups of people (docs/mentions.md): no one may be called that.
  .refine((h) => !['here', 'channel'].includes(h.toLowerCase()), 'this handle is reserved');
const DisplayName = z.string().trim().min(1).max(64);

/** A positive integer that may arrive as a query string. */
export const QueryInt = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

// ---- auth ----
export const RegisterBody = z.strictObject({
  email: Email,
  password: Password,
  handle: Handle,
  displayName: DisplayName,
  /** Needed while registration is `invite` (the token of an invite link). */
  inviteToken: z.string().min(1).max(256).optional(),
});
export type RegisterBody = z.infer<typeof RegisterBody>;
export const LoginBody = z.strictObject({
  email: Email,
  password: z.string().min(1).max(256),
  /** A current TOTP code or an unused recovery code, where a second factor is on. */
  totpCode: z.string().trim().min(1).max(64).optional(),
});
export type LoginBody = z.infer<typeof LoginBody>;
export const RefreshBody = z.strictObject({ refreshToken: z.string().min(1).max(512) });
export type RefreshBody = z.infer<typeof RefreshBody>;
export const LogoutBody = RefreshBody;
export const TokenPair = z.object({ accessToken: z.string(), refreshToken: z.string() });
export type TokenPair = z.infer<typeof TokenPair>;
export const AuthResult = TokenPair.extend({ user: Me });
export type AuthResult = z.infer<typeof AuthResult>;

// ---- users ----
export const UserSearchQuery = z.strictObject({
  query: z.string().trim().max(100).default(''),
  limit: QueryInt(1, 50).default(20),
});
export const UserList = z.object({ users: z.array(PublicUser) });
export const UpdateMeBody = z.strictObject({
  displayName: DisplayName.optional(),
  avatarUrl: z.url({ protocol: /^https?$/ }).max(2048).nullable().optional(),
  publicKey: z.string().max(4096).nullable().optional(),
});
export type UpdateMeBody = z.infer<typeof UpdateMeBody>;
/** The settings document is the client's to shape; the server only bounds its size and nesting. */
export const Settings = z
  .record(z.string(), z.unknown())
  .refine((settings) => !nestedDeeperThan(settings, LIMITS.jsonDepth), `settings must nest at most ${LIMITS.jsonDepth} levels deep`);
export type Settings = z.infer<typeof Settings>;

// ---- conversations ----
/** A group's topic; an empty one (after trimming) means none. */
const Topic = z.string().trim().max(LIMITS.topicChars);
export const CreateDirectBody = z.strictObject({ userId: Id });
export const CreateGroupBody = z.strictObject({
  title: z.string().trim().min(1).max(200),
  participantIds: z.array(Id).max(LIMITS.maxParticipants).default([]),
  visibility: Visibility.optional(),
  topic: Topic.nullable().optional(),
});
export const CreateAssistantBody = z.strictObject({
  model: z.string().min(1).max(200).optional(),
  title: z.string().trim().min(1).max(200).optional(),
});
export const ConversationListQuery = z.strictObject({
  limit: QueryInt(1, LIMITS.maxPageSize).default(LIMITS.pageSize),
  cursor: z.string().max(500).optional(),
  query: z.string().trim().max(200).optional(),
  archived: z.enum(['true', 'false', 'all']).optional(),
});
export const ConversationList = z.object({
  conversations: z.array(Conversation),
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: z.string().nullable(),
});
export type ConversationList = z.infer<typeof ConversationList>;
export const UpdateConversationBody = z.strictObject({
  title: z.string().trim().min(1).max(200).optional(),
  pinned: z.boolean().optional(),
  muted: z.boolean().optional(),
  draft: z.string().max(LIMITS.draftChars).nullable().optional(),
  archived: z.boolean().optional(),
  projectId: Id.nullable().optional(),
  /** Groups, admins: make it a public channel or a private group. */
  visibility: Visibility.optional(),
  /** Groups, admins: the topic; null or "" clears it. */
  topic: Topic.nullable().optional(),
  mentionChannel: MentionChannel.optional(),
  /** Assistant conversations (the owner) and groups (admins): one of the models GET /api/models lists. */
  model: z.string().min(1).max(200).optional(),
  /** Assistant conversations (the owner) and groups (admins): what the assistant is told first; null or "" clears it. */
  systemPrompt: z.string().trim().max(LIMITS.systemPromptChars).nullable().optional(),
});
export type UpdateConversationBody = z.infer<typeof UpdateConversationBody>;
export const AddParticipantsBody = z.strictObject({
  userIds: z.array(Id).min(1).max(LIMITS.maxParticipants),
  role: Role.exclude(['owner']).optional(),
});
export const ChangeRoleBody = z.strictObject({ role: Role });
export const ConversationIdParams = z.strictObject({ id: Id });
export const ParticipantParams = z.strictObject({ id: Id, userId: Id });

// ---- channels ----
export const ChannelListQuery = z.strictObject({
  /** Matches titles and topics, anywhere, case-insensitively. */
  query: z.string().trim().max(200).optional(),
  limit: QueryInt(1, LIMITS.maxPageSize).default(LIMITS.pageSize),
  cursor: z.string().max(500).optional(),
});
export type ChannelListQuery = z.infer<typeof ChannelListQuery>;
export type ChannelListQueryInput = Partial<ChannelListQuery>;
export const ChannelList = z.object({
  /** By title (case-insensitive), then id. */
  channels: z.array(Channel),
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: z.string().nullable(),
});
export type ChannelList = z.infer<typeof ChannelList>;

// ---- pins ----
/** A conversation's pinned messages, the most recently pinned first. */
export const PinList = z.object({ messages: z.array(Message) });
export type PinList = z.infer<typeof PinList>;

// ---- projects ----
export const CreateProjectBody = z.strictObject({ name: z.string().trim().min(1).max(100) });
export const UpdateProjectBody = z.strictObject({ name: z.string().trim().min(1).max(100) });
export const ProjectList = z.object({ projects: z.array(Project) });

// ---- messages ----
export const MessageListQuery = z
  .strictObject({
    limit: QueryInt(1, LIMITS.maxPageSize).default(LIMITS.pageSize),
    before: QueryInt(0, 2 ** 31 - 1).optional(),
    after: QueryInt(0, 2 ** 31 - 1).optional(),
    /** One thread's replies instead of the main line (threads). */
    threadRootId: Id.optional(),
  })
  .refine((q) => q.before === undefined || q.after === undefined, 'pass before or after, not both');
export const MessageList = z.object({
  messages: z.array(Message),
  hasMore: z.boolean(),
  /** With `threadRootId`: the thread's root, as it is now. */
  root: Message.optional(),
});
export type MessageList = z.infer<typeof MessageList>;

/** Content is checked for its byte size separately: over the limit is a 413, not a 400. */
export const SendMessageBody = z.strictObject({
  conversationId: Id,
  content: z.string(),
  clientId: z.string().min(1).max(100),
  kind: MessageKind.exclude(['system']).optional(),
  replyToId: Id.nullable().optional(),
  attachmentIds: z.array(Id).max(10).optional(),
  /** A reply in this message's thread (threads). */
  threadRootId: Id.nullable().optional(),
  /** With `threadRootId`: also show the reply on the main line. */
  alsoToChannel: z.boolean().optional(),
});
export type SendMessageBody = z.infer<typeof SendMessageBody>;
export const EditMessageBody = z.strictObject({ content: z.string() });
export const MessageStatusBody = z.strictObject({ status: z.enum(['delivered', 'read']) });
/** The caller's receipt position after marking a message delivered or read. */
export const MessageStatusResult = z.object({ seq: z.number() });
export type MessageStatusResult = z.infer<typeof MessageStatusResult>;
export const ReactionBody = z.strictObject({ emoji: z.string().min(1).max(32) });
export const MessageIdParams = z.strictObject({ id: Id });
export const ReactionParams = z.strictObject({ id: Id, emoji: z.string().min(1).max(32) });
export const ConversationMessagesParams = z.strictObject({ conversationId: Id });

// ---- threads ----
export const FollowThreadBody = z.strictObject({ following: z.boolean() });
export type FollowThreadBody = z.infer<typeof FollowThreadBody>;
/** The caller's place in a thread after following or unfollowing it. */
export const ThreadFollow = z.object({ rootId: Id, conversationId: Id, following: z.boolean(), lastReadSeq: z.number().int() });
export type ThreadFollow = z.infer<typeof ThreadFollow>;
export const ThreadListQuery = z.strictObject({
  limit: QueryInt(1, LIMITS.maxPageSize).default(LIMITS.pageSize),
  cursor: z.string().max(500).optional(),
});
export type ThreadListQuery = z.infer<typeof ThreadListQuery>;
export type ThreadListQueryInput = Partial<ThreadListQuery>;
/** A followed thread: its root (with `thread`), and the replies of others after the caller's read watermark. */
export const ThreadListItem = z.object({
  conversationId: Id,
  root: Message,
  unreadCount: z.number().int(),
  lastReadSeq: z.number().int(),
});
export type ThreadListItem = z.infer<typeof ThreadListItem>;
export const ThreadList = z.object({
  threads: z.array(ThreadListItem),
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: z.string().nullable(),
});
export type ThreadList = z.infer<typeof ThreadList>;
// ---- mentions ----
export const MentionListQuery = z.strictObject({
  limit: QueryInt(1, LIMITS.maxPageSize).default(LIMITS.pageSize),
  cursor: z.string().max(500).optional(),
});
export type MentionListQuery = z.infer<typeof MentionListQuery>;
export type MentionListQueryInput = Partial<MentionListQuery>;
/** Messages that mention the caller, newest first. */
export const MentionList = z.object({
  messages: z.array(Message),
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: z.string().nullable(),
});
export type MentionList = z.infer<typeof MentionList>;

// ---- search ----
export const SearchQuery = z.strictObject({
  query: z.string().trim().min(1).max(200),
  limit: QueryInt(1, 100).default(20),
  conversationId: Id.optional(),
});
export const SearchResult = z.object({ messages: z.array(Message), conversations: z.array(Conversation) });
export type SearchResult = z.infer<typeof SearchResult>;

// ---- attachments ----
/**
 * Asks for an upload ticket. `type` and `size` are the client's claim: the size bounds the upload
 * (more bytes are refused while streaming), the type is only a hint (the server sniffs the bytes).
 * `durationMs` (addition to the contract) is the length of an audio or video file, measured by the
 * client; voice messages need it.
 */
export const CreateAttachmentBody = z.strictObject({
  conversationId: Id,
  name: z.string().min(1).max(1024),
  type: z.string().max(255),
  size: z.number().int().min(0),
  durationMs: z.number().int().min(0).max(24 * 3600 * 1000).optional(),
});
export type CreateAttachmentBody = z.infer<typeof CreateAttachmentBody>;
/** Where to PUT the bytes (a path on this server, signed and short-lived), and until when. */
export const AttachmentTicket = z.object({ attachmentId: Id, uploadUrl: z.string(), expiresAt: IsoTime });
export type AttachmentTicket = z.infer<typeof AttachmentTicket>;
/**
 * `GET /api/attachments/:id/text` (addition to the contract, issue 18): the beginning of the text
 * the server extracted from a text or PDF attachment, for a preview under its chip; `text` is null
 * for other files and PDFs whose text could not be read.
 */
export const AttachmentText = z.object({ text: z.string().nullable(), truncated: z.boolean() });
export type AttachmentText = z.infer<typeof AttachmentText>;
export const AttachmentIdParams = z.strictObject({ id: Id });
export const UploadQuery = z.strictObject({ expires: z.string().max(20), signature: z.string().max(128) });

// ---- push notifications ----
export const VapidPublicKey = z.object({ publicKey: z.string() });
/** What a browser's `PushSubscription.toJSON()` gives. */
export const PushSubscriptionBody = z.strictObject({
  endpoint: z.url({ protocol: /^https?$/ }).max(2048),
  expirationTime: z.number().nullable().optional(),
  keys: z.strictObject({ p256dh: z.string().min(1).max(256), auth: z.string().min(1).max(128) }),
});
export type PushSubscriptionBody = z.infer<typeof PushSubscriptionBody>;
export const PushSubscriptionInfo = z.object({ id: Id, endpoint: z.string(), createdAt: IsoTime });
export type PushSubscriptionInfo = z.infer<typeof PushSubscriptionInfo>;
export const PushSubscriptionList = z.object({ subscriptions: z.array(PushSubscriptionInfo) });
export type PushSubscriptionList = z.infer<typeof PushSubscriptionList>;
export const DeletePushSubscriptionBody = z.strictObject({ endpoint: z.string().min(1).max(2048) });

/** `all` messages, only `mentions` (and direct conversations), or `none`; per conversation, `muted` silences it. */
export const NotificationLevel = z.enum(['all', 'mentions', 'none']);
export type NotificationLevel = z.infer<typeof NotificationLevel>;
export const NotificationSettings = z.object({
  level: NotificationLevel,
  /** Show the message text in push notifications (else only who wrote where). */
  preview: z.boolean(),
});
export type NotificationSettings = z.infer<typeof NotificationSettings>;
export const UpdateNotificationSettingsBody = z.strictObject({ level: NotificationLevel.optional(), preview: z.boolean().optional() });
export type UpdateNotificationSettingsBody = z.infer<typeof UpdateNotificationSettingsBody>;

// Types of the schemas above: what the server sees after parsing. Query strings arrive as text and
// get defaults, so `…Input` is what a caller may send: the parsed fields, the defaulted ones optional.
export type LogoutBody = z.infer<typeof LogoutBody>;
export type UserSearchQuery = z.infer<typeof UserSearchQuery>;
export type UserList = z.infer<typeof UserList>;
export type CreateDirectBody = z.infer<typeof CreateDirectBody>;
export type CreateGroupBody = z.infer<typeof CreateGroupBody>;
export type CreateAssistantBody = z.infer<typeof CreateAssistantBody>;
export type ConversationListQuery = z.infer<typeof ConversationListQuery>;
export type AddParticipantsBody = z.infer<typeof AddParticipantsBody>;
export type ChangeRoleBody = z.infer<typeof ChangeRoleBody>;
export type ConversationIdParams = z.infer<typeof ConversationIdParams>;
export type ParticipantParams = z.infer<typeof ParticipantParams>;
export type CreateProjectBody = z.infer<typeof CreateProjectBody>;
export type UpdateProjectBody = z.infer<typeof UpdateProjectBody>;
export type ProjectList = z.infer<typeof ProjectList>;
export type MessageListQuery = z.infer<typeof MessageListQuery>;
export type EditMessageBody = z.infer<typeof EditMessageBody>;
export type MessageStatusBody = z.infer<typeof MessageStatusBody>;
export type ReactionBody = z.infer<typeof ReactionBody>;
export type MessageIdParams = z.infer<typeof MessageIdParams>;
export type ReactionParams = z.infer<typeof ReactionParams>;
export type ConversationMessagesParams = z.infer<typeof ConversationMessagesParams>;
export type SearchQuery = z.infer<typeof SearchQuery>;
export type AttachmentIdParams = z.infer<typeof AttachmentIdParams>;
export type UploadQuery = z.infer<typeof UploadQuery>;
export type VapidPublicKey = z.infer<typeof VapidPublicKey>;
export type DeletePushSubscriptionBody = z.infer<typeof DeletePushSubscriptionBody>;
export type UserSearchQueryInput = Partial<UserSearchQuery>;
export type ConversationListQueryInput = Partial<ConversationListQuery>;
export type MessageListQueryInput = Partial<MessageListQuery>;
export type SearchQueryInput = Partial<SearchQuery> & Pick<SearchQuery, 'query'>;
export type CreateGroupBodyInput = z.input<typeof CreateGroupBody>;
