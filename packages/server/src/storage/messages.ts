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
  'pinned_at', 'pinned_by',
  'thread_root_id', 'also_to_channel', 'thread_reply_count', 'thread_last_reply_at', 'thread_participant_ids',
  'mentions', 'mentions_here', 'mentions_channel',
  'link_preview_enc',
  'tool_calls_enc',
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
  /** A reply in this root's thread (threads), or null. */
  threadRootId: string | null;
  /** A thread reply also shown on the main line. */
  alsoToChannel: boolean;
}

/** A message's mentions as parsed (operations/mentions.ts), for the statement that stores it to resolve. */
export interface MentionsToStore {
  /** Lower-cased handles: those of the conversation's members become `mentions`. */
  handles: string[];
  here: boolean;
  channel: boolean;
  /** Who was online for `@here`. */
  hereUserIds: string[];
}
const NO_MENTIONS: MentionsToStore = { handles: [], here: false, channel: false, hereUserIds: [] };

/**
 * SQL: the ids of the members of conversation `conv` whose handle is in the text[] parameter
 * `handles` (lower-cased), sorted; '{}' for none. Resolved inside the statement that writes the
 * message, so a mention costs no round trip of its own and names members as of that moment.
 */
const RESOLVE_HANDLES = (conv: string, handles: string) => `COALESCE((
  SELECT array_agg(mu.id ORDER BY mu.id COLLATE "C") FROM conversation_members mcm JOIN users mu ON mu.id = mcm.user_id
   WHERE mcm.conversation_id = ${conv} AND lower(mu.handle) = ANY(${handles}::text[])), '{}')`;

/**
 * A message is on the conversation's main line unless it is a reply in a thread that was not also
 * sent to the channel. `m` is the messages alias.
 */
export const MAIN_LINE = '(m.thread_root_id IS NULL OR m.also_to_channel)';

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
  mentions: MentionsToStore = NO_MENTIONS,
): Promise<MessageRow | undefined> {
  // A thread reply (threads, migration 10) is inserted only if its root is a message of the same
  // conversation that is not itself a reply; its root then takes the seq after it (the root's
  // summary changed: clients learn it as a change like any other, sync included), the replier and
  // the root's author follow the thread, and the conversation's watermarks of the author move only
  // for messages on the main line.
  const [inserted] = await db.query<MessageRow>(
    `WITH conv AS (
       SELECT c.id, c.last_seq, (c.mention_channel = 'everyone' OR cm.role IN ('owner', 'admin')) AS may_notify_all
         FROM conversations c
         JOIN conversation_members cm ON cm.conversation_id = c.id AND cm.user_id = $3
        WHERE c.id = $2 FOR UPDATE OF c
     ), claim AS (
       SELECT a.id FROM attachments a JOIN conv ON a.conversation_id = conv.id
        WHERE a.id = ANY($10::text[]) AND a.uploader_id = $3 AND a.status = 'complete' AND a.message_id IS NULL
        FOR UPDATE OF a
     ), ins AS (
       INSERT INTO messages AS m (id, conversation_id, seq, updated_seq, author_id, client_id, kind, content_enc, reply_to_id, search_terms, attachments,
                                  thread_root_id, also_to_channel, mentions, mentions_here, mentions_channel, here_user_ids)
       SELECT $1, conv.id, conv.last_seq + 1, conv.last_seq + 1, $3, $4, $5, $6, $7, $8::bigint[], $9::jsonb, $11::text, $12::boolean,
              ${RESOLVE_HANDLES('conv.id', '$13')}, $14 AND conv.may_notify_all, $15 AND conv.may_notify_all,
              CASE WHEN $14 AND conv.may_notify_all THEN $16::text[] ELSE '{}' END
         FROM conv
        WHERE (SELECT count(*) FROM claim) = cardinality($10::text[])
          AND ($11::text IS NULL OR EXISTS (SELECT 1 FROM messages r WHERE r.id = $11::text AND r.conversation_id = conv.id AND r.thread_root_id IS NULL))
       ON CONFLICT (conversation_id, author_id, client_id) DO NOTHING
       RETURNING ${MESSAGE_COLUMNS}
     ), attach AS (
       UPDATE attachments a SET message_id = ins.id, updated_at = now() FROM ins WHERE a.id = ANY($10::text[])
     ), root AS (
       UPDATE messages r SET updated_seq = ins.seq + 1, thread_reply_count = r.thread_reply_count + 1, thread_last_reply_at = ins.created_at,
              thread_participant_ids = CASE WHEN ins.author_id = ANY(r.thread_participant_ids) THEN r.thread_participant_ids
                                            ELSE array_append(r.thread_participant_ids, ins.author_id) END
         FROM ins WHERE r.id = ins.thread_root_id
     ), follows AS (
       INSERT INTO thread_follows AS f (root_id, user_id, conversation_id, following, last_read_seq)
       SELECT ins.thread_root_id, ins.author_id, ins.conversation_id, true, ins.seq FROM ins WHERE ins.thread_root_id IS NOT NULL
       UNION ALL
       SELECT r.id, r.author_id, r.conversation_id, true, 0 FROM ins JOIN messages r ON r.id = ins.thread_root_id WHERE r.author_id <> ins.author_id
       ON CONFLICT (root_id, user_id) DO UPDATE SET following = f.following OR EXCLUDED.last_read_seq > 0,
                                                    last_read_seq = GREATEST(f.last_read_seq, EXCLUDED.last_read_seq)
     ), bump AS (
       UPDATE conversations c SET last_seq = ins.seq + (CASE WHEN ins.thread_root_id IS NULL THEN 0 ELSE 1 END), last_activity_at = now()
         FROM ins WHERE c.id = ins.conversation_id
     ), own_watermarks AS (
       UPDATE conversation_members cm SET last_read_seq = ins.seq, last_delivered_seq = ins.seq
         FROM ins WHERE cm.conversation_id = ins.conversation_id AND cm.user_id = ins.author_id AND (ins.thread_root_id IS NULL OR ins.also_to_channel)
     )
     SELECT * FROM ins`,
    [
      send.id, send.conversationId, send.authorId, send.clientId, send.kind, send.contentEnc, replyToId, send.terms, attachmentsJson, attachmentIds,
      send.threadRootId, send.alsoToChannel,
      mentions.handles, mentions.here, mentions.channel, mentions.hereUserIds,
    ],
    { prepare: true },
  );
  return inserted;
}

/**
 * Stores one plain send (no attachment, reply, mention or thread) in one statement: what insertSend
 * does for such a send, without its other parts, each of which costs PostgreSQL a fixed amount per
 * call (about a third of insertSend's cost: docs/benchmarks.md, eighth round). Undefined when nothing was
 * inserted (a repeated clientId, or the author is not a member).
 */
export async function insertPlainSend(db: Queryable, send: PlainSend): Promise<MessageRow | undefined> {
  const [inserted] = await db.query<{ seq: number; created_at: Date }>(
    `WITH conv AS (
       SELECT c.id, c.last_seq FROM conversations c
         JOIN conversation_members cm ON cm.conversation_id = c.id AND cm.user_id = $3
        WHERE c.id = $2 FOR UPDATE OF c
     ), ins AS (
       INSERT INTO messages AS m (id, conversation_id, seq, updated_seq, author_id, client_id, kind, content_enc, search_terms)
       SELECT $1, conv.id, conv.last_seq + 1, conv.last_seq + 1, $3, $4, $5, $6, $7::bigint[] FROM conv
       ON CONFLICT (conversation_id, author_id, client_id) DO NOTHING
       RETURNING m.seq, m.created_at, m.conversation_id, m.author_id
     ), bump AS (
       UPDATE conversations c SET last_seq = ins.seq, last_activity_at = now() FROM ins WHERE c.id = ins.conversation_id
     ), own_watermarks AS (
       UPDATE conversation_members cm SET last_read_seq = ins.seq, last_delivered_seq = ins.seq
         FROM ins WHERE cm.conversation_id = ins.conversation_id AND cm.user_id = ins.author_id
     )
     SELECT seq, created_at FROM ins`,
    [send.id, send.conversationId, send.authorId, send.clientId, send.kind, send.contentEnc, send.terms],
    { prepare: true },
  );
  return inserted ? plainSendRow(send, inserted.seq, inserted.created_at) : undefined;
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
 * The body of `confab_store_sends` as migration 10 created it (threads): the version 6 function
 * with two more arrays, each send's thread root (null for none) and whether it is also sent to the
 * main line. Version 6 stays as it was (a function of seven arrays that nothing calls any more):
 * a node still running the previous code keeps working while the others start. Like version 6 this
 * text must stay byte for byte what migration 10 ran (storage/migrations.test.ts).
 *
 * What a thread reply adds to version 6, all in the same statement under the same conversation
 * locks: a reply whose root is not a message of its conversation, or is itself a reply, is not
 * stored (the batch then fails as a whole and its sends go one by one, as insertSend refuses it);
 * each root replied to takes one seq after the batch's messages of its conversation, with its
 * summary (replies, last reply, participants); repliers follow the thread with their own reply
 * read, and the root's author follows it; the authors' own conversation watermarks move only for
 * messages on the main line.
 */
export const STORE_SENDS_FUNCTION_V10 = /* sql */ `CREATE OR REPLACE FUNCTION confab_store_sends(
        p_ids text[], p_conversation_ids text[], p_author_ids text[], p_client_ids text[],
        p_kinds text[], p_contents text[], p_terms text[], p_thread_root_ids text[], p_also_to_channel boolean[]
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
          SELECT t.* FROM unnest(p_ids, p_conversation_ids, p_author_ids, p_client_ids, p_kinds, p_contents, p_terms, p_thread_root_ids, p_also_to_channel)
            WITH ORDINALITY AS t(id, conversation_id, author_id, client_id, kind, content_enc, terms, thread_root_id, also_to_channel, ord)
            JOIN conversation_members cm ON cm.conversation_id = t.conversation_id AND cm.user_id = t.author_id
           WHERE t.thread_root_id IS NULL
              OR EXISTS (SELECT 1 FROM messages r WHERE r.id = t.thread_root_id AND r.conversation_id = t.conversation_id AND r.thread_root_id IS NULL)
        ), numbered AS (
          SELECT f.*, c.last_seq + row_number() OVER (PARTITION BY f.conversation_id ORDER BY f.ord) AS seq
            FROM fresh f JOIN conversations c ON c.id = f.conversation_id
        ), ins AS (
          INSERT INTO messages AS m (id, conversation_id, seq, updated_seq, author_id, client_id, kind, content_enc, search_terms, thread_root_id, also_to_channel)
          SELECT n.id, n.conversation_id, n.seq, n.seq, n.author_id, n.client_id, n.kind, n.content_enc, n.terms::bigint[], n.thread_root_id,
                 COALESCE(n.also_to_channel, false)
            FROM numbered n ORDER BY n.ord
          ON CONFLICT (conversation_id, author_id, client_id) DO NOTHING
          RETURNING m.*
        ), tops AS (
          SELECT i.conversation_id, max(i.seq) AS seq FROM ins i GROUP BY i.conversation_id
        ), roots AS (
          -- Each root replied to takes one seq after the batch's messages of its conversation.
          SELECT i.conversation_id, i.thread_root_id AS root_id, count(*)::int AS n, max(i.created_at) AS last_at,
                 array_agg(i.author_id ORDER BY i.seq) AS authors,
                 t.seq + row_number() OVER (PARTITION BY i.conversation_id ORDER BY i.thread_root_id) AS seq
            FROM ins i JOIN tops t ON t.conversation_id = i.conversation_id
           WHERE i.thread_root_id IS NOT NULL
           GROUP BY i.conversation_id, i.thread_root_id, t.seq
        ), root_changes AS (
          UPDATE messages r SET updated_seq = x.seq, thread_reply_count = r.thread_reply_count + x.n, thread_last_reply_at = x.last_at,
                 thread_participant_ids = r.thread_participant_ids || ARRAY(
                   SELECT a.author_id FROM unnest(x.authors) WITH ORDINALITY AS a(author_id, o)
                    WHERE a.author_id <> ALL(r.thread_participant_ids) GROUP BY a.author_id ORDER BY min(a.o))
            FROM roots x WHERE r.id = x.root_id
        ), follows AS (
          INSERT INTO thread_follows AS f (root_id, user_id, conversation_id, following, last_read_seq)
          SELECT i.thread_root_id, i.author_id, i.conversation_id, true, max(i.seq) FROM ins i WHERE i.thread_root_id IS NOT NULL
           GROUP BY i.thread_root_id, i.author_id, i.conversation_id
          UNION ALL
          SELECT r.id, r.author_id, r.conversation_id, true, 0 FROM roots x JOIN messages r ON r.id = x.root_id WHERE r.author_id <> ALL(x.authors)
          ON CONFLICT (root_id, user_id) DO UPDATE SET following = f.following OR EXCLUDED.last_read_seq > 0,
                                                       last_read_seq = GREATEST(f.last_read_seq, EXCLUDED.last_read_seq)
        ), bump AS (
          UPDATE conversations c SET last_seq = x.seq, last_activity_at = now()
            FROM (SELECT s.conversation_id, max(s.seq) AS seq
                    FROM (SELECT t.conversation_id, t.seq FROM tops t UNION ALL SELECT r.conversation_id, r.seq FROM roots r) s
                   GROUP BY s.conversation_id) x
           WHERE c.id = x.conversation_id
        ), own_watermarks AS (
          UPDATE conversation_members cm SET last_read_seq = x.seq, last_delivered_seq = x.seq
            FROM (SELECT i.conversation_id, i.author_id, max(i.seq) AS seq FROM ins i
                   WHERE i.thread_root_id IS NULL OR i.also_to_channel GROUP BY i.conversation_id, i.author_id) x
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
 * `confab_store_plain_sends` (migration 13): the batch function for the common batch, one without
 * thread replies. It does what version 10 does for such a batch, with less: no thread parts in the
 * statement, and no count beforehand. Version 10 inserts with ON CONFLICT DO NOTHING and counts the
 * members' sends first, to fail the batch when a repeat left a hole in seq; here the insert has no
 * ON CONFLICT, so a repeated clientId raises unique_violation itself and the whole batch is undone
 * just the same. It returns only what the database decides (plainSendRow builds the rest). Each
 * statement and each part of a statement costs PostgreSQL a fixed amount per call that dwarfs a
 * row's (bench/store-cost.ts; docs/benchmarks.md, eighth round). Like the other versions, this text
 * must stay byte for byte what migration 13 ran (storage/migrations.test.ts).
 */
export const STORE_PLAIN_SENDS_FUNCTION_V13 = /* sql */ `CREATE OR REPLACE FUNCTION confab_store_plain_sends(
        p_ids text[], p_conversation_ids text[], p_author_ids text[], p_client_ids text[],
        p_kinds text[], p_contents text[], p_terms text[]
      ) RETURNS TABLE (id text, seq integer, created_at timestamptz) LANGUAGE plpgsql VOLATILE
      SET plan_cache_mode = force_generic_plan AS $$
      BEGIN
        -- In id order, so two batches cannot deadlock.
        PERFORM 1 FROM conversations c WHERE c.id = ANY(p_conversation_ids) ORDER BY c.id FOR UPDATE;
        -- A new statement, so under READ COMMITTED it sees every change committed before the locks
        -- were granted: membership and last_seq as they are now. Non-members' sends are left out.
        RETURN QUERY
        WITH fresh AS (
          SELECT t.* FROM unnest(p_ids, p_conversation_ids, p_author_ids, p_client_ids, p_kinds, p_contents, p_terms)
            WITH ORDINALITY AS t(id, conversation_id, author_id, client_id, kind, content_enc, terms, ord)
            JOIN conversation_members cm ON cm.conversation_id = t.conversation_id AND cm.user_id = t.author_id
        ), numbered AS (
          SELECT f.*, c.last_seq + (row_number() OVER (PARTITION BY f.conversation_id ORDER BY f.ord))::integer AS seq
            FROM fresh f JOIN conversations c ON c.id = f.conversation_id
        ), ins AS (
          INSERT INTO messages AS m (id, conversation_id, seq, updated_seq, author_id, client_id, kind, content_enc, search_terms)
          SELECT n.id, n.conversation_id, n.seq, n.seq, n.author_id, n.client_id, n.kind, n.content_enc, n.terms::bigint[]
            FROM numbered n ORDER BY n.ord
          RETURNING m.id, m.seq, m.created_at, m.conversation_id, m.author_id
        ), bump AS (
          UPDATE conversations c SET last_seq = x.seq, last_activity_at = now()
            FROM (SELECT i.conversation_id, max(i.seq) AS seq FROM ins i GROUP BY i.conversation_id) x WHERE c.id = x.conversation_id
        ), own_watermarks AS (
          UPDATE conversation_members cm SET last_read_seq = x.seq, last_delivered_seq = x.seq
            FROM (SELECT i.conversation_id, i.author_id, max(i.seq) AS seq FROM ins i GROUP BY i.conversation_id, i.author_id) x
           WHERE cm.conversation_id = x.conversation_id AND cm.user_id = x.author_id
        )
        SELECT i.id, i.seq, i.created_at FROM ins i;
      END
      $$;`;

/**
 * Stores a batch of plain sends in one call, one round trip (confab_store_plain_sends when no send
 * of the batch is a thread reply, else confab_store_sends version 10): the sends whose author is a
 * member, numbered last_seq + 1, + 2, … per conversation in arrival order (and a seq more for each
 * thread root replied to). Fails as a whole if any of them had been stored before, or replies in a
 * thread that is not there.
 *
 * Only what the database decided comes back (id, seq, created_at); the rest of each row is the send
 * itself and the columns' defaults (plainSendRow). Reading every column back cost the server more
 * per message than building the message did (bench/cost.ts; docs/benchmarks.md, eighth round).
 */
export async function storeSends(db: Database, sends: PlainSend[]): Promise<MessageRow[]> {
  const column = <K extends keyof PlainSend>(key: K) => sends.map((s) => s[key]);
  const columns = [column('id'), column('conversationId'), column('authorId'), column('clientId'), column('kind'), column('contentEnc'), column('terms')];
  const stored = sends.some((s) => s.threadRootId !== null)
    ? await db.query<{ id: string; seq: number; created_at: Date }>(
        `SELECT m.id, m.seq, m.created_at FROM confab_store_sends($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::boolean[]) m`,
        [...columns, column('threadRootId'), column('alsoToChannel')],
        { prepare: true },
      )
    : await db.query<{ id: string; seq: number; created_at: Date }>(
        `SELECT m.id, m.seq, m.created_at FROM confab_store_plain_sends($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) m`,
        columns,
        { prepare: true },
      );
  const byId = new Map(sends.map((s) => [s.id, s]));
  return stored.map((r) => plainSendRow(byId.get(r.id)!, r.seq, r.created_at));
}

/**
 * The row confab_store_sends inserted for a plain send: the send, its seq and time, and the
 * columns' defaults (no reply, attachments, mentions, pin, preview, or thread summary of its own).
 * storage/messages.test.ts compares it with the row read back, so a new column cannot drift.
 */
export function plainSendRow(send: PlainSend, seq: number, createdAt: Date): MessageRow {
  return {
    id: send.id,
    conversation_id: send.conversationId,
    seq,
    updated_seq: seq,
    author_id: send.authorId,
    client_id: send.clientId,
    kind: send.kind as MessageKind,
    content_enc: send.contentEnc,
    reply_to_id: null,
    attachments: [],
    status: 'complete',
    model: null,
    created_at: createdAt,
    edited_at: null,
    deleted_at: null,
    status_reason: null,
    pinned_at: null,
    pinned_by: null,
    thread_root_id: send.threadRootId,
    also_to_channel: send.alsoToChannel,
    thread_reply_count: 0,
    thread_last_reply_at: null,
    thread_participant_ids: [],
    mentions: [],
    mentions_here: false,
    mentions_channel: false,
    link_preview_enc: null,
    tool_calls_enc: null,
  };
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
 * Up to `limit` messages of a conversation's main line (thread replies not also sent to it left
 * out) after the seq `after` (ascending), or else before the seq `before` (descending, newest first).
 */
export function listMessagePage(db: Queryable, conversationId: string, page: { after: number } | { before: number }, limit: number): Promise<MessageRow[]> {
  const forward = 'after' in page;
  return db.query<MessageRow>(
    forward
      ? `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE conversation_id = $1 AND seq > $2 AND ${MAIN_LINE} ORDER BY seq ASC LIMIT $3`
      : `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE conversation_id = $1 AND seq < $2 AND ${MAIN_LINE} ORDER BY seq DESC LIMIT $3`,
    [conversationId, forward ? page.after : page.before, limit],
  );
}

/** Each conversation's last message on its main line (by seq), if it has one. */
export function findLastMessages(db: Queryable, conversationIds: string[]): Promise<MessageRow[]> {
  // One index probe per conversation on UNIQUE (conversation_id, seq), rather than a scan.
  return db.query<MessageRow>(
    `SELECT l.* FROM unnest($1::text[]) AS ids(id)
       CROSS JOIN LATERAL (
         SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.conversation_id = ids.id AND ${MAIN_LINE} ORDER BY m.seq DESC LIMIT 1
       ) l`,
    [conversationIds],
  );
}

// ---------------------------------------------------------------------------------------------
// Changing messages (each change takes a seq first: see takeNextSeq)
// ---------------------------------------------------------------------------------------------

/**
 * THE message-version snapshot: keeps a message's previous content (encrypted) in
 * message_versions, and only the last `versionsKept` versions; `model` wrote it (AI answers).
 */
export async function keepPreviousVersion(tx: Queryable, messageId: string, contentEnc: string, createdAt: Date, versionsKept: number, model: string | null = null): Promise<void> {
  const [kept] = await tx.query<{ version: number }>(
    `INSERT INTO message_versions (message_id, version, content_enc, created_at, model)
     SELECT $1, COALESCE(max(version), 0) + 1, $2, $3, $4 FROM message_versions WHERE message_id = $1
     RETURNING version`,
    [messageId, contentEnc, createdAt, model],
  );
  await tx.query('DELETE FROM message_versions WHERE message_id = $1 AND version <= $2', [messageId, kept!.version - versionsKept]);
}

/**
 * New content (and its search terms) of an edit that took the seq `seq`; its mentions resolved
 * again from `mentions` (the edited text's parse), as a send resolves them.
 */
export async function updateMessageContent(
  tx: Queryable,
  messageId: string,
  contentEnc: string,
  searchTerms: string[],
  seq: number,
  mentions: MentionsToStore = NO_MENTIONS,
): Promise<void> {
  await tx.query(
    `WITH who AS (
       SELECT (c.mention_channel = 'everyone' OR cm.role IN ('owner', 'admin')) AS may_notify_all
         FROM messages x JOIN conversations c ON c.id = x.conversation_id
         LEFT JOIN conversation_members cm ON cm.conversation_id = x.conversation_id AND cm.user_id = x.author_id
        WHERE x.id = $1
     )
     UPDATE messages m SET content_enc = $2, search_terms = $3::bigint[], search_version = 2, edited_at = now(), updated_seq = $4,
            mentions = ${RESOLVE_HANDLES('m.conversation_id', '$5')},
            mentions_here = $6 AND COALESCE(who.may_notify_all, false), mentions_channel = $7 AND COALESCE(who.may_notify_all, false),
            here_user_ids = CASE WHEN $6 AND COALESCE(who.may_notify_all, false) THEN $8::text[] ELSE '{}' END
       FROM who WHERE m.id = $1`,
    [messageId, contentEnc, searchTerms, seq, mentions.handles, mentions.here, mentions.channel, mentions.hereUserIds],
  );
}

/**
 * Deletes a message for everyone, leaving a tombstone stamped with the seq `seq`: its content,
 * edit history, reactions, search terms and attachment list are erased, not hidden; a pin goes too.
 */
export async function eraseMessage(tx: Queryable, messageId: string, seq: number): Promise<void> {
  await tx.query('DELETE FROM message_versions WHERE message_id = $1', [messageId]);
  await tx.query('DELETE FROM message_reactions WHERE message_id = $1', [messageId]);
  await tx.query(
    `UPDATE messages SET content_enc = '', search_terms = '{}', attachments = '[]'::jsonb, deleted_at = now(), updated_seq = $2,
            pinned_at = NULL, pinned_by = NULL, mentions = '{}', mentions_here = false, mentions_channel = false, here_user_ids = '{}',
            tool_calls_enc = NULL WHERE id = $1`,
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
