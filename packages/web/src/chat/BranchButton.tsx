import { ConfabError, type ChatMessage, type Conversation } from '@confab/client';
import { useConfabClient } from '@confab/client/react';
import { useState } from 'react';
import { ASSISTANT_ID } from '../conversations/helpers.ts';
import { humanError } from '../lib/errors.ts';
import { conversationPath, navigate } from '../state/router.ts';
import { Icon } from '../ui/Icon.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { toast } from '../ui/toast.tsx';
import { useChat } from './context.ts';

/**
 * Where "Branch from here" is offered: AI chats, and conversations the assistant takes part in.
 * (The server lets any member branch any conversation; elsewhere the action would only crowd the menu.)
 */
export function canBranchIn(conversation: Conversation | null): boolean {
  if (!conversation) return false;
  return conversation.type === 'assistant' || conversation.members.some((m) => m.userId === ASSISTANT_ID);
}

/**
 * "Branch from here" in a message's actions: a new AI chat of the caller's own with copies of the
 * messages up to and including this one (docs/ai.md, Branches), opened at once.
 */
export function BranchButton({ m }: { m: ChatMessage }) {
  const client = useConfabClient();
  const chat = useChat();
  const [busy, setBusy] = useState(false);
  if (!m.id || m.kind === 'system' || m.status === 'streaming' || !canBranchIn(chat.conversation)) return null;
  const messageId = m.id;
  const branch = () => {
    setBusy(true);
    client.branchConversation(m.conversationId, messageId).then(
      (created) => {
        toast('Branched: a new AI chat with the messages up to here. The original is unchanged.');
        navigate(conversationPath(created.id));
      },
      (e: unknown) => {
        setBusy(false);
        // Over the branch limit: the server's words say which and what to do instead.
        toast(e instanceof ConfabError && e.code === 'PAYLOAD_TOO_LARGE' ? sentence(e.message) : humanError(e), 'error');
      },
    );
  };
  return (
    <button type="button" className="icon-btn" aria-label="Branch from here" title="Branch from here: a new AI chat with the messages up to this one" disabled={busy} onClick={branch}>
      {busy ? <Spinner size={14} label="Branching" /> : <Icon name="branch" size={16} />}
    </button>
  );
}

/** A server message as a sentence: capitalised, with a full stop. */
export function sentence(message: string): string {
  const t = message.trim();
  return t ? t[0]!.toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.') : t;
}
