import type { Visibility } from '@confab/client';
import { LIMITS } from '@confab/protocol';
import { useId } from 'react';

export interface ChannelChoice {
  visibility: Visibility;
  topic: string;
}

/** New group: public channel or private group, and an optional topic. */
export function ChannelFields({ value, onChange }: { value: ChannelChoice; onChange: (v: ChannelChoice) => void }) {
  const id = useId();
  return (
    <>
      <label className="switch">
        <input type="checkbox" checked={value.visibility === 'public'} onChange={(e) => onChange({ ...value, visibility: e.target.checked ? 'public' : 'private' })} />
        <span>Public channel: anyone on this Confab can find and join it</span>
      </label>
      <label htmlFor={`${id}-topic`}>Topic (optional)</label>
      <input id={`${id}-topic`} maxLength={LIMITS.topicChars} value={value.topic} onChange={(e) => onChange({ ...value, topic: e.target.value })} placeholder="What is it about?" />
    </>
  );
}
