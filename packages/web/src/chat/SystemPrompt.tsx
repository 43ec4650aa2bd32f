import type { Conversation } from '@confab/client';
import { useConfabClient } from '@confab/client/react';
import { LIMITS } from '@confab/protocol';
import { useEffect, useId, useRef, useState } from 'react';
import { patchConversation } from '../conversations/actions.ts';
import { ASSISTANT_ID } from '../conversations/helpers.ts';
import { toast } from '../ui/toast.tsx';
import './aiSettings.css';

/**
 * The conversation's system prompt, in its details panel: what the assistant is told before every
 * answer here. The owner of an assistant conversation, or a group's owners and admins, edit it
 * (PATCH { systemPrompt }); other members of a group with the assistant read it. Saved text applies
 * from the next answer.
 */
export function SystemPromptSettings({ conversation: c }: { conversation: Conversation }) {
  const client = useConfabClient();
  const id = useId();
  const saved = c.systemPrompt ?? '';
  const [text, setText] = useState(saved);
  const [busy, setBusy] = useState(false);
  const area = useRef<HTMLTextAreaElement>(null);
  // Someone else (or another tab) saved meanwhile: show theirs unless this one has unsaved edits.
  const lastSaved = useRef(saved);
  useEffect(() => {
    setText((current) => (current === lastSaved.current ? saved : current));
    lastSaved.current = saved;
  }, [saved]);

  const withAssistant = c.type === 'assistant' || (c.type === 'group' && c.members.some((m) => m.userId === ASSISTANT_ID));
  if (!withAssistant) return null;
  const mayEdit = c.type === 'assistant' ? c.role === 'owner' : c.role === 'owner' || c.role === 'admin';
  if (!mayEdit) {
    return c.systemPrompt ? (
      <div className="info-section">
        <h4>System prompt</h4>
        <p className="hint">What the assistant is told before every answer in this group (set by its admins).</p>
        <p className="system-prompt-read">{c.systemPrompt}</p>
      </div>
    ) : null;
  }

  const dirty = text.trim() !== saved;
  const save = async (value: string | null) => {
    setBusy(true);
    const r = await patchConversation(client, c.id, { systemPrompt: value });
    setBusy(false);
    area.current?.focus();
    if (!r) return;
    lastSaved.current = r.systemPrompt ?? '';
    setText(r.systemPrompt ?? '');
    toast(r.systemPrompt ? 'System prompt saved. It applies from the next answer.' : 'System prompt removed.');
  };
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    if (dirty && !busy) void save(text.trim() || null);
  };

  return (
    <form className="info-section system-prompt" onSubmit={submit}>
      <label htmlFor={`${id}-prompt`}>System prompt</label>
      <p className="hint" id={`${id}-hint`}>
        What the assistant is told before every answer in this {c.type === 'group' ? 'group' : 'conversation'}: a role, a tone, facts to keep in mind. Changes apply from the next answer.
      </p>
      <textarea
        ref={area}
        id={`${id}-prompt`}
        aria-describedby={`${id}-hint`}
        value={text}
        rows={5}
        maxLength={LIMITS.systemPromptChars}
        placeholder="e.g. You are a patient maths tutor. Explain step by step and ask before giving the answer away."
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          // Ctrl/⌘+Enter saves, as in the composer's multi-line mode; Esc still closes the panel.
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) submit(e);
        }}
      />
      <div className="system-prompt-actions">
        <span className="hint" aria-live="polite">
          {text.length > LIMITS.systemPromptChars - 400 ? `${text.length} / ${LIMITS.systemPromptChars} characters` : dirty ? 'Not saved yet' : saved ? 'Saved' : 'None set'}
        </span>
        {saved && (
          <button type="button" className="btn" disabled={busy} onClick={() => void save(null)}>
            Clear
          </button>
        )}
        <button type="submit" className="btn btn-primary" disabled={busy || !dirty}>
          Save prompt
        </button>
      </div>
    </form>
  );
}
