import type { Conversation } from '@confab/client';
import { useConversations } from '@confab/client/react';
import { navigate, useRoute } from '../state/router.ts';
import './mentions.css';

/** The sidebar's "@ 2" on a conversation with unread mentions of the caller (muted ones too, dimmed). */
export function MentionBadge({ conversation: c }: { conversation: Conversation }) {
  const n = c.unreadMentionCount ?? 0;
  if (n <= 0) return null;
  return (
    <span className={`badge mention-badge ${c.muted ? 'badge-muted' : ''}`} aria-label={`${n} unread mention${n === 1 ? '' : 's'}`} title="Unread mentions">
      @{n > 1 ? ` ${n > 99 ? '99+' : n}` : ''}
    </span>
  );
}

/** The sidebar's way to the Mentions view, with the unread mentions of all conversations. */
export function MentionsNavLink() {
  const route = useRoute();
  const conversations = useConversations();
  const unread = conversations.reduce((n, c) => n + (c.archived ? 0 : (c.unreadMentionCount ?? 0)), 0);
  const active = route.name === 'mentions';
  return (
    <div className="sidebar-views">
      <a
        href="/mentions"
        className={`sidebar-view-link ${active ? 'active' : ''}`}
        aria-current={active ? 'page' : undefined}
        onClick={(e) => {
          if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
          e.preventDefault();
          navigate('/mentions');
        }}
      >
        <span className="sidebar-view-icon" aria-hidden="true">
          @
        </span>
        <span className="sidebar-view-label">Mentions</span>
        {unread > 0 && (
          <span className="badge mention-badge" aria-label={`${unread} unread mention${unread === 1 ? '' : 's'}`}>
            {unread > 99 ? '99+' : unread}
          </span>
        )}
      </a>
    </div>
  );
}
