import type { ChatMessage, Conversation, Member } from '@confab/client';
import { forwardRef, useCallback, useEffect, useImperativeHandle, useMemo, useRef, useState } from 'react';
import { Virtuoso, type VirtuosoHandle } from 'react-virtuoso';
import { ASSISTANT_ID, messageKey } from '../conversations/helpers.ts';
import { Icon } from '../ui/Icon.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { MessageRow, MessageSkeleton, type RowProps } from './MessageItem.tsx';

/** Virtuoso counts items from here; prepending older pages lowers the first index (keeps the scroll position). */
const START_INDEX = 1_000_000;

export interface MessageListHandle {
  scrollToBottom: () => void;
  jumpTo: (messageId: string) => void;
}

interface Props {
  conversation: Conversation | null;
  me: string;
  messages: ChatMessage[];
  hasMore: boolean;
  loadingOlder: boolean;
  loadOlder: () => Promise<void>;
  empty: React.ReactNode;
}

/**
 * The conversation's messages in a virtualized list: only what is on screen is in the DOM, so a
 * long history scrolls smoothly. Scrolling to the top pages in older messages (SDK loadOlder)
 * without moving what the reader sees; new messages follow when the reader is at the bottom.
 */
export const MessageList = forwardRef<MessageListHandle, Props>(function MessageList({ conversation, me, messages, hasMore, loadingOlder, loadOlder, empty }, ref) {
  const virtuoso = useRef<VirtuosoHandle>(null);
  const [atBottom, setAtBottom] = useState(true);
  // The first message we showed is the anchor: whatever comes in front of it (older pages) lowers the
  // first index by as much. Idempotent, so it is safe to compute during render.
  const anchor = useRef<string | null>(null);
  let at = anchor.current === null ? -1 : messages.findIndex((m) => messageKey(m) === anchor.current);
  if (at < 0 && messages[0]) {
    anchor.current = messageKey(messages[0]);
    at = 0;
  }
  const firstIndex = START_INDEX - Math.max(0, at);

  useImperativeHandle(ref, () => ({
    scrollToBottom: () => virtuoso.current?.scrollToIndex({ index: 'LAST', align: 'end', behavior: 'auto' }),
    jumpTo: (messageId: string) => {
      const i = messages.findIndex((m) => m.id === messageId);
      if (i < 0) return;
      virtuoso.current?.scrollToIndex({ index: i, align: 'center', behavior: 'smooth' });
      const el = () => document.querySelector(`[data-message-id="${CSS.escape(messageId)}"]`);
      setTimeout(() => {
        el()?.classList.add('flash');
        setTimeout(() => el()?.classList.remove('flash'), 1200);
      }, 350);
    },
  }));

  // "Seen by" goes under the caller's latest stored message only.
  const receipt = useMemo(() => {
    let lastOwn: ChatMessage | undefined;
    for (let i = messages.length - 1; i >= 0; i--) {
      const m = messages[i]!;
      if (m.authorId === me && m.seq !== null && !m.deletedAt) {
        lastOwn = m;
        break;
      }
    }
    if (!lastOwn || lastOwn.seq === null || !conversation) return null;
    const seq = lastOwn.seq;
    const others = conversation.members.filter((mb) => mb.userId !== me && mb.userId !== ASSISTANT_ID && !mb.user.isBot);
    const seenBy: Member[] = others.filter((mb) => mb.lastReadSeq >= seq);
    const delivered = others.length > 0 && others.every((mb) => mb.lastDeliveredSeq >= seq || mb.lastReadSeq >= seq);
    return { key: messageKey(lastOwn), value: { seenBy, delivered } };
  }, [messages, conversation, me]);

  // "New messages" goes above the first message from others that was unread when the list opened
  // (the read watermark moves as soon as they are on screen, so it is taken once, at the start).
  const unreadFrom = useRef<number | null | undefined>(undefined);
  if (unreadFrom.current === undefined && conversation) unreadFrom.current = conversation.unreadCount > 0 ? conversation.lastReadSeq : null;
  const firstUnreadKey = useMemo(() => {
    const from = unreadFrom.current;
    if (from === null || from === undefined) return null;
    const m = messages.find((x) => x.seq !== null && x.seq > from && x.authorId !== me && x.kind !== 'system');
    return m ? messageKey(m) : null;
  }, [messages, me]);

  const startReached = useCallback(() => {
    if (hasMore && !loadingOlder) void loadOlder().catch(() => {});
  }, [hasMore, loadingOlder, loadOlder]);

  const itemContent = useCallback(
    (index: number, m: ChatMessage) => {
      const i = index - firstIndex;
      const props: RowProps = {
        m,
        prev: messages[i - 1],
        next: messages[i + 1],
        receipt: receipt && receipt.key === messageKey(m) ? receipt.value : null,
        firstUnread: firstUnreadKey !== null && firstUnreadKey === messageKey(m),
      };
      return <MessageRow {...props} />;
    },
    [messages, firstIndex, receipt, firstUnreadKey],
  );

  if (messages.length === 0) {
    if (hasMore || loadingOlder) return <MessageSkeleton />;
    return <div className="messages-empty">{empty}</div>;
  }

  return (
    <div className="message-list" role="log" aria-live="polite" aria-relevant="additions" aria-label="Messages">
      <Virtuoso
        ref={virtuoso}
        className="virtuoso"
        data={messages}
        firstItemIndex={firstIndex}
        initialTopMostItemIndex={{ index: 'LAST', align: 'end' }}
        computeItemKey={(_, m) => messageKey(m)}
        itemContent={itemContent}
        startReached={startReached}
        followOutput={(bottom) => (bottom ? 'auto' : false)}
        atBottomStateChange={setAtBottom}
        atBottomThreshold={80}
        increaseViewportBy={{ top: 400, bottom: 200 }}
        components={{
          Header: () => (
            <div className="list-header">
              {loadingOlder ? (
                <Spinner size={18} label="Loading older messages" />
              ) : hasMore ? (
                <span className="list-start-hint">Scroll up for older messages</span>
              ) : (
                <span className="list-start">This is the beginning of the conversation.</span>
              )}
            </div>
          ),
          Footer: () => <div className="list-footer" />,
        }}
      />
      {!atBottom && (
        <button type="button" className="jump-latest" onClick={() => virtuoso.current?.scrollToIndex({ index: 'LAST', align: 'end', behavior: 'smooth' })}>
          <Icon name="chevron" size={14} className="rot90" /> Latest
        </button>
      )}
    </div>
  );
});

export function useScrollOnOwnSend(list: React.RefObject<MessageListHandle | null>, messages: ChatMessage[], me: string) {
  const lastKey = useRef<string | null>(null);
  useEffect(() => {
    const last = messages[messages.length - 1];
    if (!last) return;
    const key = messageKey(last);
    if (key !== lastKey.current && last.authorId === me && last.sendState === 'pending') list.current?.scrollToBottom();
    lastKey.current = key;
  }, [messages, me, list]);
}
