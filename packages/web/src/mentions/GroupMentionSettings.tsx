import type { Conversation } from '@confab/client';
import { useConfabClient } from '@confab/client/react';
import type { MentionChannel, ModelList } from '@confab/protocol';
import { useEffect, useId, useState } from 'react';
import { humanError } from '../lib/errors.ts';
import { Avatar } from '../ui/Avatar.tsx';
import { Icon } from '../ui/Icon.tsx';
import { toast } from '../ui/toast.tsx';

// (conversations/helpers.ts has the same two: this folder sits below chat/ and conversations/,
// which import it, so it does not import them back.)
const ASSISTANT_ID = 'assistant';
const modelLabel = (model: string) => model.slice(model.indexOf(':') + 1);

/**
 * Group settings about mentions: the AI assistant (add it, so people find it without knowing to
 * type "@assistant"; which model answers), and who may use @channel / @here.
 */
export function GroupMentionSettings({ conversation: c }: { conversation: Conversation }) {
  const client = useConfabClient();
  const id = useId();
  const isAdmin = c.role === 'owner' || c.role === 'admin';
  const hasAssistant = c.members.some((m) => m.userId === ASSISTANT_ID);
  const [models, setModels] = useState<ModelList | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    client.api.listModels().then(
      (list) => live && setModels(list),
      () => live && setModels({ models: [], defaultModel: null }),
    );
    return () => {
      live = false;
    };
  }, [client]);

  if (c.type !== 'group') return null;
  // In a group the assistant answers with the model of whoever asks: theirs by default.
  const model = c.model ?? models?.defaultModel ?? null;
  const noModel = models !== null && models.models.length === 0;

  const addAssistant = () => {
    setBusy(true);
    client.api
      .addParticipants(c.id, { userIds: [ASSISTANT_ID] })
      .then(() => toast('The assistant was added. Ask it with @assistant.'))
      .catch((e: unknown) => toast(humanError(e), 'error'))
      .finally(() => setBusy(false));
  };

  return (
    <div className="info-section mention-settings">
      <h4>AI assistant</h4>
      <div className="assistant-card">
        <Avatar id={ASSISTANT_ID} name="Assistant" size={34} kind="assistant" />
        <span className="member-names">
          <strong>Assistant {model && <span className="model-badge">{modelLabel(model)}</span>}</strong>
          <span>
            {hasAssistant
              ? 'In this group: write @assistant to ask it. It answers with the asker’s model.'
              : noModel
                ? 'No AI model is available to you yet (add a key in Settings).'
                : 'Not in this group. Once added, anyone can ask it with @assistant.'}
          </span>
        </span>
        {!hasAssistant && isAdmin && (
          <button type="button" className="btn btn-small" onClick={addAssistant} disabled={busy}>
            <Icon name="plus" size={14} /> Add assistant
          </button>
        )}
      </div>
      {!hasAssistant && !isAdmin && <p className="hint">Ask an owner or admin to add the assistant.</p>}

      <label htmlFor={`${id}-everyone`}>Who may notify everyone with @channel and @here</label>
      {isAdmin ? (
        <select
          id={`${id}-everyone`}
          value={c.mentionChannel ?? 'everyone'}
          onChange={(e) => {
            client.api.updateConversation(c.id, { mentionChannel: e.target.value as MentionChannel }).catch((error: unknown) => toast(humanError(error), 'error'));
          }}
        >
          <option value="everyone">Every member</option>
          <option value="admins">Owners and admins only</option>
        </select>
      ) : (
        <p id={`${id}-everyone`} className="hint">
          {(c.mentionChannel ?? 'everyone') === 'everyone' ? 'Every member.' : 'Owners and admins only: your @channel and @here notify no one.'}
        </p>
      )}
    </div>
  );
}
