import { useThreads } from '@confab/client/react';
import { navigate, useRoute } from '../state/router.ts';
import { Icon } from '../ui/Icon.tsx';
import './threads.css';

/** The sidebar's way to the Threads view, with the unread replies of followed threads. */
export function ThreadsNav() {
  const route = useRoute();
  const { threads } = useThreads();
  const unread = (threads ?? []).reduce((n, t) => n + t.unreadCount, 0);
  const active = route.name === 'threads';
  return (
    <div className="threads-nav">
      <button
        type="button"
        className={`threads-nav-btn ${active ? 'active' : ''}`}
        aria-current={active ? 'page' : undefined}
        onClick={() => navigate('/threads')}
        aria-label={unread > 0 ? `Threads, ${unread} unread` : 'Threads'}
      >
        <Icon name="thread" size={18} />
        <span>Threads</span>
        {unread > 0 && <span className="badge">{unread}</span>}
      </button>
    </div>
  );
}
