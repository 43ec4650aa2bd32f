import type { ThreadListItem } from '@confab/client';
import { useConfabClient, useConversations, useThreads } from '@confab/client/react';
import { conversationTitle, memberName } from '../conversations/helpers.ts';
import { humanError } from '../lib/errors.ts';
import { plainPreview } from '../lib/markdown.ts';
import { formatShort } from '../lib/time.ts';
import { useMe } from '../state/me.tsx';
import { navigate, threadPath } from '../state/router.ts';
import { Avatar } from '../ui/Avatar.tsx';
import { Icon } from '../ui/Icon.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { toast } from '../ui/toast.tsx';
import './threads.css';
import { DrawerButton } from '../ui/DrawerButton.tsx';

/** "Threads": the threads the user follows, the latest reply first, with their unread replies. */
export function ThreadsView({ onOpenDrawer }: { onOpenDrawer: () => void }) {
  const client = useConfabClient();
  const { threads, hasMore, loading, error } = useThreads();
  return (
    <div className="threads-view">
      <header className="conv-header">
        <DrawerButton onOpenDrawer={onOpenDrawer} />
        <h1 className="threads-title">
          <Icon name="thread" size={20} /> Threads
        </h1>
        {loading && threads !== null && <Spinner label="Updating" />}
      </header>
      <div className="threads-body">
        {threads === null && !error && <ThreadsSkeleton />}
        {threads === null && error !== null && (
          <div className="thread-empty" role="alert">
            <h3>Could not load your threads</h3>
            <p>{humanError(error)}</p>
            <button type="button" className="btn" onClick={() => void client.refreshThreads()}>
              Try again
            </button>
          </div>
        )}
        {threads !== null && threads.length === 0 && (
          <div className="thread-empty">
            <div className="welcome-art" aria-hidden="true">
              <Icon name="thread" size={32} />
            </div>
            <h3>No threads yet</h3>
            <p>Reply in a thread, or follow one, and it shows here with its new replies.</p>
          </div>
        )}
        {threads !== null && threads.length > 0 && (
          <ul className="threads-list" aria-label="Followed threads">
            {threads.map((t) => (
              <ThreadItem key={t.root.id} t={t} />
            ))}
          </ul>
        )}
        {hasMore && (
          <div className="thread-older">
            <button
              type="button"
              className="btn btn-small"
              disabled={loading}
              onClick={() => void client.loadMoreThreads().catch((e: unknown) => toast(humanError(e), 'error'))}
            >
              Show more threads
            </button>
          </div>
        )}
      </div>
    </div>
  );
}

function ThreadItem({ t }: { t: ThreadListItem }) {
  const { me } = useMe();
  const conversation = useConversations().find((c) => c.id === t.conversationId) ?? null;
  const where = conversation ? conversationTitle(conversation, me.id) : 'A conversation';
  const author = memberName(conversation, t.root.authorId, me.id);
  const summary = t.root.thread;
  const replies = summary?.replyCount ?? 0;
  const text = t.root.deletedAt ? 'This message was deleted' : plainPreview(t.root.content, 140) || 'Attachment';
  return (
    <li>
      <button
        type="button"
        className={`thread-item ${t.unreadCount > 0 ? 'unread' : ''}`}
        onClick={() => navigate(threadPath(t.conversationId, t.root.id))}
        aria-label={`Thread in ${where}: ${author}: ${text}. ${replies} ${replies === 1 ? 'reply' : 'replies'}${t.unreadCount > 0 ? `, ${t.unreadCount} unread` : ''}`}
        data-testid="thread-item"
      >
        <span className="thread-item-top">
          <span className="thread-item-where">{where}</span>
          {summary?.lastReplyAt && <time dateTime={summary.lastReplyAt}>{formatShort(summary.lastReplyAt)}</time>}
        </span>
        <span className="thread-item-root">
          <strong>{author}:</strong> {text}
        </span>
        <span className="thread-item-bottom">
          <span className="thread-avatars" aria-hidden="true">
            {(summary?.participantIds ?? []).slice(-4).map((id) => (
              <Avatar key={id} id={id} name={memberName(conversation, id, null)} size={20} />
            ))}
          </span>
          <span className="thread-item-count">{replies === 0 ? 'No replies yet' : `${replies} ${replies === 1 ? 'reply' : 'replies'}`}</span>
          {t.unreadCount > 0 && (
            <span className="badge" data-testid="thread-unread">
              {t.unreadCount}
            </span>
          )}
        </span>
      </button>
    </li>
  );
}

function ThreadsSkeleton() {
  return (
    <div className="threads-list" aria-busy="true" aria-label="Loading threads">
      {[0, 1, 2].map((i) => (
        <div key={i} className="thread-item sk-item">
          <span className="sk sk-line" style={{ width: '30%' }} />
          <span className="sk sk-line" style={{ width: '80%' }} />
          <span className="sk sk-line" style={{ width: '20%' }} />
        </div>
      ))}
    </div>
  );
}
