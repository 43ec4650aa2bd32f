// Queries on messages, their reactions and versions, and their conversation's sequence (issue #17,
// item 2: the query layer). The SQL is the hand-tuned SQL that lived in operations/messages.ts and
// operations/sendBatch.ts, moved as it was; the operations keep the rules (who may change what,
// limits, which errors, which events).
import type { MessageKind } from '@confab/protocol';
import type { Database, Queryable } from './db.ts';
import type { MessageRow, ReactionGroupRow } from './rows.ts';

/** Every column but the search index, qualified with the `m` alias. */
export const MESSAGE_COLUMNS = [
  'id', 'conversation_id', 'seq', 'updated_seq', 'author_id', 'client_id', 'kind', 'content_enc',
  'reply_to_id', 'attachments', 'status', 'model', 'created_at', 'edited_at', 'deleted_at', 'status_reason',
  'link_preview_enc',
].map((c) => `m.${c}`).join(', ');

// ---------------------------------------------------------------------------------------------
// The conversation's sequence, and storing a new message with the next number of it
// ---------------------------------------------------------------------------------------------

/**
 * Takes the conversation's next sequence number; undefined if there is no such conversation. The
 * UPDATE holds the conversation row's lock until the transaction ends, so changes commit in `seq`
 * order: a client resuming from a cursor can never skip a change that commits late with a lower
 * number. `activity` moves the conversation up the list (new messages do; edits and reactions do not).
 */
export async function takeNextSeq(tx: Queryable, conversationId: string, activity: boolean): Promise<number | undefined> {
  const [row] = await tx.query<{ last_seq: number }>(
    `UPDATE conversations SET last_seq = last_seq + 1${activity ? ', last_activity_at = now()' : ''}
      WHERE id = $1 RETURNING last_seq`,
    [conversationId],
  );
  return row?.last_seq;
}

/** A message to store with the conversation's next seq (insertMessage). */
export interface NewMessage {
  id: string;
  conversationId: string;
  authorId: string;
  kind: MessageKind;
  contentEnc: string;
  /** The column's default when absent: 'complete'. */
  status?: MessageRow['status'];
  model?: string | null;
}

/**
 * THE "take the next seq and insert": inside the caller's transaction, takes the conversation's
 * next seq (takeNextSeq, whose row lock orders this against every other change of the
 * conversation) and inserts the message with it. Undefined if there is no such conversation.
 * `activity`: whether the new message moves the conversation up the list (see takeNextSeq).
 *
 * Two hot paths take the next seq inside one statement of their own instead, because a
 * transaction around two statements costs a send round trips the benchmarks measured (see
 * insertSend and storeSends): they number the message `last_seq + 1` under the same row lock
 * (FOR UPDATE of the conversation) and set last_seq to it in the same statement.
 */
export async function insertMessage(tx: Queryable, message: NewMessage, opts: { activity: boolean }): Promise<MessageRow | undefined> {
  const seq = await takeNextSeq(tx, message.conversationId, opts.activity);
  if (seq === undefined) return undefined;
  const [row] = await tx.query<MessageRow>(
    `INSERT INTO messages AS m (id, conversation_id, seq, updated_seq, author_id, kind, content_enc, status, model)
     VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8) RETURNING ${MESSAGE_COLUMNS}`,
    [message.id, message.conversationId, seq, message.authorId, message.kind, message.contentEnc, message.status ?? 'complete', message.model ?? null],
  );
  return row;
}

/** A plain send, ready to store: encrypted, indexed, with its id. */
export interface PlainSend {
  id: string;
  conversationId: string;
  authorId: string;
  clientId: string;
  kind: string;
  contentEnc: string;
  /** bigint[] literal of the blind-index terms, e.g. `{12,-34}`. */
  terms: string;
}

/**
 * Stores one send in one statement: lock the conversation row (membership is part of the join),
 * insert with the next seq, advance last_seq and the author's own watermarks. The row lock is held
 * for a single statement instead of a round-trip-long transaction, which is what bounds sends per
 * conversation. Under READ COMMITTED a concurrent sender waits at FOR UPDATE and then re-reads the
 * row, so it sees the seq this one took. A repeated clientId hits the unique constraint and
 * inserts nothing. Attachments ride in the same statement: `claim` locks them (after the
 * conversation row, as conv is read first; deletes take the same order) and re-checks that each is
 * still free, and the insert happens only if every one was claimed. A concurrent send that took
 * one first makes this insert nothing, so a failed send attaches nothing and a message never
 * shares a file. Returns undefined when nothing was inserted.
 * `attachmentsJson`: the attachments as the message stores them; `attachmentIds`: their ids.
 */
export async function insertSend(
  db: Queryable,
  send: PlainSend,
  replyToId: string | null,
  attachmentsJson: string,
  attachmentIds: string[],
): Promise<MessageRow | undefined> {
  const [inserted] = await db.query<MessageRow>(
    `WITH conv AS (
       SELECT c.id, c.last_seq FROM conversations c
         JOIN conversation_members cm ON cm.conversation_id = c.id AND cm.user_id = $3
        WHERE c.id = $2 FOR UPDATE OF c
     ), claim AS (
       SELECT a.id FROM attachments a JOIN conv ON a.conversation_id = conv.id
        WHERE a.id = ANY($10::text[]) AND a.uploader_id = $3 AND a.status = 'complete' AND a.message_id IS NULL
        FOR UPDATE OF a
     ), ins AS (
       INSERT INTO messages AS m (id, conversation_id, seq, updated_seq, author_id, client_id, kind, content_enc, reply_to_id, search_terms, attachments)
       SELECT $1, conv.id, conv.last_seq + 1, conv.last_seq + 1, $3, $4, $5, $6, $7, $8::bigint[], $9::jsonb FROM conv
        WHERE (SELECT count(*) FROM claim) = cardinality($10::text[])
       ON CONFLICT (conversation_id, author_id, client_id) DO NOTHING
       RETURNING ${MESSAGE_COLUMNS}
     ), attach AS (
       UPDATE attachments a SET message_id = ins.id, updated_at = now() FROM ins WHERE a.id = ANY($10::text[])
     ), bump AS (
       UPDATE conversations c SET last_seq = ins.seq, last_activity_at = now() FROM ins WHERE c.id = ins.conversation_id
     ), own_watermarks AS (
       UPDATE conversation_members cm SET last_read_seq = ins.seq, last_delivered_seq = ins.seq
         FROM ins WHERE cm.conversation_id = ins.conversation_id AND cm.user_id = ins.author_id
     )
     SELECT * FROM ins`,
    [send.id, send.conversationId, send.authorId, send.clientId, send.kind, send.contentEnc, replyToId, send.terms, attachmentsJson, attachmentIds],
    { prepare: true },
  );
  return inserted;
}

/**
 * The body of `confab_store_sends`, the database function that stores a batch of plain sends
 * (operations/sendBatch.ts says how a batch goes), as migration 6 created it. Kept here, beside
 * storeSends that calls it, so the SQL that stores a batch is read in one place.
 *
 * Migration 6 runs this text: it must stay byte for byte what that migration ran on the databases
 * already migrated (storage/migrations.test.ts checks it). To change the function, add a migration
 * with a new CREATE OR REPLACE FUNCTION and keep this one as it is.
 */
export const STORE_SENDS_FUNCTION_V6 = /* sql */ `CREATE OR REPLACE FUNCTION confab_store_sends(
        p_ids text[], p_conversation_ids text[], p_author_ids text[], p_client_ids text[],
        p_kinds text[], p_contents text[], p_terms text[]
      ) RETURNS SETOF messages LANGUAGE plpgsql VOLATILE
      SET plan_cache_mode = force_generic_plan AS $$
      DECLARE
        expected integer;
        stored integer;
      BEGIN
        -- In id order, so two batches cannot deadlock.
        PERFORM 1 FROM conversations WHERE id = ANY(p_conversation_ids) ORDER BY id FOR UPDATE;
        -- Sends whose author is a member; the others are not stored, and that is no failure.
        SELECT count(*) INTO expected
          FROM unnest(p_conversation_ids, p_author_ids) AS t(conversation_id, author_id)
          JOIN conversation_members cm ON cm.conversation_id = t.conversation_id AND cm.user_id = t.author_id;
        RETURN QUERY
        WITH fresh AS (
          SELECT t.* FROM unnest(p_ids, p_conversation_ids, p_author_ids, p_client_ids, p_kinds, p_contents, p_terms)
            WITH ORDINALITY AS t(id, conversation_id, author_id, client_id, kind, content_enc, terms, ord)
            JOIN conversation_members cm ON cm.conversation_id = t.conversation_id AND cm.user_id = t.author_id
        ), numbered AS (
          SELECT f.*, c.last_seq + row_number() OVER (PARTITION BY f.conversation_id ORDER BY f.ord) AS seq
            FROM fresh f JOIN conversations c ON c.id = f.conversation_id
        ), ins AS (
          INSERT INTO messages AS m (id, conversation_id, seq, updated_seq, author_id, client_id, kind, content_enc, search_terms)
          SELECT n.id, n.conversation_id, n.seq, n.seq, n.author_id, n.client_id, n.kind, n.content_enc, n.terms::bigint[]
            FROM numbered n ORDER BY n.ord
          ON CONFLICT (conversation_id, author_id, client_id) DO NOTHING
          RETURNING m.*
        ), bump AS (
          UPDATE conversations c SET last_seq = x.seq, last_activity_at = now()
            FROM (SELECT i.conversation_id, max(i.seq) AS seq FROM ins i GROUP BY i.conversation_id) x WHERE c.id = x.conversation_id
        ), own_watermarks AS (
          UPDATE conversation_members cm SET last_read_seq = x.seq, last_delivered_seq = x.seq
            FROM (SELECT i.conversation_id, i.author_id, max(i.seq) AS seq FROM ins i GROUP BY i.conversation_id, i.author_id) x
           WHERE cm.conversation_id = x.conversation_id AND cm.user_id = x.author_id
        )
        SELECT * FROM ins;
        GET DIAGNOSTICS stored = ROW_COUNT;
        IF stored < expected THEN
          -- Undoes the whole batch (the statement's transaction), holes and all.
          RAISE EXCEPTION 'a send of this batch was stored before' USING ERRCODE = 'unique_violation';
        END IF;
      END
      $$;`;

/**
 * Stores a batch of plain sends in one call, one round trip (confab_store_sends above): the sends
 * whose author is a member, numbered last_seq + 1, + 2, … per conversation in arrival order. Fails
 * as a whole if any of them had been stored before.
 */
export function storeSends(db: Database, sends: PlainSend[]): Promise<MessageRow[]> {
  const column = <K extends keyof PlainSend>(key: K) => sends.map((s) => s[key]);
  return db.query<MessageRow>(
    `SELECT ${MESSAGE_COLUMNS} FROM confab_store_sends($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) m`,
    [column('id'), column('conversationId'), column('authorId'), column('clientId'), column('kind'), column('contentEnc'), column('terms')],
    { prepare: true },
  );
}

// ---------------------------------------------------------------------------------------------
// Reading messages
// ---------------------------------------------------------------------------------------------

export async function findMessage(db: Queryable, messageId: string): Promise<MessageRow | undefined> {
  const [row] = await db.query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE id = $1`, [messageId]);
  return row;
}

/** The message an author sent with this clientId, if the author is still a member of its conversation. */
export async function findSentByClientId(db: Queryable, conversationId: string, authorId: string, clientId: string): Promise<MessageRow | undefined> {
  const [existing] = await db.query<MessageRow>(
    `SELECT ${MESSAGE_COLUMNS} FROM messages m
       JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = m.author_id
      WHERE m.conversation_id = $1 AND m.author_id = $2 AND m.client_id = $3`,
    [conversationId, authorId, clientId],
  );
  return existing;
}

/**
 * Up to `limit` messages of a conversation after the seq `after` (ascending), or else before the
 * seq `before` (descending, newest first).
 */
export function listMessagePage(db: Queryable, conversationId: string, page: { after: number } | { before: number }, limit: number): Promise<MessageRow[]> {
  const forward = 'after' in page;
  return db.query<MessageRow>(
    forward
      ? `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE conversation_id = $1 AND seq > $2 ORDER BY seq ASC LIMIT $3`
      : `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE conversation_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`,
    [conversationId, forward ? page.after : page.before, limit],
  );
}

/** Each conversation's last message (by seq), if it has one. */
export function findLastMessages(db: Queryable, conversationIds: string[]): Promise<MessageRow[]> {
  // One index probe per conversation on UNIQUE (conversation_id, seq), rather than a scan.
  return db.query<MessageRow>(
    `SELECT l.* FROM unnest($1::text[]) AS ids(id)
       CROSS JOIN LATERAL (
         SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.conversation_id = ids.id ORDER BY m.seq DESC LIMIT 1
       ) l`,
    [conversationIds],
  );
}

// ---------------------------------------------------------------------------------------------
// Changing messages (each change takes a seq first: see takeNextSeq)
// ---------------------------------------------------------------------------------------------

/**
 * THE message-version snapshot: keeps a message's previous content (encrypted) in
 * message_versions, and only the last `versionsKept` versions.
 */
export async function keepPreviousVersion(tx: Queryable, messageId: string, contentEnc: string, createdAt: Date, versionsKept: number): Promise<void> {
  const [kept] = await tx.query<{ version: number }>(
    `INSERT INTO message_versions (message_id, version, content_enc, created_at)
     SELECT $1, COALESCE(max(version), 0) + 1, $2, $3 FROM message_versions WHERE message_id = $1
     RETURNING version`,
    [messageId, contentEnc, createdAt],
  );
  await tx.query('DELETE FROM message_versions WHERE message_id = $1 AND version <= $2', [messageId, kept!.version - versionsKept]);
}

/** New content (and its search terms) of an edit that took the seq `seq`. */
export async function updateMessageContent(tx: Queryable, messageId: string, contentEnc: string, searchTerms: string[], seq: number): Promise<void> {
  await tx.query(
    `UPDATE messages SET content_enc = $2, search_terms = $3::bigint[], search_version = 2, edited_at = now(), updated_seq = $4 WHERE id = $1`,
    [messageId, contentEnc, searchTerms, seq],
  );
}

/**
 * Deletes a message for everyone, leaving a tombstone stamped with the seq `seq`: its content,
 * edit history, reactions, search terms and attachment list are erased, not hidden.
 */
export async function eraseMessage(tx: Queryable, messageId: string, seq: number): Promise<void> {
  await tx.query('DELETE FROM message_versions WHERE message_id = $1', [messageId]);
  await tx.query('DELETE FROM message_reactions WHERE message_id = $1', [messageId]);
  await tx.query(
    `UPDATE messages SET content_enc = '', search_terms = '{}', attachments = '[]'::jsonb, deleted_at = now(), updated_seq = $2 WHERE id = $1`,
    [messageId, seq],
  );
}

/** Stamps a change that touched only the message's reactions with the seq it took. */
export async function setUpdatedSeq(tx: Queryable, messageId: string, seq: number): Promise<void> {
  await tx.query('UPDATE messages SET updated_seq = $2 WHERE id = $1', [messageId, seq]);
}

// ---------------------------------------------------------------------------------------------
// Reactions
// ---------------------------------------------------------------------------------------------

/** The reactions of these messages, grouped by (message, emoji), in the order they were first given. */
export function findReactions(db: Queryable, messageIds: string[]): Promise<ReactionGroupRow[]> {
  return db.query<ReactionGroupRow>(
    `SELECT message_id, emoji, array_agg(user_id ORDER BY created_at) AS user_ids
       FROM message_reactions WHERE message_id = ANY($1::text[])
      GROUP BY message_id, emoji ORDER BY min(created_at)`,
    [messageIds],
  );
}

/** How many reactions the user gave this message. */
export async function countReactionsBy(tx: Queryable, messageId: string, userId: string): Promise<number> {
  const [count] = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM message_reactions WHERE message_id = $1 AND user_id = $2', [messageId, userId]);
  return count?.n ?? 0;
}

/** Adds the reaction; false if the user had given it already. */
export async function addReaction(tx: Queryable, messageId: string, userId: string, emoji: string): Promise<boolean> {
  const added = await tx.query('INSERT INTO message_reactions (message_id, user_id, emoji) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1', [messageId, userId, emoji]);
  return added.length > 0;
}

/** Removes the reaction; false if the user had not given it. */
export async function removeReaction(tx: Queryable, messageId: string, userId: string, emoji: string): Promise<boolean> {
  const removed = await tx.query('DELETE FROM message_reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3 RETURNING 1', [messageId, userId, emoji]);
  return removed.length > 0;
}

/** Who wrote a message of this conversation; undefined if there is no such message there. */
export async function findMessageAuthor(db: Queryable, messageId: string, conversationId: string): Promise<string | undefined> {
  const [row] = await db.query<{ author_id: string }>('SELECT author_id FROM messages WHERE id = $1 AND conversation_id = $2', [messageId, conversationId]);
  return row?.author_id;
}
