import type { ChatMessage, Conversation, Member } from '@confab/client';
import { forwardRef, useCallback, useEffect, useImperativeHandle, useMemo, useRef, useState } from 'react';
import { Virtuoso, type VirtuosoHandle } from 'react-virtuoso';
import { ASSISTANT_ID, messageKey } from '../conversations/helpers.ts';
import { Icon } from '../ui/Icon.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { MessageRow, MessageSkeleton, type RowProps } from './MessageItem.tsx';
import './list.css';

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
  /** Open at this message (a search hit or a message link) and highlight it, instead of at the bottom. */
  highlightSeq?: number | null;
}

/**
 * The conversation's messages in a virtualized list: only what is on screen is in the DOM, so a
 * long history scrolls smoothly. Scrolling to the top pages in older messages (SDK loadOlder)
 * without moving what the reader sees; new messages follow when the reader is at the bottom.
 */
export const MessageList = forwardRef<MessageListHandle, Props>(function MessageList({ conversation, me, messages, hasMore, loadingOlder, loadOlder, empty, highlightSeq }, ref) {
  const virtuoso = useRef<VirtuosoHandle>(null);
  const [scroller, setScroller] = useState<HTMLElement | null>(null);
  // Pinned: the reader is at the bottom, so whatever arrives or grows keeps them there (see usePinnedBottom).
  const { pinned, pin, unpin } = usePinnedBottom(scroller, highlightSeq === undefined || highlightSeq === null);
  // The first message we showed is the anchor: whatever comes in front of it (older pages) lowers the
  // first index by as much. Idempotent, so it is safe to compute during render.
  const anchor = useRef<string | null>(null);
  let at = anchor.current === null ? -1 : messages.findIndex((m) => messageKey(m) === anchor.current);
  if (at < 0 && messages[0]) {
    anchor.current = messageKey(messages[0]);
    at = 0;
  }
  const firstIndex = START_INDEX - Math.max(0, at);

  // What arrived while the reader was scrolled up: counted from the last message they had at the bottom.
  const seenKey = useRef<string | null>(null);
  const lastKey = messages.length ? messageKey(messages[messages.length - 1]!) : null;
  if (pinned || seenKey.current === null) seenKey.current = lastKey;
  let unseen = 0;
  if (!pinned) {
    const from = messages.findIndex((m) => messageKey(m) === seenKey.current);
    if (from >= 0) for (let i = from + 1; i < messages.length; i++) if (messages[i]!.authorId !== me && messages[i]!.kind !== 'system') unseen++;
  }

  const flash = useCallback((messageId: string) => {
    const el = () => document.querySelector(`[data-message-id="${CSS.escape(messageId)}"]`);
    let tries = 0;
    // The row may not be rendered yet (virtualized): look again for a moment.
    const tick = () => {
      const found = el();
      if (!found && tries++ < 20) return void setTimeout(tick, 50);
      found?.classList.add('flash');
      setTimeout(() => el()?.classList.remove('flash'), 4000);
    };
    setTimeout(tick, 300);
  }, []);

  const scrollToMessage = useCallback(
    (messageId: string, behavior: 'smooth' | 'auto') => {
      const i = messages.findIndex((m) => m.id === messageId);
      if (i < 0) return false;
      unpin();
      // After Virtuoso has settled a page just prepended (it restores the scroll position in its
      // own effects, which would undo a scroll made now), and once more when the rows around the
      // target have been measured.
      const go = (how: 'smooth' | 'auto') => {
        unpin();
        virtuoso.current?.scrollToIndex({ index: i, align: 'center', behavior: how });
      };
      setTimeout(() => go(behavior), 60);
      if (behavior === 'auto') setTimeout(() => go('auto'), 400);
      flash(messageId);
      return true;
    },
    [messages, unpin, flash],
  );

  useImperativeHandle(ref, () => ({
    scrollToBottom: () => {
      pin();
      virtuoso.current?.scrollToIndex({ index: 'LAST', align: 'end', behavior: 'auto' });
    },
    // At once, not smoothly: a smooth scroll to a message far back never arrives; the flash shows where it landed.
    jumpTo: (messageId: string) => void scrollToMessage(messageId, 'auto'),
  }));

  // Where the list opens (Virtuoso reads it once, at mount): at the bottom, or at the message of
  // a link or a search hit when it is already loaded (a later scroll would be undone by that).
  const initialIndex = useRef<number | null>(null);
  if (initialIndex.current === null && messages.length > 0) {
    const i = highlightSeq === undefined || highlightSeq === null ? -1 : messages.findIndex((m) => m.seq === highlightSeq);
    initialIndex.current = i >= 0 ? i : -1;
  }
  const initialTop = useMemo(
    () => (initialIndex.current !== null && initialIndex.current >= 0 ? { index: initialIndex.current, align: 'center' as const } : { index: 'LAST' as const, align: 'end' as const }),
    [initialIndex.current],
  );

  // A message link or a search hit: once its message is in the list, go there and highlight it.
  const jumped = useRef<number | null>(null);
  useEffect(() => {
    if (highlightSeq === undefined || highlightSeq === null || jumped.current === highlightSeq || !scroller) return;
    const target = messages.find((m) => m.seq === highlightSeq);
    if (!target?.id) return;
    jumped.current = highlightSeq;
    scrollToMessage(target.id, 'auto');
  }, [highlightSeq, messages, scroller, scrollToMessage]);

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
  // Stable: a new callback each render would be called with null, then the element, every time.
  const scrollerRef = useCallback((el: HTMLElement | Window | null) => setScroller(el instanceof HTMLElement ? el : null), []);
  const listContext = useMemo(() => ({ loadingOlder, hasMore }), [loadingOlder, hasMore]);
  const followOutput = useCallback(() => (pinnedNow(scroller) ? 'auto' : false), [scroller]);

  if (messages.length === 0) {
    if (hasMore || loadingOlder) return <MessageSkeleton />;
    return <div className="messages-empty">{empty}</div>;
  }

  return (
    <div className="message-list" role="log" aria-live="polite" aria-relevant="additions" aria-label="Messages">
      <Virtuoso
        ref={virtuoso}
        scrollerRef={scrollerRef}
        className="virtuoso"
        data={messages}
        context={listContext}
        firstItemIndex={firstIndex}
        initialTopMostItemIndex={initialTop}
        alignToBottom
        computeItemKey={(_, m) => messageKey(m)}
        itemContent={itemContent}
        startReached={startReached}
        followOutput={followOutput}
        increaseViewportBy={{ top: 400, bottom: 200 }}
        components={LIST_COMPONENTS}
      />
      {!pinned && (
        <button
          type="button"
          className={`jump-latest ${unseen > 0 ? 'has-new' : ''}`}
          onClick={() => {
            pin();
            virtuoso.current?.scrollToIndex({ index: 'LAST', align: 'end', behavior: 'auto' });
          }}
        >
          {unseen > 0 ? `${unseen} new message${unseen === 1 ? '' : 's'}` : 'Latest'} <Icon name="chevron" size={14} className="rot90" />
        </button>
      )}
    </div>
  );
});

interface ListContext {
  loadingOlder: boolean;
  hasMore: boolean;
}

// Module-level (not inline) so Virtuoso does not remount them, and the list's height with them, on every render.
const LIST_COMPONENTS = {
  Header: ({ context }: { context?: ListContext }) => (
    <div className="list-header">
      {context?.loadingOlder ? (
        <Spinner size={18} label="Loading older messages" />
      ) : context?.hasMore ? (
        <span className="list-start-hint">Scroll up for older messages</span>
      ) : (
        <span className="list-start">This is the beginning of the conversation.</span>
      )}
    </div>
  ),
  Footer: () => <div className="list-footer" />,
};

const pinnedScrollers = new WeakMap<HTMLElement, boolean>();
function pinnedNow(el: HTMLElement | null): boolean {
  return el ? (pinnedScrollers.get(el) ?? true) : true;
}

/**
 * Keeps a scroller pinned to its bottom while the reader is there: new rows, a row that grows (a
 * streaming answer, an image that loads, the "Seen" line) and the viewport shrinking (the composer
 * growing, a phone's keyboard) all scroll it down again. Only the reader unpins it (wheel, touch,
 * keys, the scrollbar, or a scroll by code far up), never a layout change; reaching the bottom
 * again pins it.
 */
function usePinnedBottom(el: HTMLElement | null, initiallyPinned: boolean) {
  const [pinned, setPinned] = useState(initiallyPinned);
  const pinnedRef = useRef(initiallyPinned);
  const set = useCallback(
    (v: boolean) => {
      pinnedRef.current = v;
      if (el) pinnedScrollers.set(el, v);
      setPinned(v);
    },
    [el],
  );
  const toBottom = useCallback(() => {
    if (el && pinnedRef.current) el.scrollTop = el.scrollHeight;
  }, [el]);

  useEffect(() => {
    if (!el) return;
    pinnedScrollers.set(el, pinnedRef.current);
    let intentUntil = 0;
    const intent = () => (intentUntil = performance.now() + 600);
    const onWheel = (e: WheelEvent) => {
      intent();
      if (e.deltaY < 0 && el.scrollHeight > el.clientHeight) set(false);
    };
    const onKey = (e: KeyboardEvent) => {
      if (['ArrowUp', 'ArrowDown', 'PageUp', 'PageDown', 'Home', 'End', ' '].includes(e.key)) intent();
    };
    const distance = () => el.scrollHeight - el.scrollTop - el.clientHeight;
    let lastTop = el.scrollTop;
    const onScroll = () => {
      const d = distance();
      // Moved up, well away from the bottom, with no input: a scroll made by code (a screen
      // reader, a script); a layout change that moves scrollTop keeps the bottom close.
      const movedAway = el.scrollTop < lastTop - 1 && d > 80;
      lastTop = el.scrollTop;
      if (d <= 2) {
        if (!pinnedRef.current) set(true);
      } else if (pinnedRef.current && (performance.now() < intentUntil || movedAway)) set(false);
    };
    let frame = 0;
    const down = () => {
      if (!pinnedRef.current) return;
      // Scrolled far up by code since we last looked (its scroll event not dispatched yet): that
      // is the reader's choice, not a layout change to follow.
      if (el.scrollTop < lastTop - 1 && distance() > 80) return set(false);
      toBottom();
      lastTop = el.scrollTop;
    };
    const follow = () => {
      down();
      // Virtuoso measures the rows it just rendered in the next frame: follow once more.
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(down);
    };
    const resize = new ResizeObserver(follow);
    resize.observe(el);
    const observeList = () => {
      const list = el.querySelector('[data-testid="virtuoso-item-list"]');
      if (list) resize.observe(list);
      for (const child of Array.from(el.children)) resize.observe(child);
    };
    observeList();
    const mutations = new MutationObserver(() => {
      observeList();
      follow();
    });
    mutations.observe(el, { childList: true, subtree: true, characterData: true });
    el.addEventListener('wheel', onWheel, { passive: true });
    el.addEventListener('touchstart', intent, { passive: true });
    el.addEventListener('touchmove', intent, { passive: true });
    el.addEventListener('pointerdown', intent);
    el.addEventListener('keydown', onKey);
    el.addEventListener('scroll', onScroll, { passive: true });
    follow();
    return () => {
      cancelAnimationFrame(frame);
      resize.disconnect();
      mutations.disconnect();
      el.removeEventListener('wheel', onWheel);
      el.removeEventListener('touchstart', intent);
      el.removeEventListener('touchmove', intent);
      el.removeEventListener('pointerdown', intent);
      el.removeEventListener('keydown', onKey);
      el.removeEventListener('scroll', onScroll);
    };
  }, [el, set, toBottom]);

  const pin = useCallback(() => {
    set(true);
    toBottom();
  }, [set, toBottom]);
  const unpin = useCallback(() => set(false), [set]);
  return { pinned, pin, unpin };
}

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
