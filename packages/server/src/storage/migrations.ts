import type { Database } from './db.ts';
import { STORE_PLAIN_SENDS_FUNCTION_V13, STORE_SENDS_FUNCTION_V10, STORE_SENDS_FUNCTION_V6 } from './messages.ts';

/**
 * Versioned migrations, applied in order at start-up. Never edit a migration that has shipped:
 * add the next one. Several nodes starting at once serialize on an advisory lock.
 */
export const MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'core schema',
    sql: /* sql */ `
      CREATE TABLE users (
        id text PRIMARY KEY,
        email text,
        handle text NOT NULL,
        display_name text NOT NULL,
        avatar_url text,
        public_key text,
        is_bot boolean NOT NULL DEFAULT false,
        password_hash text,
        settings jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_seen_at timestamptz
      );
      CREATE UNIQUE INDEX users_email_key ON users (lower(email));
      CREATE UNIQUE INDEX users_handle_key ON users (lower(handle));

      -- One row per signed-in device; revoking it ends every token of that session.
      CREATE TABLE sessions (
        id text PRIMARY KEY,
        user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
      );
      CREATE INDEX sessions_user_idx ON sessions (user_id);

      -- Refresh tokens are stored as SHA-256 hashes; each is spent once (rotation).
      CREATE TABLE refresh_tokens (
        token_hash text PRIMARY KEY,
        session_id text NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        used_at timestamptz
      );
      CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

      CREATE TABLE projects (
        id text PRIMARY KEY,
        owner_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX projects_owner_idx ON projects (owner_id);

      -- last_seq is the conversation's own sequence: every change takes last_seq + 1 while holding
      -- this row's lock, so commit order equals seq order within a conversation.
      CREATE TABLE conversations (
        id text PRIMARY KEY,
        type text NOT NULL CHECK (type IN ('direct', 'group', 'assistant')),
        title text,
        direct_key text UNIQUE,
        model text,
        system_prompt text,
        created_by text REFERENCES users(id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_activity_at timestamptz NOT NULL DEFAULT now(),
        last_seq integer NOT NULL DEFAULT 0,
        generating boolean NOT NULL DEFAULT false
      );

      CREATE TABLE conversation_members (
        conversation_id text NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        role text NOT NULL CHECK (role IN ('owner', 'admin', 'moderator', 'member')),
        joined_at timestamptz NOT NULL DEFAULT now(),
        last_read_seq integer NOT NULL DEFAULT 0,
        last_delivered_seq integer NOT NULL DEFAULT 0,
        pinned boolean NOT NULL DEFAULT false,
        muted boolean NOT NULL DEFAULT false,
        archived boolean NOT NULL DEFAULT false,
        draft_enc text,
        project_id text REFERENCES projects(id) ON DELETE SET NULL,
        PRIMARY KEY (conversation_id, user_id)
      );
      CREATE INDEX conversation_members_user_idx ON conversation_members (user_id);

      CREATE TABLE messages (
        id text PRIMARY KEY,
        conversation_id text NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        seq integer NOT NULL,
        updated_seq integer NOT NULL,
        author_id text NOT NULL REFERENCES users(id),
        client_id text,
        kind text NOT NULL,
        content_enc text NOT NULL,
        reply_to_id text,
        attachments jsonb NOT NULL DEFAULT '[]'::jsonb,
        status text NOT NULL DEFAULT 'complete',
        model text,
        created_at timestamptz NOT NULL DEFAULT now(),
        edited_at timestamptz,
        deleted_at timestamptz,
        -- Keyed hashes of the words in the content (blind index), since the content is encrypted.
        search_terms bigint[] NOT NULL DEFAULT '{}',
        UNIQUE (conversation_id, seq),
        -- Idempotent sends: the same author's clientId lands once per conversation.
        UNIQUE (conversation_id, author_id, client_id)
      );
      CREATE INDEX messages_updated_idx ON messages (conversation_id, updated_seq);
      CREATE INDEX messages_search_idx ON messages USING gin (search_terms);

      -- Previous contents of edited messages, encrypted like the content.
      CREATE TABLE message_versions (
        message_id text NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        version integer NOT NULL,
        content_enc text NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (message_id, version)
      );

      CREATE TABLE message_reactions (
        message_id text NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        emoji text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (message_id, user_id, emoji)
      );

      -- The AI assistant is a bot user that is a member of assistant conversations.
      INSERT INTO users (id, email, handle, display_name, is_bot)
      VALUES ('assistant', NULL, 'assistant', 'Assistant', true);
    `,
  },
  {
    version: 2,
    name: 'AI assistants',
    sql: /* sql */ `
      -- Users' own provider keys (BYOK), encrypted like message content; never returned.
      CREATE TABLE user_api_keys (
        user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        provider text NOT NULL,
        key_enc text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, provider)
      );
      -- Why an AI answer ended in status 'error', in words a person understands.
      ALTER TABLE messages ADD COLUMN status_reason text;
      -- Answers still streaming: found by sync (late joiners) and by the orphan sweep.
      CREATE INDEX messages_streaming_idx ON messages (conversation_id) WHERE status = 'streaming';
    `,
  },
  {
    version: 3,
    name: 'attachments, push notifications, jobs',
    sql: /* sql */ `
      -- A retrying job queue (jobs/queue.ts): claimed with FOR UPDATE SKIP LOCKED, so every node can
      -- run it; a job is deleted when done and kept as 'dead' after its last attempt.
      CREATE TABLE jobs (
        id bigserial PRIMARY KEY,
        kind text NOT NULL,
        payload jsonb NOT NULL DEFAULT '{}'::jsonb,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'dead')),
        attempts integer NOT NULL DEFAULT 0,
        max_attempts integer NOT NULL DEFAULT 8,
        run_at timestamptz NOT NULL DEFAULT now(),
        locked_until timestamptz,
        locked_by text,
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX jobs_due_idx ON jobs (run_at) WHERE status = 'pending';
      CREATE INDEX jobs_lease_idx ON jobs (locked_until) WHERE status = 'running';

      -- Files. The bytes live in the file store under <conversation_id>/<id>/{original,preview};
      -- the client's name is only ever shown, never used in a path.
      CREATE TABLE attachments (
        id text PRIMARY KEY,
        conversation_id text NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        uploader_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        -- Set once, by the statement that stores the message (see sendMessage).
        message_id text REFERENCES messages(id) ON DELETE CASCADE,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'uploading', 'complete', 'failed')),
        name text NOT NULL,
        declared_type text NOT NULL,
        declared_size bigint NOT NULL,
        -- Decided by sniffing the bytes once uploaded.
        type text,
        size bigint,
        width integer,
        height integer,
        duration_ms integer,
        has_preview boolean NOT NULL DEFAULT false,
        preview_size integer,
        -- Text of text files and PDFs, for the AI assistant; encrypted like message content.
        text_status text NOT NULL DEFAULT 'none' CHECK (text_status IN ('none', 'pending', 'ready', 'failed')),
        text_enc text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX attachments_conversation_idx ON attachments (conversation_id);
      CREATE INDEX attachments_message_idx ON attachments (message_id) WHERE message_id IS NOT NULL;
      CREATE INDEX attachments_unattached_idx ON attachments (created_at) WHERE message_id IS NULL;

      -- Whatever deletes attachment rows (a message deleted, a conversation deleted by its owner or
      -- by its last member leaving, the clean-up of abandoned uploads) queues the deletion of their
      -- files in the same transaction: the files go after commit, at least once, never before.
      CREATE FUNCTION confab_attachments_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO jobs (kind, payload, max_attempts)
        SELECT 'files.delete', jsonb_build_object('objects', jsonb_agg(jsonb_build_array(o.conversation_id, o.id))), 20
          FROM old_rows o
        HAVING count(*) > 0;
        RETURN NULL;
      END
      $$;
      CREATE TRIGGER attachments_deleted AFTER DELETE ON attachments
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION confab_attachments_deleted();

      -- Web push subscriptions, one per device (browser profile). The keys are encrypted at rest.
      CREATE TABLE push_subscriptions (
        id text PRIMARY KEY,
        user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        endpoint text NOT NULL UNIQUE,
        keys_enc text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_success_at timestamptz
      );
      CREATE INDEX push_subscriptions_user_idx ON push_subscriptions (user_id);

      -- Notification preferences; a user without a row gets level 'all' with previews.
      CREATE TABLE notification_preferences (
        user_id text PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
        level text NOT NULL DEFAULT 'all' CHECK (level IN ('all', 'mentions', 'none')),
        preview boolean NOT NULL DEFAULT true,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 4,
    name: 'store a batch of sends in one call',
    sql: /* sql */ `
      -- Group commit (operations/sendBatch.ts) in one round trip instead of four (BEGIN, lock,
      -- insert, COMMIT): in the benchmarks the batch's transaction spent most of its time idle,
      -- waiting for the server's next statement. A VOLATILE function takes a fresh snapshot for each
      -- statement, so the insert still sees every send committed before the locks were granted.
      -- Each (conversation, author, clientId) is inserted once, skipping those already stored and
      -- those whose author is not a member; seqs are numbered per conversation in arrival order, with
      -- no gaps; last_seq and the authors' own watermarks advance.
      CREATE FUNCTION confab_store_sends(
        p_ids text[], p_conversation_ids text[], p_author_ids text[], p_client_ids text[],
        p_kinds text[], p_contents text[], p_terms text[]
      ) RETURNS SETOF messages LANGUAGE plpgsql VOLATILE AS $$
      BEGIN
        -- In id order, so two batches cannot deadlock.
        PERFORM 1 FROM conversations WHERE id = ANY(p_conversation_ids) ORDER BY id FOR UPDATE;
        RETURN QUERY
        WITH input AS (
          SELECT * FROM unnest(p_ids, p_conversation_ids, p_author_ids, p_client_ids, p_kinds, p_contents, p_terms)
            WITH ORDINALITY AS t(id, conversation_id, author_id, client_id, kind, content_enc, terms, ord)
        ), once AS (
          SELECT DISTINCT ON (i.conversation_id, i.author_id, i.client_id) * FROM input i
           ORDER BY i.conversation_id, i.author_id, i.client_id, i.ord
        ), fresh AS (
          SELECT o.* FROM once o
            JOIN conversation_members cm ON cm.conversation_id = o.conversation_id AND cm.user_id = o.author_id
           WHERE NOT EXISTS (SELECT 1 FROM messages x
                              WHERE x.conversation_id = o.conversation_id AND x.author_id = o.author_id AND x.client_id = o.client_id)
        ), numbered AS (
          SELECT f.*, c.last_seq + row_number() OVER (PARTITION BY f.conversation_id ORDER BY f.ord) AS seq
            FROM fresh f JOIN conversations c ON c.id = f.conversation_id
        ), ins AS (
          INSERT INTO messages AS m (id, conversation_id, seq, updated_seq, author_id, client_id, kind, content_enc, search_terms)
          SELECT n.id, n.conversation_id, n.seq, n.seq, n.author_id, n.client_id, n.kind, n.content_enc, n.terms::bigint[]
            FROM numbered n ORDER BY n.ord
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
      END
      $$;
    `,
  },
  {
    version: 5,
    name: 'smaller GIN pending list for the search index',
    sql: /* sql */ `
      -- New blind-index entries go to the GIN index's pending list; the insert that finds the list
      -- over its limit merges all of it into the index, inside its own statement. At the default
      -- 4 MB (about 8,000 messages) that merge held one send batch for 30–60 ms. At 256 kB each
      -- merge is sixteen times smaller: storing 340K messages in batches of 17 (four at a time),
      -- batch p99 went from 15 to 12 ms and the slowest batch from 116 to 30 ms, at the same
      -- throughput or better (bench/lib/analysis.md).
      ALTER INDEX messages_search_idx SET (gin_pending_list_limit = 256);
    `,
  },
  {
    // The function's text lives in storage/messages.ts (STORE_SENDS_FUNCTION_V6), beside the query
    // that calls it; it is the same text this migration always ran (storage/migrations.test.ts).
    version: 6,
    name: 'store a batch of sends with a plan that cannot degrade',
    sql: /* sql */ `
      -- Version 4 skipped sends already stored with NOT EXISTS before numbering them. PostgreSQL
      -- may serve that probe from any index that starts with conversation_id, and with statistics
      -- taken while the table was small (a new install, a new busy conversation) it picked
      -- messages_updated_idx and filtered author and clientId: every send read the whole
      -- conversation. Measured on a conversation of 7,500 messages: 1.15 ms per send instead of
      -- 3 µs, batches of 30 taking 3.2 ms per row instead of 0.075 (bench/lib/analysis.md).
      -- Now the insert skips them itself (ON CONFLICT on the unique constraint, no plan choice),
      -- and since a skipped send would leave a hole in seq, a batch that skipped any fails as a
      -- whole: the server then stores its sends one by one (operations/sendBatch.ts). Repeats are
      -- rare (a client resending after a lost ack), so that path costs nothing in the common case.
      -- With nothing left for the parameters to decide, the plan is made once per session.
      ${STORE_SENDS_FUNCTION_V6}
    `,
  },
  {
    version: 7,
    name: 'recent membership changes and revocations, for every node to reconcile its sockets',
    sql: /* sql */ `
      -- Every membership change (join, leave, removal, a conversation deleted), written in the
      -- change's own transaction. A node hears of a change by a Redis broadcast, which can be lost;
      -- each node also reads the changes of the last few seconds once a second and puts its
      -- sockets' rooms right (realtime/gateway.ts). Rows are pruned after an hour. No foreign keys:
      -- a row must outlive the conversation or user it names.
      CREATE TABLE membership_changes (
        id bigserial PRIMARY KEY,
        user_id text NOT NULL,
        conversation_id text NOT NULL,
        changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
      );
      CREATE INDEX membership_changes_at_idx ON membership_changes (changed_at);
      -- The same check reads the sessions revoked in the last few seconds.
      CREATE INDEX sessions_revoked_at_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
    `,
  },
  {
    version: 8,
    name: 'search index keyed by conversation',
    sql: /* sql */ `
      -- Which way a message's search_terms were hashed: 1 with one key for all conversations (rows
      -- written before this migration), 2 with the conversation id in every hash (search/terms.ts).
      -- Existing rows get 1 (a constant default: no table rewrite), rows inserted from now on 2.
      -- A background job (operations/search.ts) re-indexes version 1 rows; until it is done,
      -- searches also match them the old way.
      ALTER TABLE messages ADD COLUMN search_version smallint NOT NULL DEFAULT 1;
      ALTER TABLE messages ALTER COLUMN search_version SET DEFAULT 2;
      CREATE INDEX messages_search_v1_idx ON messages (id) WHERE search_version = 1;
    `,
  },
  {
    version: 9,
    name: 'channels (public groups, topics) and pinned messages',
    sql: /* sql */ `
      -- A group is a public channel (anyone may find and join it) or private (members are added).
      -- Direct and assistant conversations are always private. Topics, like titles, are shown to
      -- people outside the conversation (the channel directory), so they are not encrypted.
      ALTER TABLE conversations ADD COLUMN visibility text NOT NULL DEFAULT 'private'
        CONSTRAINT conversations_visibility_check CHECK (visibility IN ('public', 'private'));
      ALTER TABLE conversations ADD CONSTRAINT conversations_public_is_group CHECK (visibility = 'private' OR type = 'group');
      ALTER TABLE conversations ADD COLUMN topic text;
      -- The directory lists public channels by title (storage/channels.ts): a small partial index.
      CREATE INDEX conversations_public_idx ON conversations (lower(title), id) WHERE visibility = 'public';

      -- A pin is a change of the message (it takes the conversation's next seq, like an edit), so
      -- it lives on the message row and sync carries it. No foreign key on pinned_by: a pin stays
      -- when its user goes.
      ALTER TABLE messages ADD COLUMN pinned_at timestamptz;
      ALTER TABLE messages ADD COLUMN pinned_by text;
      CREATE INDEX messages_pinned_idx ON messages (conversation_id, pinned_at DESC) WHERE pinned_at IS NOT NULL;
    `,
  },
  {
    // The batch function's text lives in storage/messages.ts (STORE_SENDS_FUNCTION_V10), like version 6's.
    version: 10,
    name: 'threads',
    sql: /* sql */ `
      -- A reply in a thread names its root (a message of the same conversation that is not itself
      -- a reply) and takes the conversation's seq like any message, so sync, ordering and
      -- idempotent sends hold for it. also_to_channel: the reply is shown on the main line too.
      -- The root carries its thread's summary, kept by the statements that store replies; each
      -- change to it takes a seq of its own (docs/threads.md). Constant defaults: no table rewrite.
      ALTER TABLE messages ADD COLUMN thread_root_id text;
      ALTER TABLE messages ADD COLUMN also_to_channel boolean NOT NULL DEFAULT false;
      ALTER TABLE messages ADD COLUMN thread_reply_count integer NOT NULL DEFAULT 0;
      ALTER TABLE messages ADD COLUMN thread_last_reply_at timestamptz;
      ALTER TABLE messages ADD COLUMN thread_participant_ids text[] NOT NULL DEFAULT '{}';
      -- One thread, in seq order.
      CREATE INDEX messages_thread_idx ON messages (thread_root_id, seq) WHERE thread_root_id IS NOT NULL;

      -- Who follows a thread (the root's author and every replier, until they unfollow), and each
      -- follower's read watermark in it: the seq of the last reply they read.
      CREATE TABLE thread_follows (
        root_id text NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        conversation_id text NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        following boolean NOT NULL DEFAULT true,
        last_read_seq integer NOT NULL DEFAULT 0,
        PRIMARY KEY (root_id, user_id)
      );
      CREATE INDEX thread_follows_user_idx ON thread_follows (user_id) WHERE following;

      -- The send batch, carrying each send's thread root (a new signature, so a new function
      -- beside version 6's).
      ${STORE_SENDS_FUNCTION_V10}
    `,
  },
  {
    version: 11,
    name: 'mentions',
    sql: /* sql */ `
      -- Mentions as the one parser (operations/mentions.ts) found them, resolved against the
      -- members by the statement that stores or edits the message (docs/mentions.md): the members
      -- named by @handle, whether @here / @channel took effect, and for @here who was online then.
      -- Messages stored before this migration have none (their text is encrypted: no backfill).
      ALTER TABLE messages ADD COLUMN mentions text[] NOT NULL DEFAULT '{}';
      ALTER TABLE messages ADD COLUMN mentions_here boolean NOT NULL DEFAULT false;
      ALTER TABLE messages ADD COLUMN mentions_channel boolean NOT NULL DEFAULT false;
      ALTER TABLE messages ADD COLUMN here_user_ids text[] NOT NULL DEFAULT '{}';
      -- Few messages mention anyone: unread mention counts and GET /api/mentions read only these.
      CREATE INDEX messages_mentions_idx ON messages (conversation_id, seq)
        WHERE mentions <> '{}' OR mentions_here OR mentions_channel;
      -- Who may use @channel and @here.
      ALTER TABLE conversations ADD COLUMN mention_channel text NOT NULL DEFAULT 'everyone'
        CHECK (mention_channel IN ('everyone', 'admins'));
    `,
  },
  {
    version: 12,
    name: 'link previews',
    sql: /* sql */ `
      -- The preview of a message's first link (operations/previews.ts), as JSON encrypted like the
      -- content: it repeats the link and what its page says. NULL while there is none.
      ALTER TABLE messages ADD COLUMN link_preview_enc text;
      -- The sender removed the preview: it is not fetched again, not even after an edit.
      ALTER TABLE messages ADD COLUMN link_preview_removed boolean NOT NULL DEFAULT false;
      -- The preview's image as Confab re-encoded it (WebP), encrypted, served to members only.
      -- One per message; it goes with the message (a conversation deleted deletes its messages).
      CREATE TABLE link_preview_images (
        message_id text PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
        content_type text NOT NULL,
        image_enc text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 13,
    name: 'lean plain sends',
    // The text lives in storage/messages.ts (STORE_PLAIN_SENDS_FUNCTION_V13), beside storeSends that calls it.
    sql: /* sql */ `
      -- A batch function for batches without thread replies: the same result as confab_store_sends
      -- for them, at a lower fixed cost per call. confab_store_sends stays for batches with replies.
      ${STORE_PLAIN_SENDS_FUNCTION_V13}
    `,
  },
  {
    version: 14,
    name: 'running Confab for a team: instance roles, invites, audit, accounts, privacy, reports, AI usage',
    sql: /* sql */ `
      -- The instance role (not a conversation's role) and the account's state. Accounts are never
      -- removed: a deleted one stays as "Deleted user" so conversations stay whole for the others.
      ALTER TABLE users ADD COLUMN role text NOT NULL DEFAULT 'user' CHECK (role IN ('owner', 'admin', 'user'));
      ALTER TABLE users ADD COLUMN status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deactivated', 'deleted'));
      ALTER TABLE users ADD COLUMN deleted_at timestamptz;
      -- Second factor: the secret (encrypted like message content) is stored at setup; it counts once
      -- totp_enabled_at is set. totp_last_step refuses a code used once already (replay).
      ALTER TABLE users ADD COLUMN totp_secret_enc text;
      ALTER TABLE users ADD COLUMN totp_enabled_at timestamptz;
      ALTER TABLE users ADD COLUMN totp_last_step bigint;
      -- Privacy (GET/PUT /api/users/me/privacy).
      ALTER TABLE users ADD COLUMN discoverable boolean NOT NULL DEFAULT true;
      ALTER TABLE users ADD COLUMN show_last_seen boolean NOT NULL DEFAULT true;
      ALTER TABLE users ADD COLUMN direct_messages_from text NOT NULL DEFAULT 'everyone' CHECK (direct_messages_from IN ('everyone', 'shared'));
      -- An instance that ran before roles existed: its first person becomes the owner, so somebody
      -- can administer it.
      UPDATE users SET role = 'owner'
       WHERE id = (SELECT id FROM users WHERE NOT is_bot ORDER BY created_at, id LIMIT 1);

      -- What "signed-in devices" shows.
      ALTER TABLE sessions ADD COLUMN user_agent text;
      ALTER TABLE sessions ADD COLUMN ip text;
      ALTER TABLE sessions ADD COLUMN last_used_at timestamptz NOT NULL DEFAULT now();

      -- Settings an admin changes at run time (name, registration, AI), one row. A field that is
      -- absent falls back to the server's configuration.
      CREATE TABLE instance_settings (
        id boolean PRIMARY KEY DEFAULT true CHECK (id),
        settings jsonb NOT NULL DEFAULT '{}'::jsonb,
        updated_at timestamptz NOT NULL DEFAULT now()
      );

      -- Invitations. The token is looked up by its hash and kept encrypted too, so an admin can copy
      -- the link again later.
      CREATE TABLE invites (
        id text PRIMARY KEY,
        token_hash text NOT NULL UNIQUE,
        token_enc text NOT NULL,
        role text NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user')),
        email text,
        max_uses integer,
        uses integer NOT NULL DEFAULT 0,
        expires_at timestamptz,
        revoked_at timestamptz,
        created_by text REFERENCES users(id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );

      -- One-time password reset links (admin-made, or e-mailed), stored as hashes.
      CREATE TABLE password_resets (
        token_hash text PRIMARY KEY,
        user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_by text REFERENCES users(id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        used_at timestamptz
      );
      CREATE INDEX password_resets_user_idx ON password_resets (user_id);

      -- Second-factor recovery codes, stored as hashes; each works once.
      CREATE TABLE recovery_codes (
        user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        code_hash text NOT NULL,
        used_at timestamptz,
        PRIMARY KEY (user_id, code_hash)
      );

      -- Every admin action. actor_id is NULL for the command line.
      CREATE TABLE audit_log (
        id text PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        actor_id text REFERENCES users(id) ON DELETE SET NULL,
        action text NOT NULL,
        target_type text,
        target_id text,
        details jsonb NOT NULL DEFAULT '{}'::jsonb
      );
      CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);

      CREATE TABLE user_blocks (
        blocker_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        blocked_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (blocker_id, blocked_id)
      );
      CREATE INDEX user_blocks_blocked_idx ON user_blocks (blocked_id);

      CREATE TABLE reports (
        id text PRIMARY KEY,
        message_id text NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        conversation_id text NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        reporter_id text REFERENCES users(id) ON DELETE SET NULL,
        reason text NOT NULL,
        status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'dismissed')),
        created_at timestamptz NOT NULL DEFAULT now(),
        closed_by text REFERENCES users(id) ON DELETE SET NULL,
        closed_at timestamptz
      );
      CREATE INDEX reports_status_idx ON reports (status, created_at DESC);

      -- The usage ledger: one row per AI answer (or title), with the provider's reported tokens and
      -- who paid. Quotas count the rows paid with the server's keys.
      CREATE TABLE ai_usage (
        id text PRIMARY KEY,
        user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        conversation_id text REFERENCES conversations(id) ON DELETE SET NULL,
        message_id text,
        model text NOT NULL,
        key_source text NOT NULL CHECK (key_source IN ('user', 'server')),
        input_tokens integer NOT NULL DEFAULT 0,
        output_tokens integer NOT NULL DEFAULT 0,
        at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX ai_usage_user_at_idx ON ai_usage (user_id, at);

      -- consent: one open report per reporter per message (a repeat returns the open one).
      CREATE UNIQUE INDEX reports_open_once_idx ON reports (message_id, reporter_id) WHERE status = 'open';
    `,
  },
  {
    version: 15,
    name: 'building on Confab: API keys, platform users, bots, webhooks, single sign-on',
    sql: /* sql */ `
      -- A developer's backend: keys stored as SHA-256 hashes (shown once), with scopes.
      CREATE TABLE api_keys (
        id text PRIMARY KEY,
        name text NOT NULL,
        key_hash text NOT NULL UNIQUE,
        -- The first characters, to tell keys apart in a list (never enough to use).
        key_prefix text NOT NULL,
        scopes text[] NOT NULL,
        created_by text REFERENCES users(id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        revoked_at timestamptz
      );

      -- Users tied to a developer's own ids (PUT /api/platform/users/:externalId, external JWTs).
      ALTER TABLE users ADD COLUMN external_id text;
      CREATE UNIQUE INDEX users_external_id_key ON users (external_id);
      -- The person a bot belongs to.
      ALTER TABLE users ADD COLUMN bot_owner_id text REFERENCES users(id) ON DELETE SET NULL;

      -- Bot tokens: non-expiring, revocable, stored as hashes; each belongs to a session (so ending
      -- it closes the bot's live sockets like any session's).
      CREATE TABLE bot_tokens (
        token_hash text PRIMARY KEY,
        bot_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        session_id text NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
      );
      CREATE INDEX bot_tokens_bot_idx ON bot_tokens (bot_id);

      -- Outgoing webhooks. The secret is encrypted like message content (it signs every delivery).
      CREATE TABLE webhooks (
        id text PRIMARY KEY,
        url text NOT NULL,
        events text[] NOT NULL,
        secret_enc text NOT NULL,
        enabled boolean NOT NULL DEFAULT true,
        disabled_reason text,
        failing_since timestamptz,
        created_by text REFERENCES users(id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );

      -- One row per event per endpoint; delivered in seq order per conversation (conversation_id,
      -- seq), at least once.
      CREATE TABLE webhook_deliveries (
        id text PRIMARY KEY,
        webhook_id text NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
        event_id text NOT NULL,
        event_type text NOT NULL,
        conversation_id text,
        seq integer,
        body text NOT NULL,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        created_at timestamptz NOT NULL DEFAULT now(),
        delivered_at timestamptz,
        UNIQUE (webhook_id, event_id)
      );
      CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (status, next_attempt_at);
      CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, created_at DESC);

      -- Each attempt of a delivery: the delivery log.
      CREATE TABLE webhook_attempts (
        id text PRIMARY KEY,
        delivery_id text NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
        at timestamptz NOT NULL DEFAULT now(),
        status_code integer,
        error text,
        duration_ms integer NOT NULL DEFAULT 0
      );
      CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, at);

      -- Incoming webhooks: a secret URL that posts into one conversation as the hook (a bot user).
      CREATE TABLE incoming_hooks (
        id text PRIMARY KEY,
        conversation_id text NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        name text NOT NULL,
        token_hash text NOT NULL UNIQUE,
        author_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_by text REFERENCES users(id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX incoming_hooks_conversation_idx ON incoming_hooks (conversation_id);

      -- Single sign-on: who a provider's subject is here, and the one-time codes of finished sign-ins.
      CREATE TABLE oidc_identities (
        provider_id text NOT NULL,
        subject text NOT NULL,
        user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        email text,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (provider_id, subject)
      );
      CREATE INDEX oidc_identities_user_idx ON oidc_identities (user_id);
      CREATE TABLE oidc_codes (
        code_hash text PRIMARY KEY,
        user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        expires_at timestamptz NOT NULL,
        used_at timestamptz
      );

      -- outgoing webhooks: deliveries are written by triggers, in the transaction of the change
      -- itself (so a crash right after a commit loses none). The triggers are created DISABLED and
      -- enabled only while an enabled webhook wants their events (storage/webhooks.ts,
      -- syncWebhookTriggers): with no webhooks, the send path runs no trigger at all.
      -- n: the order deliveries were written in; within a conversation that is seq order (every
      -- change of a conversation takes its row lock). ref: what the event is about, as it was (the
      -- row as JSON, content still encrypted); the body is built from it when first delivered.
      ALTER TABLE webhook_deliveries ADD COLUMN n bigint GENERATED ALWAYS AS IDENTITY;
      ALTER TABLE webhook_deliveries ADD COLUMN ref jsonb;
      ALTER TABLE webhook_deliveries ADD COLUMN locked_until timestamptz;
      CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (webhook_id, (coalesce(conversation_id, '')), n) WHERE status = 'pending';

      CREATE FUNCTION confab_webhook_enqueue(event text, conv text, seq integer, ref jsonb) RETURNS void
      LANGUAGE sql AS $$
        INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, conversation_id, seq, body, ref)
        SELECT rtrim(translate(encode(uuid_send(gen_random_uuid()), 'base64'), '+/', '-_'), '='), w.id, e.id, event, conv, seq, '', ref
        FROM webhooks w, (SELECT rtrim(translate(encode(uuid_send(gen_random_uuid()), 'base64'), '+/', '-_'), '=') AS id) e
        WHERE w.enabled AND event = ANY (w.events)
      $$;

      CREATE FUNCTION confab_webhook_messages() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        r jsonb := to_jsonb(NEW) - 'search_terms';
      BEGIN
        IF TG_OP = 'INSERT' THEN
          PERFORM confab_webhook_enqueue('message.created', NEW.conversation_id, NEW.seq, r);
        ELSIF NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL THEN
          PERFORM confab_webhook_enqueue('message.deleted', NEW.conversation_id, NEW.updated_seq, r);
        ELSIF OLD.status = 'streaming' AND NEW.status <> 'streaming' THEN
          PERFORM confab_webhook_enqueue('ai.answer.completed', NEW.conversation_id, NEW.updated_seq, r);
        ELSIF NEW.content_enc IS DISTINCT FROM OLD.content_enc AND NEW.status <> 'streaming' THEN
          PERFORM confab_webhook_enqueue('message.updated', NEW.conversation_id, NEW.updated_seq, r);
        END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER confab_webhook_messages AFTER INSERT OR UPDATE ON messages
        FOR EACH ROW EXECUTE FUNCTION confab_webhook_messages();

      CREATE FUNCTION confab_webhook_reactions() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        m messages%ROWTYPE;
      BEGIN
        SELECT * INTO m FROM messages WHERE id = coalesce(NEW.message_id, OLD.message_id);
        IF FOUND THEN
          PERFORM confab_webhook_enqueue('reaction.changed', m.conversation_id, m.updated_seq,
            jsonb_build_object('messageId', m.id, 'userId', coalesce(NEW.user_id, OLD.user_id), 'emoji', coalesce(NEW.emoji, OLD.emoji), 'added', TG_OP = 'INSERT'));
        END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER confab_webhook_reactions AFTER INSERT OR DELETE ON message_reactions
        FOR EACH ROW EXECUTE FUNCTION confab_webhook_reactions();

      CREATE FUNCTION confab_webhook_conversations() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          PERFORM confab_webhook_enqueue('conversation.created', NEW.id, NULL, to_jsonb(NEW) - 'direct_key' - 'system_prompt');
        ELSIF TG_OP = 'DELETE' THEN
          PERFORM confab_webhook_enqueue('conversation.deleted', OLD.id, NULL, to_jsonb(OLD) - 'direct_key' - 'system_prompt');
        ELSE
          PERFORM confab_webhook_enqueue('conversation.updated', NEW.id, NULL, to_jsonb(NEW) - 'direct_key' - 'system_prompt');
        END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER confab_webhook_conversations AFTER INSERT OR DELETE ON conversations
        FOR EACH ROW EXECUTE FUNCTION confab_webhook_conversations();
      -- Not on every send's last_seq: only what members see of the conversation.
      CREATE TRIGGER confab_webhook_conversations_update AFTER UPDATE ON conversations
        FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.topic IS DISTINCT FROM NEW.topic
          OR OLD.visibility IS DISTINCT FROM NEW.visibility OR OLD.model IS DISTINCT FROM NEW.model
          OR OLD.mention_channel IS DISTINCT FROM NEW.mention_channel)
        EXECUTE FUNCTION confab_webhook_conversations();

      CREATE FUNCTION confab_webhook_members() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          PERFORM confab_webhook_enqueue('member.added', NEW.conversation_id, NULL,
            jsonb_build_object('conversationId', NEW.conversation_id, 'userId', NEW.user_id, 'role', NEW.role));
        -- A conversation being deleted takes its members with it: that is conversation.deleted.
        ELSIF EXISTS (SELECT 1 FROM conversations WHERE id = OLD.conversation_id) THEN
          PERFORM confab_webhook_enqueue('member.removed', OLD.conversation_id, NULL,
            jsonb_build_object('conversationId', OLD.conversation_id, 'userId', OLD.user_id, 'role', OLD.role));
        END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER confab_webhook_members AFTER INSERT OR DELETE ON conversation_members
        FOR EACH ROW EXECUTE FUNCTION confab_webhook_members();

      CREATE FUNCTION confab_webhook_users() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM confab_webhook_enqueue('user.created', NULL, NULL,
          jsonb_build_object('id', NEW.id, 'handle', NEW.handle, 'displayName', NEW.display_name, 'isBot', NEW.is_bot, 'externalId', NEW.external_id));
        RETURN NULL;
      END $$;
      CREATE TRIGGER confab_webhook_users AFTER INSERT ON users
        FOR EACH ROW EXECUTE FUNCTION confab_webhook_users();

      ALTER TABLE messages DISABLE TRIGGER confab_webhook_messages;
      ALTER TABLE message_reactions DISABLE TRIGGER confab_webhook_reactions;
      ALTER TABLE conversations DISABLE TRIGGER confab_webhook_conversations;
      ALTER TABLE conversations DISABLE TRIGGER confab_webhook_conversations_update;
      ALTER TABLE conversation_members DISABLE TRIGGER confab_webhook_members;
      ALTER TABLE users DISABLE TRIGGER confab_webhook_users;
    `,
  },
  {
    version: 16,
    name: 'shared snapshots of conversations',
    sql: /* sql */ `
      -- A read-only snapshot of a conversation published at an unguessable URL (operations/shares.ts).
      -- The URL's id is looked up by its SHA-256 (id_hash) and kept encrypted (id_enc) so the owner
      -- can copy the link again: someone who reads the database alone cannot open the public page.
      -- The snapshot (title and messages' display data, as JSON) is encrypted like message content
      -- and never changes; it goes with its conversation.
      CREATE TABLE conversation_shares (
        id_hash text PRIMARY KEY,
        id_enc text NOT NULL,
        conversation_id text NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        created_by text REFERENCES users(id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        title_enc text,
        message_count integer NOT NULL,
        -- Whose messages it holds: deleting an account removes the shares that hold its messages.
        author_ids text[] NOT NULL DEFAULT '{}',
        snapshot_enc text NOT NULL
      );
      CREATE INDEX conversation_shares_conversation_idx ON conversation_shares (conversation_id, created_at DESC);
      CREATE INDEX conversation_shares_authors_idx ON conversation_shares USING gin (author_ids);
    `,
  },
  {
    version: 21,
    name: 'retention: messages older than a number of days are deleted',
    sql: /* sql */ `
      -- A conversation's own retention in days, over the instance's (instance_settings); NULL: the instance's.
      ALTER TABLE conversations ADD COLUMN retention_days integer CHECK (retention_days > 0);
      -- The retention sweep finds the oldest messages first.
      CREATE INDEX messages_created_at_idx ON messages (created_at);
    `,
  },
  {
    version: 17,
    name: 'tool calls of AI answers',
    sql: /* sql */ `
      -- The tools an answer called (web search, MCP tools, image generation) with their inputs and
      -- results, as JSON encrypted like the content (they quote the conversation and what tools
      -- found). Null for every other message (assistant/tools/, docs/ai.md "Tools").
      ALTER TABLE messages ADD COLUMN tool_calls_enc text;
    `,
  },
  {
    version: 18,
    name: 'the model of each kept version of an answer',
    sql: /* sql */ `
      -- A regenerated answer may come from another model than the one before (the conversation's
      -- model can be switched): each kept version names the model that wrote it (NULL for people's
      -- messages and for versions kept before this column existed).
      ALTER TABLE message_versions ADD COLUMN model text;
    `,
  },
];

const MIGRATION_LOCK = 4_242_001;

export async function migrate(db: Database, log: (msg: string) => void = () => {}): Promise<number> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await tx.query<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => r.version));
    let applied = 0;
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      log(`applying migration ${m.version}: ${m.name}`);
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied++;
    }
    return applied;
  });
}
