import type { ChatMessage, Conversation } from '@confab/client';
import { useConfabClient } from '@confab/client/react';
import type { Attachment } from '@confab/protocol';
import { forwardRef, useCallback, useEffect, useImperativeHandle, useRef, useState } from 'react';
import { patchConversation } from '../conversations/actions.ts';
import { memberName, modelLabel } from '../conversations/helpers.ts';
import { humanError } from '../lib/errors.ts';
import { formatBytes, uploadFile } from '../lib/files.ts';
import { Icon } from '../ui/Icon.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { toast } from '../ui/toast.tsx';
import { plainPreview } from '../lib/markdown.ts';
import { useMentionAutocomplete } from '../mentions/MentionAutocomplete.tsx';
import { useAssistantModel } from './assistantModel.ts';

const MAX_FILES = 10;
const DRAFT_PREFIX = 'confab.draft.';
const draftKey = (id: string) => `${DRAFT_PREFIX}${id}`;

/** Sign-out removes every local draft: a shared computer must not keep what was being written. */
export function clearDrafts(): void {
  try {
    for (const key of Object.keys(localStorage)) if (key.startsWith(DRAFT_PREFIX)) localStorage.removeItem(key);
  } catch {
    /* storage unavailable: nothing kept */
  }
}

interface PendingFile {
  key: string;
  file: File;
  localUrl: string | null;
  status: 'uploading' | 'done' | 'error';
  attachment?: Attachment;
  error?: string;
  promise: Promise<Attachment | null>;
}

export interface ComposerHandle {
  addFiles: (files: File[]) => void;
  focus: () => void;
}

interface Props {
  conversation: Conversation | null;
  conversationId: string;
  me: string;
  replyTo: ChatMessage | null;
  onCancelReply: () => void;
  onSent: () => void;
  onEditLast: () => void;
  generating: ChatMessage | null;
  onStop: (() => void) | null;
}

/**
 * Where messages are written. Enter sends, Shift+Enter breaks the line, Up (in an empty box) edits
 * your last message, Esc drops the reply. The draft is kept per conversation (locally at once, and
 * on the server after a pause, so it follows you to other devices). Files dropped, pasted or
 * picked upload right away and go out with the next message.
 */
export const Composer = forwardRef<ComposerHandle, Props>(function Composer({ conversation, conversationId, me, replyTo, onCancelReply, onSent, onEditLast, generating, onStop }, ref) {
  const client = useConfabClient();
  const [text, setText] = useState(() => localStorage.getItem(draftKey(conversationId)) ?? '');
  const [files, setFiles] = useState<PendingFile[]>([]);
  const [sending, setSending] = useState(false);
  const [recording, setRecording] = useState<{ recorder: MediaRecorder; started: number } | null>(null);
  const [elapsed, setElapsed] = useState(0);
  const area = useRef<HTMLTextAreaElement>(null);
  const typingTimer = useRef<number | undefined>(undefined);
  const serverDraft = useRef<string | null>(conversation?.draft ?? null);
  const mention = useMentionAutocomplete(conversation, me, area, text, (value) => onChange(value));
  const assistantModel = useAssistantModel(conversation);

  // A draft from another device, when this one has none.
  useEffect(() => {
    if (!text && conversation?.draft) setText(conversation.draft);
    serverDraft.current = conversation?.draft ?? null;
    // Only on open: later server echoes of our own draft must not overwrite what is being typed.
  }, [conversationId]);

  // Keep the draft: locally at once, on the server after a pause.
  useEffect(() => {
    try {
      if (text) localStorage.setItem(draftKey(conversationId), text);
      else localStorage.removeItem(draftKey(conversationId));
    } catch {
      /* ignore */
    }
    const t = window.setTimeout(() => {
      const value = text.trim() ? text : null;
      if (value === serverDraft.current) return;
      serverDraft.current = value;
      void patchConversation(client, conversationId, { draft: value }).catch(() => {});
    }, 1500);
    return () => window.clearTimeout(t);
  }, [client, conversationId, text]);

  // Stop "typing…" when leaving the conversation.
  useEffect(
    () => () => {
      window.clearTimeout(typingTimer.current);
      client.setTyping(conversationId, false);
    },
    [client, conversationId],
  );

  useEffect(() => {
    const el = area.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 240)}px`;
  }, [text]);

  useEffect(() => {
    if (!recording) return;
    const t = window.setInterval(() => setElapsed(Date.now() - recording.started), 250);
    return () => window.clearInterval(t);
  }, [recording]);

  const addFiles = useCallback(
    (list: File[]) => {
      if (list.length === 0) return;
      setFiles((current) => {
        const room = MAX_FILES - current.length;
        if (list.length > room) toast(`You can attach up to ${MAX_FILES} files to one message.`, 'error');
        const added = list.slice(0, Math.max(0, room)).map((file): PendingFile => {
          const key = `${file.name}-${file.size}-${Math.random().toString(36).slice(2)}`;
          const localUrl = file.type.startsWith('image/') ? URL.createObjectURL(file) : null;
          const promise = uploadFile(client, conversationId, file).then(
            (attachment) => {
              setFiles((fs) => fs.map((f) => (f.key === key ? { ...f, status: 'done', attachment } : f)));
              return attachment;
            },
            (error: unknown) => {
              setFiles((fs) => fs.map((f) => (f.key === key ? { ...f, status: 'error', error: humanError(error) } : f)));
              return null;
            },
          );
          return { key, file, localUrl, status: 'uploading', promise };
        });
        return [...current, ...added];
      });
      area.current?.focus();
    },
    [client, conversationId],
  );

  useImperativeHandle(ref, () => ({ addFiles, focus: () => area.current?.focus() }), [addFiles]);

  const removeFile = (key: string) =>
    setFiles((fs) => {
      const f = fs.find((x) => x.key === key);
      if (f?.localUrl) URL.revokeObjectURL(f.localUrl);
      return fs.filter((x) => x.key !== key);
    });

  const onChange = (value: string) => {
    setText(value);
    window.clearTimeout(typingTimer.current);
    if (value.trim()) {
      client.setTyping(conversationId, true);
      typingTimer.current = window.setTimeout(() => client.setTyping(conversationId, false), 5000);
    } else client.setTyping(conversationId, false);
  };

  const send = async () => {
    const content = text.trim();
    if ((!content && files.length === 0) || sending) return;
    if (files.some((f) => f.status === 'error')) {
      toast('A file did not upload. Remove it, or add it again.', 'error');
      return;
    }
    setSending(true);
    try {
      const uploaded = await Promise.all(files.map((f) => f.promise));
      if (uploaded.some((a) => a === null)) {
        toast('A file did not upload. Remove it, or add it again.', 'error');
        return;
      }
      const attachments = uploaded as Attachment[];
      const kind =
        attachments.length === 0
          ? 'text'
          : attachments.every((a) => a.type.startsWith('image/'))
            ? 'image'
            : attachments.length === 1 && attachments[0]!.type.startsWith('audio/') && files[0]?.file.name.startsWith('voice-')
              ? 'voice'
              : 'file';
      client.send(conversationId, {
        content,
        kind,
        ...(replyTo?.id ? { replyToId: replyTo.id } : {}),
        ...(attachments.length ? { attachmentIds: attachments.map((a) => a.id) } : {}),
      });
      for (const f of files) if (f.localUrl) URL.revokeObjectURL(f.localUrl);
      setFiles([]);
      setText('');
      window.clearTimeout(typingTimer.current);
      client.setTyping(conversationId, false);
      onCancelReply();
      onSent();
    } catch (error) {
      toast(humanError(error), 'error');
    } finally {
      setSending(false);
    }
  };

  const toggleRecording = async () => {
    if (recording) {
      recording.recorder.stop();
      setRecording(null);
      return;
    }
    if (typeof MediaRecorder === 'undefined' || !navigator.mediaDevices?.getUserMedia) {
      toast('This browser cannot record audio.', 'error');
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const recorder = new MediaRecorder(stream);
      const chunks: Blob[] = [];
      recorder.ondataavailable = (e) => chunks.push(e.data);
      recorder.onstop = () => {
        stream.getTracks().forEach((t) => t.stop());
        const type = recorder.mimeType || 'audio/webm';
        const ext = type.includes('ogg') ? 'ogg' : type.includes('mp4') ? 'm4a' : 'webm';
        addFiles([new File(chunks, `voice-${new Date().toISOString().replace(/[:.]/g, '-')}.${ext}`, { type })]);
      };
      recorder.start();
      setElapsed(0);
      setRecording({ recorder, started: Date.now() });
    } catch {
      toast('Confab may not use the microphone. Allow it in the browser to record.', 'error');
    }
  };

  const uploading = files.some((f) => f.status === 'uploading');
  const canSend = (text.trim().length > 0 || files.length > 0) && !sending;
  // Images for a model that cannot see them: said before sending (the model is told only that they are attached).
  const asksAssistant = conversation?.type === 'assistant' || /(^|\s)@assistant\b/i.test(text);
  const unseen = assistantModel && !assistantModel.capabilities.vision && asksAssistant ? files.filter((f) => f.file.type.startsWith('image/')).map((f) => f.file.name) : [];
  const placeholder = conversation?.type === 'assistant' ? 'Ask anything…' : conversation ? `Message ${conversation.type === 'group' ? conversation.title ?? 'the group' : ''}`.trim() : 'Write a message…';

  return (
    <div className="composer-wrap">
      {replyTo && (
        <div className="reply-bar">
          <Icon name="reply" size={14} />
          <span>
            Replying to <strong>{memberName(conversation, replyTo.authorId, me)}</strong>: {plainPreview(replyTo.content, 80) || 'Attachment'}
          </span>
          <button type="button" className="icon-btn tiny" aria-label="Cancel reply" onClick={onCancelReply}>
            <Icon name="close" size={14} />
          </button>
        </div>
      )}
      {files.length > 0 && (
        <ul className="pending-files" aria-label="Files to send">
          {files.map((f) => (
            <li key={f.key} className={`pending-file ${f.status}`}>
              {f.localUrl ? <img src={f.localUrl} alt="" /> : <Icon name={f.file.type.startsWith('audio/') ? 'mic' : 'file'} size={20} />}
              <span className="pending-names">
                <strong>{f.file.name}</strong>
                <span>{f.status === 'uploading' ? 'Uploading…' : f.status === 'error' ? f.error : formatBytes(f.file.size)}</span>
              </span>
              {f.status === 'uploading' && <Spinner size={14} />}
              <button type="button" className="icon-btn tiny" aria-label={`Remove ${f.file.name}`} onClick={() => removeFile(f.key)}>
                <Icon name="close" size={14} />
              </button>
            </li>
          ))}
        </ul>
      )}
      {unseen.length > 0 && (
        <p className="composer-note" role="status">
          <Icon name="info" size={14} />
          <span>
            {modelLabel(assistantModel?.id)} cannot see images: the assistant will only be told that {unseen.length === 1 ? `${unseen[0]} is` : `${unseen.length} images are`} attached, not what{' '}
            {unseen.length === 1 ? 'it shows' : 'they show'}.
          </span>
        </p>
      )}
      {mention.popup}
      <form
        className="composer"
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        <label className="icon-btn attach-btn" title="Attach files" aria-label="Attach files">
          <Icon name="paperclip" size={20} />
          <input
            type="file"
            multiple
            className="visually-hidden"
            aria-label="Attach files"
            onChange={(e) => {
              addFiles([...(e.target.files ?? [])]);
              e.target.value = '';
            }}
          />
        </label>
        {recording ? (
          <div className="recording" role="status">
            <span className="rec-dot" aria-hidden="true" /> Recording… {Math.floor(elapsed / 60000)}:{String(Math.floor(elapsed / 1000) % 60).padStart(2, '0')}
          </div>
        ) : (
          <textarea
            ref={area}
            className="composer-input"
            aria-label="Message"
            placeholder={placeholder}
            rows={1}
            value={text}
            onChange={(e) => onChange(e.target.value)}
            onPaste={(e) => {
              const pasted = [...e.clipboardData.files];
              if (pasted.length) {
                e.preventDefault();
                addFiles(pasted);
              }
            }}
            {...mention.inputProps}
            onKeyDown={(e) => {
              if (mention.onKeyDown(e)) return;
              if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
                e.preventDefault();
                void send();
              } else if (e.key === 'ArrowUp' && !text && files.length === 0) {
                e.preventDefault();
                onEditLast();
              } else if (e.key === 'Escape' && replyTo) {
                e.preventDefault();
                onCancelReply();
              }
            }}
          />
        )}
        {!text.trim() && files.length === 0 && !generating && (
          <button type="button" className={`icon-btn mic-btn ${recording ? 'recording-on' : ''}`} aria-label={recording ? 'Stop recording' : 'Record a voice message'} title={recording ? 'Stop recording' : 'Voice message'} onClick={() => void toggleRecording()}>
            <Icon name={recording ? 'stop' : 'mic'} size={20} />
          </button>
        )}
        {generating && onStop && !canSend ? (
          <button type="button" className="send-btn stop" aria-label="Stop the answer" title="Stop" onClick={onStop}>
            <Icon name="stop" size={18} />
          </button>
        ) : (
          <button type="submit" className="send-btn" aria-label={uploading ? 'Uploading…' : 'Send'} title="Send (Enter)" disabled={!canSend}>
            {sending ? <Spinner size={16} /> : <Icon name="send" size={18} />}
          </button>
        )}
      </form>
    </div>
  );
});
