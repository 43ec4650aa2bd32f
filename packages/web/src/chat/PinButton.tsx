import type { ChatMessage } from '@confab/client';
import { useConfabClient } from '@confab/client/react';
import { humanError } from '../lib/errors.ts';
import { Icon } from '../ui/Icon.tsx';
import { toast } from '../ui/toast.tsx';
import { useChat } from './context.ts';

/** Whether the caller may pin in this conversation: anyone in a direct chat, else moderators and up. */
export function canPinIn(conversation: { type: string; role: string } | null): boolean {
  if (!conversation) return false;
  return conversation.type === 'direct' || ['owner', 'admin', 'moderator'].includes(conversation.role);
}

/** Pin / Unpin in a message's actions (shown to those who may). */
export function PinButton({ m }: { m: ChatMessage }) {
  const client = useConfabClient();
  const chat = useChat();
  if (!m.id || m.kind === 'system' || !canPinIn(chat.conversation)) return null;
  const pinned = Boolean(m.pinnedAt);
  const id = m.id;
  return (
    <button
      type="button"
      className={`icon-btn ${pinned ? 'on' : ''}`}
      aria-label={pinned ? 'Unpin message' : 'Pin message'}
      aria-pressed={pinned}
      title={pinned ? 'Unpin' : 'Pin'}
      onClick={() =>
        client.pin(id, !pinned).then(
          () => toast(pinned ? 'Unpinned.' : 'Pinned for everyone in this conversation.'),
          (e: unknown) => toast(humanError(e), 'error'),
        )
      }
    >
      <Icon name="pin" size={16} />
    </button>
  );
}

/** A small "Pinned" mark in a pinned message's bubble. */
export function PinnedMark({ m }: { m: ChatMessage }) {
  if (!m.pinnedAt) return null;
  return (
    <span className="pinned-mark" title="Pinned">
      <Icon name="pin" size={11} /> Pinned
    </span>
  );
}
