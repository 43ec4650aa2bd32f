import { mentionSegments, type Conversation, type Message } from '@confab/client';
import { useConversations, useMentions } from '@confab/client/react';
import { useMemo, useState } from 'react';
import { humanError } from '../lib/errors.ts';
import { formatShort } from '../lib/time.ts';
import { useMe } from '../state/me.tsx';
import { conversationPath, navigate } from '../state/router.ts';
import { Avatar } from '../ui/Avatar.tsx';
import { Icon } from '../ui/Icon.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { DrawerButton } from '../ui/DrawerButton.tsx';

/**
 * The Mentions view (/mentions): every message that mentions you, newest first, across your
 * conversations (SDK: client.watchMentions). A click opens its conversation.
 */
export function MentionsView({ onOpenDrawer }: { onOpenDrawer: () => void }) {
  const { me } = useMe();
  const conversations = useConversations();
  const byId = useMemo(() => new Map(conversations.map((c) => [c.id, c])), [conversations]);
  const state = useMentions();
  const [loadingMore, setLoadingMore] = useState(false);

  const more = () => {
    if (loadingMore) return;
    setLoadingMore(true);
    void state.loadMore().finally(() => setLoadingMore(false));
  };

  return (
    <div className="mentions-view">
      <header className="conv-header">
        <DrawerButton onOpenDrawer={onOpenDrawer} />
        <span className="conv-header-text">
          <h1>Mentions</h1>
          <span className="conv-sub">Messages that mention you, @here or @channel</span>
        </span>
        <button type="button" className="icon-btn" aria-label="Refresh" title="Refresh" onClick={() => void state.refresh()}>
          <Icon name="refresh" size={18} />
        </button>
      </header>
      <div className="mentions-body" aria-busy={state.loading}>
        {state.loading && state.messages.length === 0 && (
          <div className="mentions-empty" role="status">
            <Spinner size={20} /> Loading mentions…
          </div>
        )}
        {state.error !== null && (
          <div className="mentions-empty" role="alert">
            <p>Mentions could not be loaded: {humanError(state.error)}</p>
            <button type="button" className="btn" onClick={() => void state.refresh()}>
              Try again
            </button>
          </div>
        )}
        {!state.loading && state.error === null && state.messages.length === 0 && (
          <div className="mentions-empty">
            <span className="mentions-empty-art" aria-hidden="true">
              @
            </span>
            <p>No mentions yet. When someone writes @{me.handle}, @here or @channel, it shows up here.</p>
          </div>
        )}
        {state.messages.length > 0 && (
          <ul className="mention-list" aria-label="Mentions">
            {state.messages.map((m) => (
              <MentionItem key={m.id} m={m} conversation={byId.get(m.conversationId) ?? null} me={me.id} unread={isUnread(m, byId.get(m.conversationId))} />
            ))}
          </ul>
        )}
        {state.hasMore && (
          <button type="button" className="btn mentions-more" onClick={more} disabled={loadingMore}>
            {loadingMore ? <Spinner size={14} /> : null} Show older mentions
          </button>
        )}
      </div>
    </div>
  );
}

const isUnread = (m: Message, c: Conversation | undefined) => c !== undefined && m.seq > c.lastReadSeq;

function MentionItem({ m, conversation: c, me, unread }: { m: Message; conversation: Conversation | null; me: string; unread: boolean }) {
  const where = c ? conversationTitle(c, me) : 'A conversation';
  const who = memberName(c, m.authorId, me);
  const href = conversationPath(m.conversationId);
  return (
    // The whole item opens the conversation; links inside the message text keep their own target.
    <li
      className={`mention-item ${unread ? 'unread' : ''}`}
      data-message-id={m.id}
      onClick={(e) => {
        if ((e.target as HTMLElement).closest('a, button')) return;
        navigate(href);
      }}
    >
      <Avatar id={m.authorId} name={who} url={c?.members.find((x) => x.userId === m.authorId)?.user.avatarUrl} size={32} kind={m.authorId === 'assistant' ? 'assistant' : 'user'} />
      <div className="mention-main">
        <div className="mention-top">
          <a
            href={href}
            className="mention-link"
            onClick={(e) => {
              if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
              e.preventDefault();
              navigate(href);
            }}
          >
            <strong>{who}</strong> <span className="mention-where">in {where}</span>
          </a>
          <time dateTime={m.createdAt}>{formatShort(m.createdAt)}</time>
          {unread && <span className="mention-new">New</span>}
        </div>
        <MentionText m={m} conversation={c} me={me} />
      </div>
    </li>
  );
}

/** The message as one plain line, its mentions highlighted (yours most). */
function MentionText({ m, conversation: c, me }: { m: Message; conversation: Conversation | null; me: string }) {
  // Whitespace folded (code fences stay, so code still mentions no one); the CSS clamps the lines.
  const text = m.content.replace(/\s+/g, ' ').trim();
  const segments = mentionSegments({ ...m, content: text.length > 600 ? `${text.slice(0, 599)}…` : text }, c?.members ?? [], me);
  return (
    <p className="mention-text">
      {segments.map((s, i) =>
        s.kind === 'text' ? (
          <span key={i}>{s.text}</span>
        ) : (
          <span key={i} className={s.me ? 'mention mention-me' : 'mention'}>
            {s.text}
          </span>
        ),
      )}
    </p>
  );
}

// Names as the sidebar shows them (conversations/helpers.ts, which this folder does not import:
// chat/ and conversations/ import it).
function conversationTitle(c: Conversation, me: string): string {
  if (c.type === 'direct') return c.members.find((x) => x.userId !== me)?.user.displayName ?? 'Direct message';
  return c.title ?? (c.type === 'assistant' ? 'AI chat' : 'Group');
}
function memberName(c: Conversation | null, userId: string, me: string): string {
  if (userId === me) return 'You';
  if (userId === 'assistant') return 'Assistant';
  return c?.members.find((x) => x.userId === userId)?.user.displayName ?? 'Someone';
}
