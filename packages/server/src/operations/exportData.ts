import { Readable } from 'node:stream';
import { ConfabError } from '@confab/protocol';
import type { Context } from '../context.ts';
import { exportConversations, exportMessagePage, type ExportMessageRow } from '../storage/accounts.ts';
import { findUser } from '../storage/users.ts';
import { getSettings, iso, toMe } from './users.ts';

// GET /api/users/me/export: everything of the caller's, as one JSON document written as it is read
// (API.md, "Accounts"). Messages are read a page at a time (keyset on seq) and each page is written
// before the next is read, and the stream is pulled by the response: memory does not grow with the
// amount of data, however long the history.

/** Messages read per query. */
export const EXPORT_PAGE = 500;

export interface ExportDocument {
  /** The file name the download suggests. */
  filename: string;
  body: Readable;
}

export async function exportData(ctx: Context, userId: string): Promise<ExportDocument> {
  const user = await findUser(ctx.db, userId);
  if (!user || user.status !== 'active') throw new ConfabError('UNAUTHENTICATED', 'this account is not active');
  const profile = toMe(user);
  const settings = await getSettings(ctx, userId);
  const privacy = { discoverable: user.discoverable, showLastSeen: user.show_last_seen, directMessagesFrom: user.direct_messages_from };
  return {
    filename: `confab-export-${user.handle.replace(/[^A-Za-z0-9._-]/g, '_')}.json`,
    body: Readable.from(documentParts(ctx, userId, { profile, settings: { ...settings, privacy } }), { objectMode: false }),
  };
}

async function* documentParts(ctx: Context, userId: string, head: { profile: unknown; settings: unknown }): AsyncGenerator<string> {
  yield `{"exportedAt":${JSON.stringify(new Date().toISOString())},"profile":${JSON.stringify(head.profile)},"settings":${JSON.stringify(head.settings)},"conversations":[`;
  const conversations = await exportConversations(ctx.db, userId);
  for (const [i, c] of conversations.entries()) {
    const meta = {
      id: c.id,
      type: c.type,
      title: c.title,
      createdAt: iso(c.created_at),
      role: c.role,
      joinedAt: iso(c.joined_at),
      members: c.members.map((m) => ({ id: m.id, handle: m.handle, displayName: m.display_name, role: m.role })),
    };
    // The object without its closing brace, then the messages array.
    yield `${i > 0 ? ',' : ''}${JSON.stringify(meta).slice(0, -1)},"messages":[`;
    let after = 0;
    let first = true;
    for (;;) {
      const page = await exportMessagePage(ctx.db, c.id, after, EXPORT_PAGE);
      if (page.length === 0) break;
      let chunk = '';
      for (const m of page) {
        chunk += `${first ? '' : ','}${JSON.stringify(exportMessage(ctx, m))}`;
        first = false;
      }
      yield chunk;
      after = page.at(-1)!.seq;
      if (page.length < EXPORT_PAGE) break;
    }
    yield ']}';
  }
  yield ']}\n';
}

function exportMessage(ctx: Context, m: ExportMessageRow) {
  const deleted = m.deleted_at !== null;
  return {
    id: m.id,
    seq: m.seq,
    authorId: m.author_id,
    kind: m.kind,
    content: deleted ? '' : ctx.keys.decrypt(m.content_enc),
    createdAt: iso(m.created_at),
    editedAt: iso(m.edited_at),
    deletedAt: iso(m.deleted_at),
    replyToId: m.reply_to_id,
    threadRootId: m.thread_root_id,
    attachments: deleted ? [] : (m.attachments ?? []).map((a) => ({ id: a.id, name: a.name, type: a.type ?? null, size: a.size ?? null })),
  };
}
