import type { ChatMessage } from '@confab/client';
import { useChat } from './context.ts';
import { memberName } from '../conversations/helpers.ts';
import { formatShort } from '../lib/time.ts';
import { Avatar } from '../ui/Avatar.tsx';
import './threadChip.css';

/**
 * Under a message on the main line: its thread (reply count, who replied, when last), which opens
 * the thread; or, for a reply also sent to the channel, a link to the thread it belongs to.
 * Nothing inside a thread panel (there is no thread to open from there).
 */
export function ThreadChip({ m }: { m: ChatMessage }) {
  const chat = useChat();
  const open = chat.openThread;
  if (!open || !m.id) return null;
  if (m.threadRootId) {
    return (
      <button type="button" className="thread-chip thread-chip-small" onClick={() => open(m)}>
        Replied in a thread · <span className="thread-chip-link">View thread</span>
      </button>
    );
  }
  const t = m.thread;
  if (!t || t.replyCount === 0) return null;
  const shown = t.participantIds.slice(-3);
  const names = t.participantIds.map((id) => memberName(chat.conversation, id, chat.me));
  const label = `${t.replyCount} ${t.replyCount === 1 ? 'reply' : 'replies'}`;
  return (
    <button type="button" className="thread-chip" onClick={() => open(m)} aria-label={`${label} from ${names.join(', ')}: open the thread`} data-testid="thread-chip">
      <span className="thread-avatars" aria-hidden="true">
        {shown.map((id) => {
          const member = chat.conversation?.members.find((x) => x.userId === id);
          return <Avatar key={id} id={id} name={memberName(chat.conversation, id, null)} url={member?.user.avatarUrl} size={20} />;
        })}
      </span>
      <span className="thread-chip-count">{label}</span>
      {t.lastReplyAt && <span className="thread-chip-time">Last reply {formatShort(t.lastReplyAt)}</span>}
    </button>
  );
}
