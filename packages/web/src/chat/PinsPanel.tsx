import type { Conversation, Message } from '@confab/client';
import { useConfabClient, usePins } from '@confab/client/react';
import { useState } from 'react';
import '../channels/channels.css';
import { memberName } from '../conversations/helpers.ts';
import { humanError } from '../lib/errors.ts';
import { plainPreview } from '../lib/markdown.ts';
import { formatShort } from '../lib/time.ts';
import { Icon } from '../ui/Icon.tsx';
import { Modal } from '../ui/Modal.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { toast } from '../ui/toast.tsx';

/**
 * The conversation's pinned messages, most recently pinned first (SDK usePins: fetched once, then
 * live). A click jumps to the message in the list, paging older messages in until it is there.
 */
export function PinsPanel({
  conversation,
  me,
  canPin,
  jumpTo,
  onClose,
}: {
  conversation: Conversation;
  me: string;
  canPin: boolean;
  /** Scrolls to the message and highlights it; false when it is not (yet) in the list. */
  jumpTo: (messageId: string) => Promise<boolean>;
  onClose: () => void;
}) {
  const client = useConfabClient();
  const { messages, loading, error } = usePins(conversation.id);
  const [going, setGoing] = useState<string | null>(null);

  const open = async (m: Message) => {
    setGoing(m.id);
    const found = await jumpTo(m.id);
    setGoing(null);
    if (found) onClose();
    else toast('That message is too far back to show here.', 'error');
  };

  return (
    <Modal title="Pinned messages" onClose={onClose} className="side-panel pins-panel" focusFirst={false}>
      {loading && (
        <p className="hint">
          <Spinner size={12} /> Loading pinned messages…
        </p>
      )}
      {error && (
        <p className="form-error" role="alert">
          {humanError(error)}
        </p>
      )}
      {!loading && !error && messages.length === 0 && (
        <div className="pins-empty">
          <Icon name="pin" size={28} />
          <p>Nothing is pinned yet.</p>
          <p className="hint">{canPin ? 'Pin a message from its actions to keep it here for everyone.' : 'Moderators can pin important messages here for everyone.'}</p>
        </div>
      )}
      <ul className="pins-list" aria-label="Pinned messages">
        {messages.map((m) => (
          <li key={m.id} className="pin-item">
            <button type="button" className="pin-open" onClick={() => void open(m)} disabled={going !== null}>
              <span className="pin-meta">
                <strong>{memberName(conversation, m.authorId, me)}</strong>
                <time dateTime={m.createdAt}>{formatShort(m.createdAt)}</time>
                {going === m.id && <Spinner size={12} />}
              </span>
              <span className="pin-text">{plainPreview(m.content, 200) || (m.attachments.length ? 'Attachment' : '…')}</span>
              {m.pinnedBy && <span className="pin-by">Pinned by {memberName(conversation, m.pinnedBy, me)}</span>}
            </button>
            {canPin && (
              <button
                type="button"
                className="icon-btn"
                aria-label="Unpin"
                title="Unpin"
                onClick={() => client.pin(m.id, false).catch((e: unknown) => toast(humanError(e), 'error'))}
              >
                <Icon name="close" size={14} />
              </button>
            )}
          </li>
        ))}
      </ul>
    </Modal>
  );
}
