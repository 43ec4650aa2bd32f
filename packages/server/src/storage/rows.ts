// Row types: what a table's row looks like as the database driver returns it (snake_case, Date for
// timestamptz). One module for all tables so a query module and the operation that reads its rows
// agree on one shape (issue #17, item 2). Protocol types (camelCase, ISO strings) are built from these.
import type { ConversationType, InstanceRole, Message, MessageKind, NotificationSettings, Role } from '@confab/protocol';

/** messages: every column but the search index. */
export interface MessageRow {
  id: string;
  conversation_id: string;
  seq: number;
  updated_seq: number;
  author_id: string;
  client_id: string | null;
  kind: MessageKind;
  content_enc: string;
  reply_to_id: string | null;
  attachments: Message['attachments'];
  status: Message['status'];
  model: string | null;
  created_at: Date;
  edited_at: Date | null;
  deleted_at: Date | null;
  status_reason: string | null;
  /** Pins: absent from rows read before migration 9's columns were selected (older column lists). */
  pinned_at?: Date | null;
  pinned_by?: string | null;
  /** Threads (migration 10): the root this message replies to in its thread, and the root's summary. */
  thread_root_id: string | null;
  also_to_channel: boolean;
  thread_reply_count: number;
  thread_last_reply_at: Date | null;
  thread_participant_ids: string[];
  /** Migration 11 (docs/mentions.md). */
  mentions: string[];
  mentions_here: boolean;
  mentions_channel: boolean;
  /** The link preview, encrypted JSON (operations/previews.ts); null when there is none. */
  link_preview_enc: string | null;
  /** The tool calls of an AI answer, encrypted JSON (migration 17); absent from older column lists. */
  tool_calls_enc?: string | null;
}


/** sessions: a signed-in device; live while revoked_at is null. */
export interface SessionRow {
  id: string;
  user_id: string;
  revoked_at: Date | null;
}

/** conversation_members joined with its conversation's type: one user's place in one conversation. */
export interface MembershipRow {
  conversation_id: string;
  user_id: string;
  role: Role;
  type: 'direct' | 'group' | 'assistant';
}

/** users: a person or a bot. */
export interface UserRow {
  id: string;
  email: string | null;
  handle: string;
  display_name: string;
  avatar_url: string | null;
  public_key: string | null;
  is_bot: boolean;
  password_hash: string | null;
  created_at: Date;
  last_seen_at: Date | null;
  /** The instance role (migration 14), not a conversation's. */
  role: InstanceRole;
  status: 'active' | 'deactivated' | 'deleted';
  deleted_at: Date | null;
  totp_secret_enc: string | null;
  totp_enabled_at: Date | null;
  totp_last_step: string | number | null;
  discoverable: boolean;
  show_last_seen: boolean;
  direct_messages_from: 'everyone' | 'shared';
  /** A developer's own id for this user (migration 15: platform users, external JWTs). */
  external_id: string | null;
  /** The person a bot belongs to. */
  bot_owner_id: string | null;
}

/**
 * attachments: every column but the extracted text (text_enc), which can be large and is read on
 * its own. Sizes are int8: a count that fits in a double, but PGlite returns a string.
 */
export interface AttachmentRow {
  id: string;
  conversation_id: string;
  uploader_id: string;
  message_id: string | null;
  status: 'pending' | 'uploading' | 'complete' | 'failed';
  name: string;
  declared_type: string;
  declared_size: number | string;
  type: string | null;
  size: number | string | null;
  width: number | null;
  height: number | null;
  duration_ms: number | null;
  has_preview: boolean;
  preview_size: number | null;
  text_status: 'none' | 'pending' | 'ready' | 'failed';
  created_at: Date;
}

/** notification_preferences: a user's choice; a user without a row gets the defaults. */
export interface NotificationPreferencesRow {
  level: NotificationSettings['level'];
  preview: boolean;
}

/** push_subscriptions: one device of a user for web push; keys encrypted at rest. */
export interface PushSubscriptionRow {
  id: string;
  user_id: string;
  endpoint: string;
  keys_enc: string;
  created_at: Date;
}

/**
 * A member of a conversation as notifications see them: conversation_members joined with the
 * user, the conversation, and the user's notification preferences (defaults filled in).
 */
export interface NotificationRecipientRow {
  conversation_id: string;
  user_id: string;
  handle: string;
  display_name: string;
  is_bot: boolean;
  muted: boolean;
  last_read_seq: number;
  level: NotificationSettings['level'];
  preview: boolean;
  type: 'direct' | 'group' | 'assistant';
  title: string | null;
}

/** jobs: a job as a claim returns it. */
export interface ClaimedJobRow {
  id: number;
  kind: string;
  payload: unknown;
  attempts: number;
  max_attempts: number;
}

/** conversations: the columns every member sees alike. */
export interface ConversationRow {
  id: string;
  type: ConversationType;
  title: string | null;
  model: string | null;
  created_at: Date;
  last_activity_at: Date;
  last_seq: number;
  generating: boolean;
  visibility: 'public' | 'private';
  topic: string | null;
  mention_channel: 'everyone' | 'admins';
  /** Encrypted like message content; null when none is set. */
  system_prompt: string | null;
}

/** conversation_members joined with the member's user: one entry of a conversation's member list. */
export interface MemberProfileRow {
  conversation_id: string;
  user_id: string;
  role: Role;
  joined_at: Date;
  last_read_seq: number;
  last_delivered_seq: number;
  handle: string;
  display_name: string;
  avatar_url: string | null;
  is_bot: boolean;
  last_seen_at: Date | null;
}

/** conversation_members: one member's own state in a conversation, with their unread count. */
export interface MemberStateRow {
  conversation_id: string;
  user_id: string;
  role: Role;
  pinned: boolean;
  muted: boolean;
  archived: boolean;
  draft_enc: string | null;
  project_id: string | null;
  last_read_seq: number;
  last_delivered_seq: number;
  unread_count: number;
  unread_mention_count: number;
}

/** message_reactions grouped by (message, emoji): who reacted, in the order they did. */
export interface ReactionGroupRow {
  message_id: string;
  emoji: string;
  user_ids: string[];
}

/** projects: a user's private folder of conversations. */
export interface ProjectRow {
  id: string;
  name: string;
  created_at: Date;
  updated_at: Date;
}

/** A public channel as the directory lists it, with its member count and whether the viewer is in it. */
export interface ChannelRow {
  id: string;
  title: string;
  /** lower(title): the directory's sort key, as the database computes it (for cursors). */
  sort_title: string;
  topic: string | null;
  created_at: Date;
  last_activity_at: Date;
  member_count: number;
  is_member: boolean;
}

/** thread_follows: one user's place in one thread (following or not, and read up to which reply's seq). */
export interface ThreadFollowRow {
  root_id: string;
  user_id: string;
  conversation_id: string;
  following: boolean;
  last_read_seq: number;
}

/** link_preview_images: a message's preview image, re-encoded and encrypted. */
export interface LinkPreviewImageRow {
  content_type: string;
  image_enc: string;
  created_at: Date;
}
