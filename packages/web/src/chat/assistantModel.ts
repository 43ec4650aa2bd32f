import type { ConfabClient, Conversation } from '@confab/client';
import { useConfabClient } from '@confab/client/react';
import type { ModelInfo, ModelList } from '@confab/protocol';
import { useEffect, useState } from 'react';
import { ASSISTANT_ID } from '../conversations/helpers.ts';

/** GET /api/models, shared by every composer for a few minutes: it changes only when keys or the admins' list do. */
const TTL_MS = 5 * 60_000;
const cache = new WeakMap<ConfabClient, { at: number; list: Promise<ModelList> }>();

function modelList(client: ConfabClient): Promise<ModelList> {
  const hit = cache.get(client);
  if (hit && Date.now() - hit.at < TTL_MS) return hit.list;
  const list = client.api.listModels();
  cache.set(client, { at: Date.now(), list });
  // A failure is not kept: the next composer asks again.
  list.catch(() => cache.delete(client));
  return list;
}

/**
 * The model that answers in `conversation` (an assistant conversation, or a group the assistant
 * belongs to) when the caller asks, with its capabilities; null where no assistant answers, or
 * while (or if) the list cannot be had. A conversation that names no model uses the caller's
 * default, as the server does (the asker pays and picks).
 */
export function useAssistantModel(conversation: Conversation | null): ModelInfo | null {
  const client = useConfabClient();
  const [list, setList] = useState<ModelList | null>(null);
  const answers = conversation !== null && (conversation.type === 'assistant' || (conversation.type === 'group' && conversation.members.some((m) => m.userId === ASSISTANT_ID)));
  useEffect(() => {
    if (!answers) return;
    let live = true;
    modelList(client).then(
      (l) => live && setList(l),
      () => {},
    );
    return () => {
      live = false;
    };
  }, [client, answers]);
  if (!answers || !list) return null;
  const id = conversation.model && conversation.model !== 'default' ? conversation.model : list.defaultModel;
  return list.models.find((m) => m.id === id) ?? null;
}
