import { ConfabError, type ChatMessage, type Member } from '@confab/client';
import { useConfabClient } from '@confab/client/react';
import { memo, useEffect, useRef, useState } from 'react';
import { ASSISTANT_ID, memberName, messageKey, modelLabel } from '../conversations/helpers.ts';
import { humanError } from '../lib/errors.ts';
import { dayKey, formatDay, formatTime } from '../lib/time.ts';
import { Avatar } from '../ui/Avatar.tsx';
import { Icon } from '../ui/Icon.tsx';
import { toast } from '../ui/toast.tsx';
import { Attachments } from './Attachments.tsx';
import { LinkPreviewCard } from './LinkPreview.tsx';
import { CopyLinkButton, RetryAnswer } from './MessageExtras.tsx';
import { BranchButton } from './BranchButton.tsx';
import { useAuthorName } from './authorNames.ts';
import { useChat } from './context.ts';
import { Markdown } from './Markdown.tsx';
import { PinButton, PinnedMark } from './PinButton.tsx';
import { plainPreview } from '../lib/markdown.ts';
import { confirmDialog } from '../ui/confirm.tsx';
import { ErrorBoundary } from '../ui/ErrorBoundary.tsx';
import { ThreadChip } from './ThreadChip.tsx';
import { ToolCalls } from './ToolCalls.tsx';
import { mentionMarks } from '../lib/mentionMarks.ts';
import { copyText } from '../lib/clipboard.ts';
import { Menu } from '../ui/Menu.tsx';
import { blockPerson, ReportDialog } from './Safety.tsx';
import { useVersions, VersionPager } from './Versions.tsx';

export const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '😢'];
const GROUP_WINDOW_MS = 5 * 60_000;

/** Same author, same day, a few minutes apart: shown as one group (one name, one avatar). */
export function continues(prev: ChatMessage | undefined, m: ChatMessage): boolean {
  if (!prev || prev.kind === 'system' || m.kind === 'system') return false;
  if (prev.authorId !== m.authorId) return false;
  if (dayKey(prev.createdAt) !== dayKey(m.createdAt)) return false;
  return new Date(m.createdAt).getTime() - new Date(prev.createdAt).getTime() < GROUP_WINDOW_MS;
}

export interface RowProps {
  m: ChatMessage;
  prev: ChatMessage | undefined;
  next: ChatMessage | undefined;
  /** For the caller's last stored message: who has read it ("seen by"). */
  receipt: { seenBy: Member[]; delivered: boolean } | null;
  /** The first message that was unread when the conversation was opened. */
  firstUnread?: boolean;
}

export const MessageRow = memo(function MessageRow({ m, prev, next, receipt, firstUnread = false }: RowProps) {
  const newDay = !prev || dayKey(prev.createdAt) !== dayKey(m.createdAt);
  const first = firstUnread || !continues(prev, m);
  const last = !next || !continues(m, next);
  return (
    <div className="msg-row-wrap">
      {newDay && (
        <div className="day-divider" role="separator">
          <span>{formatDay(m.createdAt)}</span>
        </div>
      )}
      {firstUnread && (
        <div className="unread-divider" role="separator" aria-label="New messages">
          <span>New messages</span>
        </div>
      )}
      {/* Tried again when the message changes (edited, deleted, more of an answer streamed). */}
      <ErrorBoundary kind="message" resetKey={`${m.content.length}:${m.editedAt ?? ''}:${m.deletedAt ?? ''}:${m.status}`}>
        {m.kind === 'system' ? <SystemLine m={m} /> : <Message m={m} first={first} last={last} receipt={receipt} />}
      </ErrorBoundary>
    </div>
  );
});

function SystemLine({ m }: { m: ChatMessage }) {
  return (
    <div className="system-line">
      <span>{m.content}</span>
    </div>
  );
}

function Message({ m, first, last, receipt }: { m: ChatMessage; first: boolean; last: boolean; receipt: RowProps['receipt'] }) {
  const client = useConfabClient();
  const chat = useChat();
  const mine = m.authorId === chat.me;
  const isAi = m.authorId === ASSISTANT_ID;
  const name = useAuthorName(chat.conversation, m.authorId, chat.me);
  const member = chat.conversation?.members.find((x) => x.userId === m.authorId);
  const deleted = m.deletedAt !== null;
  const editing = chat.editingKey === messageKey(m);
  const streaming = m.status === 'streaming';
  const stored = m.id !== null;
  const [picker, setPicker] = useState(false);
  const [reporting, setReporting] = useState(false);
  const replied = m.replyToId ? chat.byId.get(m.replyToId) : undefined;
  // An earlier version the viewer browsed to (Versions.tsx), else the message as it is.
  const versions = useVersions(m, chat.conversation);
  const text = versions.shown?.content ?? m.content;

  const react = (emoji: string) => {
    if (!m.id) return;
    const on = !m.reactions.some((r) => r.emoji === emoji && r.userIds.includes(chat.me));
    client.react(m.id, emoji, on).catch((e: unknown) => toast(humanError(e), 'error'));
    setPicker(false);
  };
  const copy = () =>
    copyText(text).then(
      () => toast('Copied to the clipboard.'),
      () => toast('Could not copy to the clipboard.', 'error'),
    );
  const remove = () => {
    const id = m.id;
    if (!id) return;
    void confirmDialog({ title: 'Delete this message?', body: 'It is removed for everyone in the conversation.', confirm: 'Delete', danger: true }).then((ok) => {
      if (ok) client.remove(id).catch((e: unknown) => toast(humanError(e), 'error'));
    });
  };
  const regenerate = () => {
    if (!m.id || !chat.ai.regenerate) return;
    chat.ai.regenerate(m.id).catch((e: unknown) => toast(humanError(e), 'error'));
  };
  const stop = () => {
    if (!m.id || !chat.ai.stop) return;
    chat.ai.stop(m.id).catch((e: unknown) => toast(humanError(e), 'error'));
  };

  const classes = ['msg', mine ? 'mine' : 'theirs', isAi ? 'ai' : '', first ? 'first' : '', last ? 'last' : '', deleted ? 'deleted' : '', m.sendState === 'failed' ? 'failed' : ''];
  return (
    // Focusable (one stop per message): a tap on a phone or Tab on a keyboard shows its actions.
    <div
      className={classes.filter(Boolean).join(' ')}
      data-message-id={m.id ?? undefined}
      data-client-id={m.clientId ?? undefined}
      data-status={m.status}
      tabIndex={0}
      role="article"
      aria-label={`${name}, ${formatTime(m.createdAt)}`}
    >
      <div className="msg-gutter">{!mine && first && <Avatar id={m.authorId} name={name} url={member?.user.avatarUrl} size={32} kind={isAi ? 'assistant' : 'user'} />}</div>
      <div className="msg-body">
        {first && !mine && (
          <div className="msg-meta">
            <span className="msg-author">{name}</span>
            {isAi && <span className="model-badge">{modelLabel(versions.shown?.model ?? m.model ?? chat.conversation?.model)}</span>}
            <time dateTime={m.createdAt}>{formatTime(m.createdAt)}</time>
          </div>
        )}
        {replied !== undefined && (
          <button type="button" className="reply-quote" onClick={() => replied.id && chat.jumpTo(replied.id)}>
            <Icon name="reply" size={12} /> <strong>{memberName(chat.conversation, replied.authorId, chat.me)}</strong>{' '}
            <span>{replied.deletedAt ? 'Message deleted' : plainPreview(replied.content, 80) || 'Attachment'}</span>
          </button>
        )}
        {m.replyToId && replied === undefined && <div className="reply-quote missing">Replying to an earlier message</div>}
        <div className="bubble" title={first && !mine ? undefined : formatTime(m.createdAt)}>
          {deleted ? (
            <span className="deleted-note">This message was deleted</span>
          ) : editing ? (
            <EditBox m={m} />
          ) : (
            <>
              {isAi && m.toolCalls && <ToolCalls calls={m.toolCalls} streaming={streaming} />}
              {text && <Markdown text={text} streaming={streaming} mentions={mentionMarks(m, chat.conversation, chat.me)} />}
              {streaming && !m.content && (
                <span className="thinking" aria-label="The assistant is thinking">
                  <i />
                  <i />
                  <i />
                </span>
              )}
              {streaming && m.content && <span className="caret" aria-hidden="true" />}
              <Attachments attachments={m.attachments} kind={m.kind} />
              {m.editedAt && versions.count === 0 && <span className="edited">(edited)</span>}
              <PinnedMark m={m} />
            </>
          )}
        </div>
        {m.linkPreview && !deleted && !editing && <LinkPreviewCard m={m} mine={mine} />}
        {!editing && <VersionPager v={versions} />}
        {isAi && m.status === 'stopped' && <div className="ai-note">Stopped</div>}
        {isAi && m.status === 'error' && (
          <div className="ai-error" role="alert">
            <Icon name="alert" size={14} /> {m.statusReason || 'The answer could not be completed.'}
            {stored && chat.ai.regenerate && <RetryAnswer onRetry={regenerate} />}
          </div>
        )}
        {m.reactions.length > 0 && !deleted && (
          <div className="reactions">
            {m.reactions.map((r) => {
              const on = r.userIds.includes(chat.me);
              const who = r.userIds.map((u) => memberName(chat.conversation, u, chat.me)).join(', ');
              return (
                <button key={r.emoji} type="button" className={`reaction ${on ? 'on' : ''}`} aria-pressed={on} title={who} aria-label={`${r.emoji} ${r.count}, by ${who}`} onClick={() => react(r.emoji)}>
                  <span>{r.emoji}</span> {r.count}
                </button>
              );
            })}
          </div>
        )}
        <ThreadChip m={m} />
        {mine && <OwnStatus m={m} receipt={receipt} />}
      </div>
      {!deleted && !editing && stored && (
        <div className="msg-actions" role="toolbar" aria-label="Message actions">
          {streaming && chat.ai.stop && (
            <button type="button" className="icon-btn stop-btn" onClick={stop} aria-label="Stop the answer" title="Stop">
              <Icon name="stop" size={16} />
            </button>
          )}
          {!streaming && (
            <div className="react-wrap">
              <button type="button" className="icon-btn" aria-label="Add a reaction" title="React" aria-expanded={picker} onClick={() => setPicker((p) => !p)}>
                <Icon name="smile" size={16} />
              </button>
              {picker && (
                <div className="react-picker" role="menu" aria-label="Reactions" onKeyDown={(e) => e.key === 'Escape' && setPicker(false)}>
                  {QUICK_REACTIONS.map((e) => (
                    <button key={e} type="button" role="menuitem" onClick={() => react(e)} aria-label={`React with ${e}`} autoFocus={e === QUICK_REACTIONS[0]}>
                      {e}
                    </button>
                  ))}
                </div>
              )}
            </div>
          )}
          <PinButton m={m} />
          <button type="button" className="icon-btn" aria-label="Reply" title="Reply" onClick={() => chat.reply(m)}>
            <Icon name="reply" size={16} />
          </button>
          {chat.openThread && !m.threadRootId && m.kind !== 'system' && (
            <button type="button" className="icon-btn" aria-label="Reply in thread" title="Reply in thread" onClick={() => chat.openThread?.(m)}>
              <Icon name="thread" size={16} />
            </button>
          )}
          {m.content && (
            <button type="button" className="icon-btn" aria-label="Copy text" title="Copy" onClick={() => void copy()}>
              <Icon name="copy" size={16} />
            </button>
          )}
          {m.seq !== null && m.kind !== 'system' && <CopyLinkButton conversationId={m.conversationId} seq={m.seq} />}
          <BranchButton m={m} />
          {isAi && !streaming && chat.ai.regenerate && (
            <button type="button" className="icon-btn" aria-label="Regenerate the answer" title="Regenerate" onClick={regenerate}>
              <Icon name="refresh" size={16} />
            </button>
          )}
          {mine && m.kind === 'text' && (
            <button type="button" className="icon-btn" aria-label="Edit message" title="Edit" onClick={() => chat.startEdit(m)}>
              <Icon name="edit" size={16} />
            </button>
          )}
          {(mine || chat.canModerate) && !isAi && (
            <button type="button" className="icon-btn" aria-label="Delete message" title="Delete" onClick={remove}>
              <Icon name="trash" size={16} />
            </button>
          )}
          {!mine && !isAi && !member?.user.isBot && m.kind !== 'system' && (
            <Menu
              label="More message actions"
              button={<Icon name="more" size={16} />}
              items={[
                { label: 'Report message', icon: <Icon name="alert" />, onSelect: () => setReporting(true) },
                { label: `Block ${name}`, icon: <Icon name="close" />, danger: true, onSelect: () => void blockPerson(client, m.authorId, name) },
              ]}
            />
          )}
        </div>
      )}
      {reporting && m.id && <ReportDialog messageId={m.id} authorName={name} onClose={() => setReporting(false)} />}
      {streaming && chat.ai.stop && (
        <button type="button" className="btn btn-small stop-inline" onClick={stop}>
          <Icon name="stop" size={14} /> Stop
        </button>
      )}
    </div>
  );
}

function OwnStatus({ m, receipt }: { m: ChatMessage; receipt: RowProps['receipt'] }) {
  const client = useConfabClient();
  const chat = useChat();
  if (m.sendState === 'failed') {
    return (
      <div className="send-state failed" role="alert">
        <Icon name="alert" size={13} /> Not sent{m.error ? `: ${humanError(new ConfabError(m.error.code, m.error.message))}` : ''}.{' '}
        <button type="button" className="link-btn" onClick={() => void client.retry(m.clientId!)}>
          Retry
        </button>{' '}
        ·{' '}
        <button type="button" className="link-btn" onClick={() => client.discard(m.clientId!)}>
          Discard
        </button>
      </div>
    );
  }
  if (m.sendState === 'pending') {
    return (
      <div className="send-state pending" aria-label="Sending">
        <Icon name="clock" size={12} /> Sending…
      </div>
    );
  }
  if (!receipt) return null;
  const direct = chat.conversation?.type === 'direct';
  const names = receipt.seenBy.map((mb) => mb.user.displayName);
  return (
    <div className="send-state seen" data-receipt={names.length ? 'seen' : receipt.delivered ? 'delivered' : 'sent'}>
      <Icon name={names.length || receipt.delivered ? 'checks' : 'check'} size={13} />{' '}
      {names.length ? (direct ? 'Seen' : `Seen by ${names.length > 3 ? `${names.slice(0, 3).join(', ')} +${names.length - 3}` : names.join(', ')}`) : receipt.delivered ? 'Delivered' : 'Sent'}
    </div>
  );
}

function EditBox({ m }: { m: ChatMessage }) {
  const client = useConfabClient();
  const chat = useChat();
  const [text, setText] = useState(m.content);
  const ref = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.focus();
    el.setSelectionRange(el.value.length, el.value.length);
  }, []);
  // Grows with its text (wrapped lines too), up to a limit, then scrolls.
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight + 2, 320)}px`;
  }, [text]);
  const save = () => {
    const content = text.trim();
    chat.stopEdit();
    if (!m.id || content === m.content.trim()) return;
    if (!content) {
      toast('A message cannot be empty. Delete it instead.', 'error');
      return;
    }
    const id = m.id;
    client
      .edit(id, content)
      // In an AI chat, an edited question gets a new answer (edit and resend).
      .then(() => (chat.conversation?.type === 'assistant' && chat.ai.regenerate ? chat.ai.regenerate(id) : undefined))
      .catch((e: unknown) => toast(humanError(e), 'error'));
  };
  return (
    <div className="edit-box">
      <textarea
        ref={ref}
        aria-label="Edit message"
        value={text}
        rows={1}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            e.preventDefault();
            e.stopPropagation();
            chat.stopEdit();
          } else if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
            e.preventDefault();
            save();
          }
        }}
      />
      <div className="edit-hint">
        Esc to <button type="button" className="link-btn" onClick={chat.stopEdit}>cancel</button> · Enter to <button type="button" className="link-btn" onClick={save}>save</button>
      </div>
    </div>
  );
}

export function MessageSkeleton() {
  return (
    <div className="msg-skeleton" aria-busy="true" aria-label="Loading messages">
      {[60, 40, 75, 30, 55].map((w, i) => (
        <div key={i} className={`sk-msg ${i % 2 ? 'right' : ''}`}>
          {i % 2 === 0 && <span className="sk sk-avatar small" />}
          <span className="sk sk-bubble" style={{ width: `${w}%` }} />
        </div>
      ))}
    </div>
  );
}

