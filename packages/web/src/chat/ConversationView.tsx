import type { ChatMessage } from '@confab/client';
import { useConfabClient, useConversations, useMessages, usePresence, useTyping } from '@confab/client/react';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useMe } from '../state/me.tsx';
import { navigate, threadPath, useRoute } from '../state/router.ts';
import { patchConversation } from '../conversations/actions.ts';
import { ASSISTANT_ID, conversationTitle, directPeer, memberName, messageKey } from '../conversations/helpers.ts';
import { formatLastSeen } from '../lib/time.ts';
import { Avatar } from '../ui/Avatar.tsx';
import { Icon } from '../ui/Icon.tsx';
import { toast } from '../ui/toast.tsx';
import { humanError } from '../lib/errors.ts';
import { aiControls } from './ai.ts';
import { activityText, assistantAnswering } from './answering.ts';
import { AiAllowance } from '../settings/usage.tsx';
import { Composer, type ComposerHandle } from './Composer.tsx';
import { ChatContext, type ChatContextValue } from './context.ts';
import { ConversationInfo } from './ConversationInfo.tsx';
import { MessageList, useScrollOnOwnSend, type MessageListHandle } from './MessageList.tsx';
import { ChannelJoin } from '../channels/ChannelJoin.tsx';
import { canPinIn } from './PinButton.tsx';
import { PinsPanel } from './PinsPanel.tsx';
import { DrawerButton } from '../ui/DrawerButton.tsx';
import { ShareButton } from './ShareDialog.tsx';

import { AssistantSubtitle, ModelSwitcher } from './ModelSwitcher.tsx';

export function ConversationView({ id, onOpenDrawer }: { id: string; onOpenDrawer: () => void }) {
  const client = useConfabClient();
  const { me } = useMe();
  const conversations = useConversations();
  const conversation = conversations.find((c) => c.id === id) ?? null;
  const { messages, loadOlder, hasMore, loadingOlder } = useMessages(id);
  const typing = useTyping(id);
  const [replyTo, setReplyTo] = useState<ChatMessage | null>(null);
  const [editingKey, setEditingKey] = useState<string | null>(null);
  const [info, setInfo] = useState(false);
  const [pinsOpen, setPinsOpen] = useState(false);
  const [dragging, setDragging] = useState(false);
  const [missing, setMissing] = useState(false);
  const list = useRef<MessageListHandle>(null);
  const composer = useRef<ComposerHandle>(null);
  const ai = useMemo(() => aiControls(client), [client]);
  useScrollOnOwnSend(list, messages, me.id);
  const route = useRoute();
  const at = route.name === 'conversation' && route.id === id ? route.at : null;
  useLoadUntil(at, messages, hasMore, loadingOlder, loadOlder);
  // Known while this view was open, then gone: the caller was removed (or it was deleted).
  const wasKnown = useRef(false);
  if (conversation) wasKnown.current = true;

  // A conversation we don't know: wait for the first sync before saying it's gone.
  useEffect(() => {
    if (conversation) {
      setMissing(false);
      return;
    }
    let cancelled = false;
    const t = window.setTimeout(() => !cancelled && setMissing(true), 5000);
    void client.idle().then(() => !cancelled && !client.getConversation(id) && setMissing(true));
    return () => {
      cancelled = true;
      window.clearTimeout(t);
    };
  }, [client, conversation, id]);

  // Read receipts: what is on screen while the tab is visible counts as read. An AI answer still
  // being written is not read yet: it is once it is finished on screen (if the reader left
  // before, it counts as unread then, as for everyone else).
  const lastStored = useMemo(() => {
    for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.id !== null && messages[i]!.status !== 'streaming') return messages[i]!;
    return null;
  }, [messages]);
  const marked = useRef<string | null>(null);
  useEffect(() => {
    if (!lastStored?.id || lastStored.seq === null || !conversation) return;
    if (lastStored.seq <= conversation.lastReadSeq && conversation.unreadCount === 0) return;
    const mark = () => {
      // Once per message: receipts change the conversation, which must not mark it again.
      if (document.visibilityState !== 'visible' || !lastStored.id || marked.current === lastStored.id) return;
      marked.current = lastStored.id;
      client.markRead(lastStored.id).catch(() => {
        marked.current = null;
      });
    };
    mark();
    document.addEventListener('visibilitychange', mark);
    return () => document.removeEventListener('visibilitychange', mark);
  }, [client, lastStored, conversation]);

  const peer = conversation ? directPeer(conversation, me.id) : null;
  const presence = usePresence(peer ? [peer.userId] : []);
  const byId = useMemo(() => {
    const map = new Map<string, ChatMessage>();
    for (const m of messages) if (m.id) map.set(m.id, m);
    return map;
  }, [messages]);
  const generating = useMemo(() => [...messages].reverse().find((m) => m.status === 'streaming') ?? null, [messages]);

  const startEdit = useCallback((m: ChatMessage) => setEditingKey(messageKey(m)), []);
  const stopEdit = useCallback(() => {
    setEditingKey(null);
    composer.current?.focus();
  }, []);
  const reply = useCallback((m: ChatMessage) => {
    setReplyTo(m);
    composer.current?.focus();
  }, []);
  const jumpTo = useCallback((messageId: string) => list.current?.jumpTo(messageId), []);
  // Pins panel: page older messages in (a bounded number of pages) until the message is in the list.
  const jumpToLoading = useCallback(
    async (messageId: string) => {
      const frame = () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
      for (let page = 0; page < 20; page++) {
        if (client.getMessages(id).some((m) => m.id === messageId)) {
          await frame();
          // Pages just put in front of the list: let it measure them and settle before scrolling.
          if (page > 0) await new Promise((resolve) => window.setTimeout(resolve, 300));
          list.current?.jumpTo(messageId);
          return true;
        }
        if (!client.messagesMetaQuery(id).get().hasMore) return false;
        await client.loadOlder(id).catch(() => undefined);
      }
      return false;
    },
    [client, id],
  );
  const openThread = useCallback((m: ChatMessage) => m.id && navigate(threadPath(id, m.threadRootId ?? m.id)), [id]);
  const editLast = useCallback(() => {
    for (let i = messages.length - 1; i >= 0; i--) {
      const m = messages[i]!;
      if (m.authorId === me.id && m.id && !m.deletedAt && m.kind === 'text') {
        setEditingKey(messageKey(m));
        return;
      }
    }
  }, [messages, me.id]);

  const canModerate = conversation ? ['owner', 'admin', 'moderator'].includes(conversation.role) : false;
  const ctx: ChatContextValue = useMemo(
    () => ({ conversation, me: me.id, canModerate, ai, editingKey, startEdit, stopEdit, reply, jumpTo, byId, openThread }),
    [conversation, me.id, canModerate, ai, editingKey, startEdit, stopEdit, reply, jumpTo, byId, openThread],
  );

  if (!conversation && missing) {
    // A public channel the caller is not in shows its join screen; anything else is not found.
    return (
      <ChannelJoin
        id={id}
        fallback={
          <div className="welcome">
            <h2>{wasKnown.current ? 'You no longer have access to this conversation' : 'Conversation not found'}</h2>
            <p>
              {wasKnown.current
                ? 'You were removed from it, or it was deleted. Its messages are no longer available to you.'
                : 'It may have been deleted, or you are not a member (you may have been removed from it).'}
            </p>
            <button type="button" className="btn" onClick={() => navigate('/')}>
              Back to your conversations
            </button>
          </div>
        }
      />
    );
  }

  const title = conversation ? conversationTitle(conversation, me.id) : '';
  const typingNames = typing.filter((u) => u !== ASSISTANT_ID).map((u) => memberName(conversation, u, me.id));
  // The assistant shows like a member while it writes an answer ("Assistant is answering…").
  const answering = assistantAnswering(typing, generating?.authorId);
  const activity = activityText(typingNames, answering);
  // An AI chat keeps its model in the header: the answer streaming below says enough there.
  const headerActivity = conversation?.type === 'assistant' ? activityText(typingNames, false) : activity;
  let subtitle: React.ReactNode = null;
  if (headerActivity) subtitle = <span className="typing-sub">{headerActivity}</span>;
  else if (conversation?.type === 'direct' && peer) {
    const p = presence[peer.userId];
    subtitle = p?.status === 'online' ? <span className="online-sub">online</span> : formatLastSeen(p?.lastSeenAt ?? peer.user.lastSeenAt);
  } else if (conversation?.type === 'group') {
    subtitle = (
      <>
        {conversation.visibility === 'public' ? 'Public channel · ' : ''}
        {conversation.members.length} members
        {conversation.topic && <span className="conv-topic"> · {conversation.topic}</span>}
      </>
    );
  }
  // The model is the header's switcher (ModelSwitcher.tsx), next to the title.
  else if (conversation?.type === 'assistant') subtitle = <AssistantSubtitle conversation={conversation} />;

  const stopLatest = generating?.id && ai.stop ? () => void ai.stop!(generating.id!).catch((e: unknown) => toast(humanError(e), 'error')) : null;

  return (
    <ChatContext.Provider value={ctx}>
      <div
        className={`conversation ${dragging ? 'dragging' : ''}`}
        onDragEnter={(e) => {
          if (e.dataTransfer.types.includes('Files')) setDragging(true);
        }}
        onDragOver={(e) => {
          if (e.dataTransfer.types.includes('Files')) e.preventDefault();
        }}
        onDragLeave={(e) => {
          if (e.currentTarget === e.target || !e.currentTarget.contains(e.relatedTarget as Node)) setDragging(false);
        }}
        onDrop={(e) => {
          if (!e.dataTransfer.files.length) return;
          e.preventDefault();
          setDragging(false);
          composer.current?.addFiles([...e.dataTransfer.files]);
        }}
      >
        <header className="conv-header">
          <DrawerButton onOpenDrawer={onOpenDrawer} />
          {conversation ? (
            <button type="button" className="conv-header-main" onClick={() => setInfo(true)} aria-label={`${title}: details`}>
              <Avatar
                id={peer?.userId ?? conversation.id}
                name={title}
                url={peer?.user.avatarUrl}
                size={36}
                kind={conversation.type === 'assistant' ? 'assistant' : conversation.type === 'group' ? 'group' : 'user'}
                presence={peer ? presence[peer.userId]?.status : undefined}
              />
              <span className="conv-header-text">
                <h1>{title}</h1>
                <span className="conv-sub">{subtitle}</span>
              </span>
            </button>
          ) : (
            <span className="sk sk-line" style={{ width: 160 }} />
          )}
          {conversation?.type === 'assistant' && <ModelSwitcher conversation={conversation} />}
          {conversation && (
            <div className="conv-header-actions">
              <button
                type="button"
                className={`icon-btn ${conversation.pinned ? 'on' : ''}`}
                aria-pressed={conversation.pinned}
                aria-label={conversation.pinned ? 'Unpin' : 'Pin to top'}
                title={conversation.pinned ? 'Unpin' : 'Pin'}
                onClick={() => void patchConversation(client, id, { pinned: !conversation.pinned })}
              >
                <Icon name="pin" />
              </button>
              <button type="button" className="icon-btn" aria-label="Pinned messages" title="Pinned messages" onClick={() => setPinsOpen(true)}>
                <Icon name="bookmark" />
              </button>
              <ShareButton conversation={conversation} />
              <button type="button" className="icon-btn" aria-label="Conversation details" title="Details" onClick={() => setInfo(true)}>
                <Icon name="info" />
              </button>
            </div>
          )}
        </header>
        <MessageList
          ref={list}
          conversation={conversation}
          me={me.id}
          messages={messages}
          hasMore={hasMore}
          loadingOlder={loadingOlder}
          loadOlder={loadOlder}
          highlightSeq={at}
          empty={<EmptyConversation type={conversation?.type ?? 'direct'} title={title} />}
        />
        <div className="typing-line" aria-live="polite">
          {activity && (
            <>
              <span className="typing-dots" aria-hidden="true">
                <i />
                <i />
                <i />
              </span>
              {activity}
            </>
          )}
        </div>
        <Composer
          ref={composer}
          conversation={conversation}
          conversationId={id}
          me={me.id}
          replyTo={replyTo}
          onCancelReply={() => setReplyTo(null)}
          onSent={() => list.current?.scrollToBottom()}
          onEditLast={editLast}
          generating={generating}
          onStop={stopLatest}
        />
        {conversation?.type === 'assistant' && <AiAllowance generating={generating !== null} />}
        {dragging && (
          <div className="drop-overlay" aria-hidden="true">
            <Icon name="paperclip" size={32} />
            Drop files to send them
          </div>
        )}
      </div>
      {info && conversation && <ConversationInfo conversation={conversation} onClose={() => setInfo(false)} />}
      {pinsOpen && conversation && (
        <PinsPanel conversation={conversation} me={me.id} canPin={canPinIn(conversation)} jumpTo={jumpToLoading} onClose={() => setPinsOpen(false)} />
      )}
    </ChatContext.Provider>
  );
}

/**
 * Opening at a message (`?at=<seq>`): pages in older messages until it is in the list, so a link to
 * something far back in the history still lands on it.
 */
function useLoadUntil(at: number | null, messages: ChatMessage[], hasMore: boolean, loadingOlder: boolean, loadOlder: () => Promise<void>) {
  const oldest = messages.find((m) => m.seq !== null)?.seq ?? null;
  // A failed page stops it (no loop of failing requests); another link tries again.
  const [failedFor, setFailedFor] = useState<number | null>(null);
  useEffect(() => {
    if (at === null || loadingOlder || !hasMore || failedFor === at) return;
    if (oldest !== null && oldest <= at) return;
    loadOlder().catch((e: unknown) => {
      setFailedFor(at);
      toast(humanError(e), 'error');
    });
  }, [at, oldest, hasMore, loadingOlder, loadOlder, failedFor]);
}

function EmptyConversation({ type, title }: { type: string; title: string }) {
  if (type === 'assistant') {
    return (
      <div className="empty-conv">
        <div className="welcome-art" aria-hidden="true">
          <Icon name="sparkles" size={32} />
        </div>
        <h2>How can I help?</h2>
        <p>Ask a question, paste some code, or describe what you want to write. Answers stream in as they are written.</p>
      </div>
    );
  }
  return (
    <div className="empty-conv">
      <div className="welcome-art" aria-hidden="true">
        👋
      </div>
      <h2>Say hello</h2>
      <p>This is the start of your conversation{title ? ` with ${title}` : ''}.</p>
    </div>
  );
}

