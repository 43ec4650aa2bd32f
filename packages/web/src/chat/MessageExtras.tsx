import { useState } from 'react';
import { messageLink } from '../state/router.ts';
import { Icon } from '../ui/Icon.tsx';
import { toast } from '../ui/toast.tsx';
import { copyText } from '../lib/clipboard.ts';

/** "Copy link": a URL that opens the conversation at this message, highlighted (`/c/<id>?at=<seq>`). */
export function CopyLinkButton({ conversationId, seq }: { conversationId: string; seq: number }) {
  const copy = () =>
    copyText(messageLink(conversationId, seq)).then(
      () => toast('Link copied. It opens the conversation at this message.'),
      () => toast('Could not copy to the clipboard.', 'error'),
    );
  return (
    <button type="button" className="icon-btn" aria-label="Copy link" title="Copy link to this message" onClick={() => void copy()}>
      <Icon name="link" size={16} />
    </button>
  );
}

/**
 * Retry under a failed AI answer: regenerates it (the same question, asked again). A failed
 * answer's question is otherwise left out of what the model sees next (assistant/prompt.ts).
 */
export function RetryAnswer({ onRetry }: { onRetry: () => void }) {
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      className="link-btn ai-retry"
      disabled={busy}
      onClick={() => {
        setBusy(true);
        onRetry();
        setTimeout(() => setBusy(false), 1500);
      }}
    >
      <Icon name="refresh" size={13} /> Retry
    </button>
  );
}
