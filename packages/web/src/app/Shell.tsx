import { useConfabClient, useConversations } from '@confab/client/react';
import { useEffect, useRef, useState } from 'react';
import { ChannelDirectory } from '../channels/ChannelDirectory.tsx';
import { ConversationView } from '../chat/ConversationView.tsx';
import { Sidebar } from '../conversations/Sidebar.tsx';
import { SettingsView } from '../settings/SettingsView.tsx';
import { MentionsView } from '../mentions/MentionsView.tsx';
import { ErrorBoundary } from '../ui/ErrorBoundary.tsx';
import { toast } from '../ui/toast.tsx';
import { Icon } from '../ui/Icon.tsx';
import { ConnectionBanner } from './ConnectionBanner.tsx';
import { QuickSwitcher } from './QuickSwitcher.tsx';
import { conversationPath, navigate, threadPath, useRoute } from '../state/router.ts';
import { ThreadPanel } from '../threads/ThreadPanel.tsx';
import { ThreadsView } from '../threads/ThreadsView.tsx';
import { ThreadsNav } from '../threads/ThreadsNav.tsx';
import { AdminNavLink, AdminView } from '../admin/AdminView.tsx';

/**
 * The signed-in layout: sidebar and main pane side by side; below 768 px the sidebar is the home
 * screen and, inside a conversation, a drawer opened from the header.
 */
export function Shell() {
  const client = useConfabClient();
  const route = useRoute();
  const conversations = useConversations();
  const [drawer, setDrawer] = useState(false);
  const [switcher, setSwitcher] = useState(false);

  // Close the drawer whenever the place changes.
  useEffect(() => setDrawer(false), [route]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'k') {
        e.preventDefault();
        setSwitcher((s) => !s);
      } else if (e.key === 'Escape' && drawer) setDrawer(false);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [drawer]);

  // Unread count in the tab title.
  const unread = conversations.reduce((n, c) => n + (c.muted || c.archived ? 0 : c.unreadCount), 0);
  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) Confab` : 'Confab';
  }, [unread]);

  // A click on a push notification while the app is open (see public/sw.js).
  useEffect(() => {
    if (!('serviceWorker' in navigator)) return;
    const onMessage = (e: MessageEvent) => {
      const data = e.data as { type?: string; conversationId?: string | null } | null;
      if (data?.type === 'open' && data.conversationId) navigate(conversationPath(data.conversationId));
    };
    navigator.serviceWorker.addEventListener('message', onMessage);
    return () => navigator.serviceWorker.removeEventListener('message', onMessage);
  }, []);

  // "Your AI answer is ready" while the app is in view: a note with a way there, unless that
  // conversation is on screen (the answer is in sight). The server tells only the one who asked.
  const routeRef = useRef(route);
  routeRef.current = route;
  useEffect(
    () =>
      client.on('notification', (n) => {
        if (n.kind !== 'ai_answer' || document.visibilityState !== 'visible') return;
        const here = routeRef.current;
        if (here.name === 'conversation' && here.id === n.conversationId) return;
        if (client.getConversation(n.conversationId)?.muted) return;
        toast(n.title || 'Your AI answer is ready', 'info', { durationMs: 8000, action: { label: 'Open', run: () => navigate(conversationPath(n.conversationId)) } });
      }),
    [client],
  );

  // In-app notifications while the tab is hidden (web push covers the closed tab).
  useEffect(
    () =>
      client.on('notification', (n) => {
        if (document.visibilityState === 'visible' || typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
        const c = client.getConversation(n.conversationId);
        if (c?.muted) return;
        const note = new Notification(n.title || 'Confab', { body: n.body, tag: `conv-${n.conversationId}`, icon: '/favicon.svg' });
        note.onclick = () => {
          window.focus();
          navigate(n.threadRootId ? threadPath(n.conversationId, n.threadRootId) : conversationPath(n.conversationId));
          note.close();
        };
      }),
    [client],
  );

  const inConversation = route.name === 'conversation';
  const inSettings = route.name === 'settings' || route.name === 'channels' || route.name === 'mentions' || route.name === 'admin';
  return (
    <div className={`shell ${inConversation || inSettings || route.name === 'threads' ? 'shows-main' : 'shows-list'} ${drawer ? 'drawer-open' : ''}`}>
      <a className="skip-link" href="#main">
        Skip to conversation
      </a>
      <ConnectionBanner />
      <div className="shell-body">
        <aside className="sidebar" aria-label="Conversations">
          <ErrorBoundary kind="screen">
            <Sidebar activeId={inConversation ? route.id : null} onOpenSwitcher={() => setSwitcher(true)} onClose={() => setDrawer(false)} nav={
                <>
                  <ThreadsNav />
                  <AdminNavLink />
                </>
              }
            />
          </ErrorBoundary>
        </aside>
        {drawer && <div className="drawer-scrim" onClick={() => setDrawer(false)} aria-hidden="true" />}
        <main id="main" className="main" tabIndex={-1}>
          {/* One per screen, started afresh on every change of place. */}
          <ErrorBoundary kind="screen" resetKey={route}>
            {route.name === 'conversation' && (
              <div className={`conv-split ${route.thread ? 'with-thread' : ''}`}>
                <ConversationView key={route.id} id={route.id} onOpenDrawer={() => setDrawer(true)} />
                {route.thread && <ThreadPanel key={route.thread} conversationId={route.id} rootId={route.thread} />}
              </div>
            )}
            {route.name === 'threads' && <ThreadsView onOpenDrawer={() => setDrawer(true)} />}
            {route.name === 'settings' && <SettingsView section={route.section} onOpenDrawer={() => setDrawer(true)} />}
            {route.name === 'channels' && <ChannelDirectory onOpenDrawer={() => setDrawer(true)} />}
            {route.name === 'mentions' && <MentionsView onOpenDrawer={() => setDrawer(true)} />}
            {route.name === 'admin' && <AdminView section={route.section} onOpenDrawer={() => setDrawer(true)} />}
            {route.name === 'home' && <Welcome onSwitcher={() => setSwitcher(true)} />}
          </ErrorBoundary>
        </main>
      </div>
      {switcher && (
        <ErrorBoundary kind="screen">
          <QuickSwitcher onClose={() => setSwitcher(false)} />
        </ErrorBoundary>
      )}
    </div>
  );
}

function Welcome({ onSwitcher }: { onSwitcher: () => void }) {
  const mac = /Mac|iPhone|iPad/.test(navigator.platform);
  return (
    <div className="welcome">
      <div className="welcome-art" aria-hidden="true">
        <Icon name="sparkles" size={40} />
      </div>
      <h2>Welcome to Confab</h2>
      <p>Pick a conversation on the left, or start a new one with a person, a group or an AI assistant.</p>
      <button type="button" className="btn" onClick={onSwitcher}>
        <Icon name="search" /> Jump to a conversation <kbd>{mac ? '⌘' : 'Ctrl'} K</kbd>
      </button>
    </div>
  );
}
