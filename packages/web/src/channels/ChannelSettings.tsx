import type { Conversation } from '@confab/client';
import { useConfabClient } from '@confab/client/react';
import { LIMITS } from '@confab/protocol';
import { useId, useRef, useState } from 'react';
import { patchConversation } from '../conversations/actions.ts';
import { toast } from '../ui/toast.tsx';
import './channels.css';

/** Group settings: the topic (admins edit it, others read it) and whether the group is a public channel. */
export function ChannelSettings({ conversation: c }: { conversation: Conversation }) {
  const client = useConfabClient();
  const [topic, setTopic] = useState(c.topic ?? '');
  const [busy, setBusy] = useState(false);
  const id = useId();
  // Saving disables the control that had focus; focus goes back to it so the dialog keeps the
  // keyboard (Tab, Esc) instead of losing it to the page.
  const topicInput = useRef<HTMLInputElement>(null);
  const visibilitySwitch = useRef<HTMLInputElement>(null);
  if (c.type !== 'group') return null;
  const isAdmin = c.role === 'owner' || c.role === 'admin';
  if (!isAdmin) {
    return c.topic ? (
      <div className="info-section">
        <h4>Topic</h4>
        <p className="channel-topic-read">{c.topic}</p>
      </div>
    ) : null;
  }
  const save = async (e: React.FormEvent) => {
    e.preventDefault();
    if (topic.trim() === (c.topic ?? '')) return;
    setBusy(true);
    const r = await patchConversation(client, c.id, { topic: topic.trim() || null });
    setBusy(false);
    topicInput.current?.focus();
    if (r) toast(r.topic ? 'Topic updated.' : 'Topic removed.');
  };
  const setPublic = async (on: boolean) => {
    setBusy(true);
    const r = await patchConversation(client, c.id, { visibility: on ? 'public' : 'private' });
    setBusy(false);
    requestAnimationFrame(() => visibilitySwitch.current?.focus());
    if (r) toast(on ? 'Anyone on this Confab can now find and join this channel.' : 'Only members can see this group now.');
  };
  return (
    <>
      <form className="info-section row-form" onSubmit={(e) => void save(e)}>
        <label htmlFor={`${id}-topic`}>Topic</label>
        <div className="row">
          <input ref={topicInput} id={`${id}-topic`} value={topic} maxLength={LIMITS.topicChars} onChange={(e) => setTopic(e.target.value)} placeholder="What is this group about?" />
          <button type="submit" className="btn" disabled={busy || topic.trim() === (c.topic ?? '')}>
            Save
          </button>
        </div>
      </form>
      <div className="info-section">
        <label className="switch">
          <input ref={visibilitySwitch} type="checkbox" checked={c.visibility === 'public'} disabled={busy} onChange={(e) => void setPublic(e.target.checked)} />
          <span>Public channel: anyone on this Confab can find and join it</span>
        </label>
      </div>
    </>
  );
}
