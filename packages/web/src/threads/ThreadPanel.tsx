import { ConfabError, type ChatMessage } from '@confab/client';
import { useConfabClient, useConversations, useThread, useThreads } from '@confab/client/react';
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { aiControls } from '../chat/ai.ts';
import { ChatContext, type ChatContextValue } from '../chat/context.ts';
import { MessageRow } from '../chat/MessageItem.tsx';
import { conversationTitle, messageKey } from '../conversations/helpers.ts';
import { humanError } from '../lib/errors.ts';
import { useMe } from '../state/me.tsx';
import { conversationPath, navigate } from '../state/router.ts';
import { Icon } from '../ui/Icon.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { toast } from '../ui/toast.tsx';
import './threads.css';

/**
 * One thread beside its conversation (a full screen with Back on a phone): the root, the replies
 * (older ones paged in), and a composer of its own with "Also send to channel". Messages are the
 * conversation's own rows (reactions, edit, delete), without "Reply in thread" inside a thread.
 */
export function ThreadPanel({ conversationId, rootId }: { conversationId: string; rootId: string }) {
  const client = useConfabClient();
  const { me } = useMe();
  const conversation = useConversations().find((c) => c.id === conversationId) ?? null;
  const { root, replies, hasMore, loadingOlder, loadOlder, error } = useThread(conversationId, rootId);
  const followed = useThreads();
  const following = followed.threads ? followed.threads.some((t) => t.root.id === rootId) : null;
  const [editingKey, setEditingKey] = useState<string | null>(null);
  const composer = useRef<HTMLTextAreaElement>(null);
  const scroller = useRef<HTMLDivElement>(null);
  const ai = useMemo(() => aiControls(client), [client]);
  const close = useCallback(() => navigate(conversationPath(conversationId)), [conversationId]);

  const byId = useMemo(() => {
    const map = new Map<string, ChatMessage>();
    if (root) map.set(rootId, root);
    for (const m of replies) if (m.id) map.set(m.id, m);
    return map;
  }, [root, replies, rootId]);
  const startEdit = useCallback((m: ChatMessage) => setEditingKey(messageKey(m)), []);
  const stopEdit = useCallback(() => {
    setEditingKey(null);
    composer.current?.focus();
  }, []);
  const reply = useCallback(() => composer.current?.focus(), []);
  const jumpTo = useCallback((messageId: string) => {
    scroller.current?.querySelector(`[data-message-id="${CSS.escape(messageId)}"]`)?.scrollIntoView({ block: 'center', behavior: 'smooth' });
  }, []);
  const canModerate = conversation ? ['owner', 'admin', 'moderator'].includes(conversation.role) : false;
  const ctx: ChatContextValue = useMemo(
    () => ({ conversation, me: me.id, canModerate, ai, editingKey, startEdit, stopEdit, reply, jumpTo, byId }),
    [conversation, me.id, canModerate, ai, editingKey, startEdit, stopEdit, reply, jumpTo, byId],
  );

  // Esc closes the thread (an edit in progress takes its own Esc first).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && !e.defaultPrevented && editingKey === null && !document.querySelector('.modal-backdrop')) close();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [close, editingKey]);

  useEffect(() => {
    composer.current?.focus();
  }, [rootId]);

  // Follow new replies when the reader is at the bottom (and always after their own).
  const atBottom = useRef(true);
  useLayoutEffect(() => {
    const el = scroller.current;
    const last = replies.at(-1);
    if (el && (atBottom.current || (last && last.authorId === me.id && last.id === null))) el.scrollTop = el.scrollHeight;
  }, [replies, me.id]);

  // The latest reply on screen, while the tab is visible, counts as read (the Threads list's unread count).
  const lastOther = useMemo(() => [...replies].reverse().find((m) => m.id !== null && m.authorId !== me.id) ?? null, [replies, me.id]);
  const marked = useRef<string | null>(null);
  useEffect(() => {
    if (!lastOther?.id) return;
    const mark = () => {
      if (document.visibilityState !== 'visible' || !lastOther.id || marked.current === lastOther.id) return;
      marked.current = lastOther.id;
      client.markRead(lastOther.id).catch(() => {
        marked.current = null;
      });
    };
    mark();
    document.addEventListener('visibilitychange', mark);
    return () => document.removeEventListener('visibilitychange', mark);
  }, [client, lastOther]);

  const toggleFollow = () => {
    if (following === null) return;
    client.follow(rootId, !following).then(
      (r) => toast(r.following ? 'You follow this thread: new replies show in Threads.' : 'You no longer follow this thread.'),
      (e: unknown) => toast(humanError(e), 'error'),
    );
  };

  const notFound = error instanceof ConfabError && error.code === 'NOT_FOUND';
  const title = conversation ? conversationTitle(conversation, me.id) : '';
  const n = root?.thread?.replyCount ?? replies.filter((m) => m.id !== null && !m.deletedAt).length;

  return (
    <ChatContext.Provider value={ctx}>
      <aside className="thread-panel" aria-label="Thread" data-testid="thread-panel">
        <header className="thread-head">
          <button type="button" className="icon-btn thread-back" aria-label="Back to the conversation" onClick={close}>
            <Icon name="back" size={20} />
          </button>
          <div className="thread-head-text">
            <h2>Thread</h2>
            {title && <span className="thread-head-sub">{title}</span>}
          </div>
          <button
            type="button"
            className="btn btn-small thread-follow"
            aria-pressed={following ?? false}
            disabled={following === null || notFound}
            onClick={toggleFollow}
            title={following ? 'Stop getting this thread’s replies in Threads' : 'Get this thread’s replies in Threads'}
          >
            <Icon name={following ? 'bellOff' : 'bell'} size={14} /> {following ? 'Unfollow' : 'Follow'}
          </button>
          <button type="button" className="icon-btn thread-close" aria-label="Close the thread" title="Close (Esc)" onClick={close}>
            <Icon name="close" />
          </button>
        </header>
        <div
          className="thread-scroll"
          ref={scroller}
          onScroll={(e) => {
            const el = e.currentTarget;
            atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 60;
          }}
        >
          {notFound ? (
            <div className="thread-empty" role="alert">
              <h3>This thread is not available</h3>
              <p>The message may have been deleted with its conversation, or you are no longer a member.</p>
              <button type="button" className="btn" onClick={close}>
                Back to the conversation
              </button>
            </div>
          ) : (
            <>
              {root ? (
                <div className="thread-root">
                  <MessageRow m={root} prev={undefined} next={undefined} receipt={null} />
                </div>
              ) : (
                <div className="thread-loading" aria-busy="true">
                  <Spinner label="Loading the thread" />
                </div>
              )}
              <div className="thread-divider" role="separator">
                <span>{n === 0 ? 'No replies yet' : `${n} ${n === 1 ? 'reply' : 'replies'}`}</span>
              </div>
              {error !== null && !notFound && (
                <div className="thread-error" role="alert">
                  Could not load the replies: {humanError(error)}{' '}
                  <button type="button" className="link-btn" onClick={() => void loadOlder().catch(() => {})}>
                    Try again
                  </button>
                </div>
              )}
              {hasMore && error === null && (
                <div className="thread-older">
                  {loadingOlder ? (
                    <Spinner label="Loading replies" />
                  ) : (
                    <button type="button" className="link-btn" onClick={() => void loadOlder().catch((e: unknown) => toast(humanError(e), 'error'))}>
                      Show earlier replies
                    </button>
                  )}
                </div>
              )}
              <div className="thread-replies">
                {replies.map((m, i) => (
                  <MessageRow key={messageKey(m)} m={m} prev={replies[i - 1]} next={replies[i + 1]} receipt={null} />
                ))}
              </div>
              {!hasMore && replies.length === 0 && root && <p className="thread-hint">Start the thread: your reply shows here, and the people in it are told.</p>}
            </>
          )}
        </div>
        {!notFound && <ThreadComposer conversationId={conversationId} rootId={rootId} inputRef={composer} onSent={() => {
              atBottom.current = true;
            }} />}
      </aside>
    </ChatContext.Provider>
  );
}

function ThreadComposer({
  conversationId,
  rootId,
  inputRef,
  onSent,
}: {
  conversationId: string;
  rootId: string;
  inputRef: React.RefObject<HTMLTextAreaElement | null>;
  onSent: () => void;
}) {
  const client = useConfabClient();
  const [text, setText] = useState('');
  const [alsoToChannel, setAlsoToChannel] = useState(false);
  const send = () => {
    const content = text.trim();
    if (!content) return;
    try {
      client.send(conversationId, { content, threadRootId: rootId, ...(alsoToChannel ? { alsoToChannel: true } : {}) });
    } catch (e) {
      toast(humanError(e), 'error');
      return;
    }
    setText('');
    setAlsoToChannel(false);
    onSent();
  };
  return (
    <div className="composer-wrap thread-composer">
      <form
        className="composer"
        onSubmit={(e) => {
          e.preventDefault();
          send();
        }}
      >
        <textarea
          ref={inputRef}
          className="composer-input"
          aria-label="Reply in thread"
          placeholder="Reply in thread…"
          rows={1}
          value={text}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
              e.preventDefault();
              send();
            }
          }}
        />
        <button type="submit" className="send-btn" aria-label="Send reply" title="Send (Enter)" disabled={!text.trim()}>
          <Icon name="send" size={18} />
        </button>
      </form>
      <label className="thread-also">
        <input type="checkbox" checked={alsoToChannel} onChange={(e) => setAlsoToChannel(e.target.checked)} /> Also send to channel
      </label>
    </div>
  );
}
