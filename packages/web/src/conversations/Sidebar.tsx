import type { Conversation, Message, Presence } from '@confab/client';
import { useConfabClient, useConnection, useConversations, usePresence } from '@confab/client/react';
import type { Project, SearchResult } from '@confab/protocol';
import { memo, useEffect, useMemo, useState } from 'react';
import { useMe } from '../state/me.tsx';
import { conversationPath, navigate } from '../state/router.ts';
import { plainPreview } from '../lib/markdown.ts';
import { humanError } from '../lib/errors.ts';
import { formatShort } from '../lib/time.ts';
import { Avatar } from '../ui/Avatar.tsx';
import { Icon } from '../ui/Icon.tsx';
import { Menu, type MenuItem } from '../ui/Menu.tsx';
import { Modal } from '../ui/Modal.tsx';
import { PromptDialog } from '../ui/PromptDialog.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { toast } from '../ui/toast.tsx';
import { deleteOrLeave, patchConversation } from './actions.ts';
import { conversationTitle, directPeer, memberName, messagePreview } from './helpers.ts';
import { NewChatDialog, type NewChatKind } from './NewChatDialog.tsx';
import { useProjects } from './projects.ts';
import { MentionBadge, MentionsNavLink } from '../mentions/MentionBadge.tsx';
import { confirmDialog } from '../ui/confirm.tsx';
import { BrowseChannelsLink } from './BrowseChannelsLink.tsx';

const FOLDERS_KEY = 'confab.folders.collapsed';

export function Sidebar({
  activeId,
  onOpenSwitcher,
  onClose,
  nav,
}: {
  activeId: string | null;
  onOpenSwitcher: () => void;
  onClose: () => void;
  /** Places above the conversation list (the Threads entry, from threads/). */
  nav?: React.ReactNode;
}) {
  const client = useConfabClient();
  const { me, signOut } = useMe();
  const conversations = useConversations();
  const connection = useConnection();
  const { projects, create: createProject, remove: removeProject } = useProjects(client);
  const [newChat, setNewChat] = useState<NewChatKind | null>(null);
  const [query, setQuery] = useState('');
  const [loaded, setLoaded] = useState(conversations.length > 0);
  const [collapsed, setCollapsed] = useState<Record<string, boolean>>(() => {
    try {
      return JSON.parse(localStorage.getItem(FOLDERS_KEY) ?? '{"archived":true}') as Record<string, boolean>;
    } catch {
      return { archived: true };
    }
  });
  const [moving, setMoving] = useState<Conversation | null>(null);
  // undefined: closed; null: a new folder; a conversation: a new folder, then move it there.
  const [folderFor, setFolderFor] = useState<Conversation | null | undefined>(undefined);

  useEffect(() => {
    if (loaded) return;
    let done = false;
    const finish = () => !done && ((done = true), setLoaded(true));
    void client.idle().then(finish);
    const t = window.setTimeout(finish, 4000);
    return () => window.clearTimeout(t);
  }, [client, loaded]);
  useEffect(() => {
    if (conversations.length > 0) setLoaded(true);
  }, [conversations.length]);

  const peerIds = useMemo(() => conversations.map((c) => directPeer(c, me.id)?.userId).filter((x): x is string => Boolean(x)), [conversations, me.id]);
  const presence = usePresence(peerIds);

  const toggle = (key: string) =>
    setCollapsed((c) => {
      const next = { ...c, [key]: !c[key] };
      localStorage.setItem(FOLDERS_KEY, JSON.stringify(next));
      return next;
    });

  const q = query.trim().toLowerCase();
  const visible = q ? conversations.filter((c) => conversationTitle(c, me.id).toLowerCase().includes(q)) : conversations;
  const active = visible.filter((c) => !c.archived);
  const pinned = active.filter((c) => c.pinned);
  const byProject = new Map<string, Conversation[]>();
  const rest: Conversation[] = [];
  for (const c of active) {
    if (c.pinned) continue;
    if (c.projectId && projects.some((p) => p.id === c.projectId)) {
      const list = byProject.get(c.projectId) ?? [];
      list.push(c);
      byProject.set(c.projectId, list);
    } else rest.push(c);
  }
  const archived = visible.filter((c) => c.archived);

  const row = (c: Conversation) => (
    <ConversationRow
      key={c.id}
      c={c}
      me={me.id}
      active={c.id === activeId}
      presence={presence[directPeer(c, me.id)?.userId ?? '']?.status}
      projects={projects}
      onMove={() => setMoving(c)}
    />
  );

  return (
    <div className="sidebar-inner">
      <div className="sidebar-head">
        <div className="brand">
          <img src="/favicon.svg" alt="" width={26} height={26} />
          <span>Confab</span>
        </div>
        <Menu
          label="New chat"
          className="new-chat-menu"
          button={<Icon name="plus" size={20} />}
          items={[
            { label: 'New message', icon: <Icon name="user" />, onSelect: () => setNewChat('direct') },
            { label: 'New group', icon: <Icon name="users" />, onSelect: () => setNewChat('group') },
            { label: 'Browse channels', icon: <Icon name="search" />, onSelect: () => navigate('/channels') },
            { label: 'New AI chat', icon: <Icon name="sparkles" />, onSelect: () => setNewChat('assistant') },
            {
              label: 'New folder',
              icon: <Icon name="folder" />,
              onSelect: () => setFolderFor(null),
            },
          ]}
        />
        <button type="button" className="icon-btn close-drawer" aria-label="Close conversation list" onClick={onClose}>
          <Icon name="close" />
        </button>
      </div>
      <div className="sidebar-search">
        <Icon name="search" size={16} />
        <input
          type="search"
          aria-label="Search conversations and messages"
          placeholder="Search"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          onKeyDown={(e) => e.key === 'Escape' && setQuery('')}
        />
        <button type="button" className="kbd-hint" onClick={onOpenSwitcher} aria-label="Open the quick switcher" title="Quick switcher">
          <kbd>{/Mac|iPhone|iPad/.test(navigator.platform) ? '⌘K' : 'Ctrl K'}</kbd>
        </button>
      </div>
      <BrowseChannelsLink />
      <MentionsNavLink />
      {nav}
      <nav className="conv-list" aria-label="Conversation list">
        {!loaded && conversations.length === 0 && <ListSkeleton />}
        {loaded && conversations.length === 0 && !q && connection !== 'online' && (
          <div className="empty-list">
            <p>Your conversations will appear here as soon as Confab can reach the server.</p>
          </div>
        )}
        {loaded && conversations.length === 0 && !q && connection === 'online' && (
          <div className="empty-list">
            <p>No conversations yet.</p>
            <button type="button" className="btn btn-primary" onClick={() => setNewChat('direct')}>
              Message someone
            </button>
            <button type="button" className="btn" onClick={() => setNewChat('assistant')}>
              <Icon name="sparkles" /> Ask the AI assistant
            </button>
          </div>
        )}
        {pinned.length > 0 && (
          <Section title="Pinned" id="pinned" collapsed={!!collapsed.pinned} onToggle={toggle}>
            {pinned.map(row)}
          </Section>
        )}
        {projects.map((p) => (
          <Section
            key={p.id}
            id={p.id}
            title={p.name}
            folder
            collapsed={!!collapsed[p.id]}
            onToggle={toggle}
            onDelete={() => {
              void confirmDialog({ title: `Delete the folder “${p.name}”?`, body: 'Its conversations stay, outside any folder.', confirm: 'Delete folder', danger: true }).then((ok) => {
                if (ok) removeProject(p.id).catch((e: unknown) => toast(humanError(e), 'error'));
              });
            }}
          >
            {(byProject.get(p.id) ?? []).map(row)}
            {(byProject.get(p.id) ?? []).length === 0 && <p className="folder-empty">Empty folder: move conversations here from their ⋯ menu.</p>}
          </Section>
        ))}
        {rest.length > 0 && (pinned.length > 0 || projects.length > 0) ? (
          <Section title="Conversations" id="all" collapsed={!!collapsed.all} onToggle={toggle}>
            {rest.map(row)}
          </Section>
        ) : (
          rest.map(row)
        )}
        {archived.length > 0 && (
          <Section title={`Archived (${archived.length})`} id="archived" collapsed={!!collapsed.archived} onToggle={toggle}>
            {archived.map(row)}
          </Section>
        )}
        {q && <SearchResults query={q} onPick={() => setQuery('')} />}
      </nav>
      <div className="sidebar-foot">
        <Avatar id={me.id} name={me.displayName} url={me.avatarUrl} size={32} presence="online" />
        <div className="me-names">
          <strong>{me.displayName}</strong>
          <span>@{me.handle}</span>
        </div>
        <button type="button" className="icon-btn" aria-label="Settings" title="Settings" onClick={() => navigate('/settings')}>
          <Icon name="settings" />
        </button>
        <button type="button" className="icon-btn" aria-label="Sign out" title="Sign out" onClick={() => void signOut()}>
          <Icon name="logout" />
        </button>
      </div>
      {folderFor !== undefined && (
        <PromptDialog
          title="New folder"
          label="Folder name"
          submit="Create folder"
          onClose={() => setFolderFor(undefined)}
          onSubmit={(name) => {
            const target = folderFor;
            createProject(name).then(
              (p) => target && patchConversation(client, target.id, { projectId: p.id }),
              (e: unknown) => toast(humanError(e), 'error'),
            );
          }}
        />
      )}
      {newChat && <NewChatDialog initial={newChat} onClose={() => setNewChat(null)} />}
      {moving && (
        <Modal title="Move to folder" onClose={() => setMoving(null)}>
          <div className="stack">
            {projects.map((p) => (
              <button
                key={p.id}
                type="button"
                className={`btn btn-block ${moving.projectId === p.id ? 'btn-primary' : ''}`}
                onClick={() => {
                  void patchConversation(client, moving.id, { projectId: p.id });
                  setMoving(null);
                }}
              >
                <Icon name="folder" /> {p.name}
              </button>
            ))}
            {moving.projectId && (
              <button
                type="button"
                className="btn btn-block"
                onClick={() => {
                  void patchConversation(client, moving.id, { projectId: null });
                  setMoving(null);
                }}
              >
                Remove from folder
              </button>
            )}
            <button
              type="button"
              className="btn btn-block"
              onClick={() => {
                setFolderFor(moving);
                setMoving(null);
              }}
            >
              <Icon name="plus" /> New folder…
            </button>
          </div>
        </Modal>
      )}
    </div>
  );
}

function Section({
  id,
  title,
  collapsed,
  onToggle,
  children,
  folder = false,
  onDelete,
}: {
  id: string;
  title: string;
  collapsed: boolean;
  onToggle: (id: string) => void;
  children: React.ReactNode;
  folder?: boolean;
  onDelete?: () => void;
}) {
  return (
    <section className="conv-section">
      <div className="section-head">
        <button type="button" className="section-toggle" aria-expanded={!collapsed} onClick={() => onToggle(id)}>
          <Icon name="chevron" size={14} className={collapsed ? '' : 'rot90'} />
          {folder && <Icon name="folder" size={15} />}
          <span>{title}</span>
        </button>
        {onDelete && (
          <button type="button" className="icon-btn tiny" aria-label={`Delete folder ${title}`} title="Delete folder" onClick={onDelete}>
            <Icon name="trash" size={14} />
          </button>
        )}
      </div>
      {!collapsed && <div className="section-body">{children}</div>}
    </section>
  );
}

const ConversationRow = memo(function ConversationRow({
  c,
  me,
  active,
  presence,
  projects,
  onMove,
}: {
  c: Conversation;
  me: string;
  active: boolean;
  presence: Presence['status'] | undefined;
  projects: Project[];
  onMove: () => void;
}) {
  const client = useConfabClient();
  const title = conversationTitle(c, me);
  const peer = directPeer(c, me);
  const href = conversationPath(c.id);
  const owner = c.role === 'owner';
  const items: MenuItem[] = [
    { label: c.pinned ? 'Unpin' : 'Pin to top', icon: <Icon name="pin" />, onSelect: () => void patchConversation(client, c.id, { pinned: !c.pinned }) },
    { label: c.muted ? 'Unmute' : 'Mute', icon: <Icon name={c.muted ? 'bell' : 'bellOff'} />, onSelect: () => void patchConversation(client, c.id, { muted: !c.muted }) },
    { label: projects.length ? 'Move to folder…' : 'Add to a folder…', icon: <Icon name="folder" />, onSelect: onMove },
    { label: c.archived ? 'Unarchive' : 'Archive', icon: <Icon name="archive" />, onSelect: () => void patchConversation(client, c.id, { archived: !c.archived }) },
  ];
  if (c.type !== 'direct') {
    items.push({
      label: owner ? 'Delete conversation' : 'Leave conversation',
      icon: <Icon name="trash" />,
      danger: true,
      onSelect: () => {
        void confirmDialog(
          owner
            ? { title: `Delete “${title}”?`, body: "It is deleted for everyone, with all its messages. This can't be undone.", confirm: 'Delete for everyone', danger: true }
            : { title: `Leave “${title}”?`, body: 'You will need to be added again to come back.', confirm: 'Leave', danger: true },
        ).then((yes) => yes && deleteOrLeave(client, c.id).then((ok) => ok && active && navigate('/')));
      },
    });
  }
  const time = c.lastMessage?.createdAt ?? c.lastActivityAt;
  return (
    <div className={`conv-row ${active ? 'active' : ''} ${c.unreadCount > 0 && !c.muted ? 'unread' : ''}`} data-conversation-id={c.id}>
      <a
        href={href}
        className="conv-link"
        aria-current={active ? 'page' : undefined}
        onClick={(e) => {
          if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
          e.preventDefault();
          navigate(href);
        }}
      >
        <Avatar
          id={peer?.userId ?? c.id}
          name={title}
          url={peer?.user.avatarUrl}
          kind={c.type === 'assistant' ? 'assistant' : c.type === 'group' ? 'group' : 'user'}
          presence={c.type === 'direct' ? presence : undefined}
          size={40}
        />
        <span className="conv-main">
          <span className="conv-top">
            <span className="conv-title">
              {c.pinned && <Icon name="pin" size={12} className="muted-icon" />}
              {title}
            </span>
            <time dateTime={time}>{formatShort(time)}</time>
          </span>
          <span className="conv-bottom">
            <span className="conv-preview">
              {c.generating ? (
                <span className="generating">
                  <Spinner size={12} /> Answering…
                </span>
              ) : !active && c.draft?.trim() ? (
                <>
                  <span className="draft-label">Draft:</span> {c.draft.trim().replace(/\s+/g, ' ').slice(0, 80)}
                </>
              ) : (
                messagePreview(c, me)
              )}
            </span>
            {c.muted && <Icon name="bellOff" size={14} className="muted-icon" />}
            <MentionBadge conversation={c} />
            {c.unreadCount > 0 && (
              <span className={`badge ${c.muted ? 'badge-muted' : ''}`} aria-label={`${c.unreadCount} unread`}>
                {c.unreadCount > 99 ? '99+' : c.unreadCount}
              </span>
            )}
          </span>
        </span>
      </a>
      <Menu label={`Options for ${title}`} className="conv-menu" button={<Icon name="more" />} items={items} />
    </div>
  );
});

function ListSkeleton() {
  return (
    <div className="skeleton-list" aria-busy="true" aria-label="Loading conversations">
      {Array.from({ length: 7 }, (_, i) => (
        <div className="skeleton-row" key={i}>
          <span className="sk sk-avatar" />
          <span className="sk-lines">
            <span className="sk sk-line" style={{ width: `${50 + ((i * 13) % 35)}%` }} />
            <span className="sk sk-line short" style={{ width: `${35 + ((i * 17) % 45)}%` }} />
          </span>
        </div>
      ))}
    </div>
  );
}

/** Message text search goes to the server (GET /api/search); titles are matched locally above. */
function SearchResults({ query, onPick }: { query: string; onPick: () => void }) {
  const client = useConfabClient();
  const { me } = useMe();
  const [result, setResult] = useState<SearchResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (query.length < 2) {
      setResult(null);
      return;
    }
    let cancelled = false;
    const t = window.setTimeout(() => {
      client.api.search({ query, limit: 20 }).then(
        (r) => !cancelled && (setResult(r), setError(null)),
        (e: unknown) => !cancelled && setError(humanError(e)),
      );
    }, 250);
    return () => {
      cancelled = true;
      window.clearTimeout(t);
    };
  }, [client, query]);
  if (query.length < 2) return null;
  const messages: Message[] = result?.messages ?? [];
  return (
    <section className="conv-section search-results" aria-label="Messages found">
      <div className="section-head">
        <span className="section-label">Messages</span>
      </div>
      {!result && !error && (
        <p className="folder-empty">
          <Spinner size={12} /> Searching…
        </p>
      )}
      {error && <p className="folder-empty">{error}</p>}
      {result && messages.length === 0 && <p className="folder-empty">No messages match “{query}”.</p>}
      {messages.map((m) => {
        const c = client.getConversation(m.conversationId);
        return (
          <a
            key={m.id}
            href={conversationPath(m.conversationId, m.seq)}
            className="search-hit"
            onClick={(e) => {
              e.preventDefault();
              onPick();
              navigate(conversationPath(m.conversationId, m.seq));
            }}
          >
            <span className="search-hit-top">
              <strong>{c ? conversationTitle(c, me.id) : 'Conversation'}</strong>
              <time dateTime={m.createdAt}>{formatShort(m.createdAt)}</time>
            </span>
            <span className="search-hit-text">
              {memberName(c, m.authorId, me.id)}: {plainPreview(m.content, 100)}
            </span>
          </a>
        );
      })}
    </section>
  );
}
