import type { ChatMessage, ConfabClient, Conversation } from '@confab/client';
import { useConfabClient } from '@confab/client/react';
import type { MessageVersion } from '@confab/protocol';
import { useEffect, useState } from 'react';
import { ASSISTANT_ID } from '../conversations/helpers.ts';
import { formatTime } from '../lib/time.ts';
import { Icon } from '../ui/Icon.tsx';
import './aiSettings.css';

// Browsing a message's versions, as ChatGPT does: "‹ 2/3 ›" under an answer that was regenerated
// (or a question that was edited) in an AI conversation. The list comes from
// GET /api/messages/:id/versions (oldest first, the current one last); which one is shown is the
// viewer's own choice, kept in this component only. The latest is shown by default, and again
// whenever the message changes (a new regenerate or edit).

/** Fetched lists by message and state (a changed message is a new key), shared by remounts of the row. */
const cache = new Map<string, Promise<MessageVersion[]>>();

function loadVersions(client: ConfabClient, messageId: string, key: string): Promise<MessageVersion[]> {
  let p = cache.get(key);
  if (!p) {
    if (cache.size > 300) cache.clear();
    p = client.api.listMessageVersions(messageId).then((r) => r.versions);
    // A failure is not kept: the next mount asks again.
    p.catch(() => cache.delete(key));
    cache.set(key, p);
  }
  return p;
}

/**
 * Which messages offer versions: in an assistant conversation every edited or regenerated one; in a
 * group only the assistant's answers (people's edits there stay as they are: "(edited)").
 */
function hasVersions(m: ChatMessage, conversation: Conversation | null): boolean {
  if (m.id === null || m.editedAt === null || m.deletedAt !== null || m.kind === 'system' || m.status === 'streaming') return false;
  return conversation?.type === 'assistant' || m.authorId === ASSISTANT_ID;
}

export interface Versions {
  /** How many versions there are (0 until known, or when the message has none to browse). */
  count: number;
  /** The one shown, 0-based; count - 1 is the current one. */
  index: number;
  /** An earlier version being looked at, or null for the message as it is now. */
  shown: MessageVersion | null;
  go(index: number): void;
}

export function useVersions(m: ChatMessage, conversation: Conversation | null): Versions {
  const client = useConfabClient();
  const enabled = hasVersions(m, conversation);
  const key = `${m.id}:${m.editedAt}:${m.status}`;
  const [loaded, setLoaded] = useState<{ key: string; versions: MessageVersion[] } | null>(null);
  const [picked, setPicked] = useState<{ key: string; index: number } | null>(null);
  useEffect(() => {
    if (!enabled || !m.id) return;
    let live = true;
    loadVersions(client, m.id, key).then(
      (versions) => live && setLoaded({ key, versions }),
      // Not worth a toast: the message itself is shown as ever, only the browsing is missing.
      () => live && setLoaded({ key, versions: [] }),
    );
    return () => {
      live = false;
    };
  }, [client, enabled, m.id, key]);
  const versions = enabled && loaded?.key === key ? loaded.versions : [];
  const count = versions.length > 1 ? versions.length : 0;
  // A choice made for an earlier state of the message no longer applies: back to the latest.
  const index = picked?.key === key && picked.index < count ? picked.index : count - 1;
  return {
    count,
    index,
    shown: count > 0 && index < count - 1 ? versions[index]! : null,
    go: (i) => setPicked({ key, index: Math.max(0, Math.min(count - 1, i)) }),
  };
}

/** ‹ 2/3 ›: the previous and next version, and which one this is; nothing when there is one. */
export function VersionPager({ v }: { v: Versions }) {
  if (v.count < 2) return null;
  const label = `Version ${v.index + 1} of ${v.count}`;
  return (
    <div className="version-pager" role="group" aria-label={`${label}${v.shown ? `, from ${formatTime(v.shown.editedAt)}` : ', the current one'}`}>
      <button type="button" className="icon-btn tiny" aria-label="Previous version" title="Previous version" disabled={v.index === 0} onClick={() => v.go(v.index - 1)}>
        <Icon name="back" size={14} />
      </button>
      <span className="version-count" aria-hidden="true">
        {v.index + 1}/{v.count}
      </span>
      <button type="button" className="icon-btn tiny" aria-label="Next version" title="Next version" disabled={v.index === v.count - 1} onClick={() => v.go(v.index + 1)}>
        <Icon name="chevron" size={14} />
      </button>
    </div>
  );
}
