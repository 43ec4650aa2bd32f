import { useConversations } from '@confab/client/react';
import { useMemo, useState } from 'react';
import { conversationTitle, directPeer } from '../conversations/helpers.ts';
import { Avatar } from '../ui/Avatar.tsx';
import { Modal } from '../ui/Modal.tsx';
import { useMe } from '../state/me.tsx';
import { conversationPath, navigate } from '../state/router.ts';

/** Ctrl/Cmd+K: type a few letters of a conversation's name, Enter to open it. */
export function QuickSwitcher({ onClose }: { onClose: () => void }) {
  const { me } = useMe();
  const conversations = useConversations();
  const [query, setQuery] = useState('');
  const [index, setIndex] = useState(0);
  const results = useMemo(() => {
    const q = query.trim().toLowerCase();
    const all = conversations.map((c) => ({ c, title: conversationTitle(c, me.id) }));
    if (!q) return all.slice(0, 12);
    return all
      .map((r) => ({ ...r, score: r.title.toLowerCase().startsWith(q) ? 0 : r.title.toLowerCase().includes(q) ? 1 : 2 }))
      .filter((r) => r.score < 2)
      .sort((a, b) => a.score - b.score)
      .slice(0, 12);
  }, [conversations, query, me.id]);

  const open = (id: string) => {
    onClose();
    navigate(conversationPath(id));
  };

  return (
    <Modal onClose={onClose} className="switcher" title="Jump to a conversation">
      <input
        className="switcher-input"
        aria-label="Conversation name"
        placeholder="Type a name…"
        value={query}
        role="combobox"
        aria-expanded="true"
        aria-controls="switcher-list"
        aria-activedescendant={results[index] ? `sw-${results[index].c.id}` : undefined}
        onChange={(e) => {
          setQuery(e.target.value);
          setIndex(0);
        }}
        onKeyDown={(e) => {
          if (e.key === 'ArrowDown') {
            e.preventDefault();
            setIndex((i) => Math.min(i + 1, results.length - 1));
          } else if (e.key === 'ArrowUp') {
            e.preventDefault();
            setIndex((i) => Math.max(i - 1, 0));
          } else if (e.key === 'Enter' && results[index]) {
            e.preventDefault();
            open(results[index].c.id);
          }
        }}
      />
      <ul className="switcher-list" id="switcher-list" role="listbox" aria-label="Conversations">
        {results.length === 0 && <li className="empty-note">No conversation matches “{query}”.</li>}
        {results.map((r, i) => (
          <li
            key={r.c.id}
            id={`sw-${r.c.id}`}
            role="option"
            aria-selected={i === index}
            className={i === index ? 'active' : ''}
            onMouseEnter={() => setIndex(i)}
            onClick={() => open(r.c.id)}
          >
            <Avatar id={directPeer(r.c, me.id)?.userId ?? r.c.id} name={r.title} size={28} kind={r.c.type === 'assistant' ? 'assistant' : r.c.type === 'group' ? 'group' : 'user'} />
            <span>{r.title}</span>
            {r.c.unreadCount > 0 && <span className="badge">{r.c.unreadCount}</span>}
          </li>
        ))}
      </ul>
    </Modal>
  );
}
