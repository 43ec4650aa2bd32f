// Row types: what a table's row looks like as the database driver returns it (snake_case, Date for
// timestamptz). One module for all tables so a query module and the operation that reads its rows
// agree on one shape (issue #17, item 2). Protocol types (camelCase, ISO strings) are built from these.
import type { Message, MessageKind, Role } from '@confab/protocol';

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
}

/**
 * The columns of a MessageRow, for SELECT and RETURNING on `messages AS m`. Kept beside the row
 * type so storage modules (which may not import operations/) select exactly the shape they return.
 */
export const MESSAGE_COLUMNS = [
  'id', 'conversation_id', 'seq', 'updated_seq', 'author_id', 'client_id', 'kind', 'content_enc',
  'reply_to_id', 'attachments', 'status', 'model', 'created_at', 'edited_at', 'deleted_at', 'status_reason',
].map((c) => `m.${c}`).join(', ');

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
