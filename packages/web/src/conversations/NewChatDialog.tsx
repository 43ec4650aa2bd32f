import type { PublicUser } from '@confab/client';
import { useConfabClient } from '@confab/client/react';
import type { ModelList } from '@confab/protocol';
import { useEffect, useId, useState } from 'react';
import { useMe } from '../state/me.tsx';
import { conversationPath, navigate } from '../state/router.ts';
import { useSettings } from '../state/settings.tsx';
import { humanError } from '../lib/errors.ts';
import { Avatar } from '../ui/Avatar.tsx';
import { Icon } from '../ui/Icon.tsx';
import { Modal } from '../ui/Modal.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { ChannelFields, type ChannelChoice } from './ChannelFields.tsx';

export type NewChatKind = 'direct' | 'group' | 'assistant';

/** Finds people by name or handle (GET /api/users?query=), debounced. */
export function useUserSearch(query: string, exclude: readonly string[] = []) {
  const client = useConfabClient();
  const [users, setUsers] = useState<PublicUser[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const key = exclude.join(',');
  useEffect(() => {
    const q = query.trim();
    if (!q) {
      setUsers(null);
      return;
    }
    let cancelled = false;
    const t = window.setTimeout(() => {
      client.api.searchUsers({ query: q, limit: 10 }).then(
        (r) => {
          if (cancelled) return;
          const skip = new Set(key.split(','));
          setUsers(r.users.filter((u) => !skip.has(u.id)));
          setError(null);
        },
        (e: unknown) => !cancelled && setError(humanError(e)),
      );
    }, 200);
    return () => {
      cancelled = true;
      window.clearTimeout(t);
    };
  }, [client, query, key]);
  return { users, error };
}

export function NewChatDialog({ initial, onClose, publicChannel = false }: { initial: NewChatKind; onClose: () => void; publicChannel?: boolean }) {
  const [kind, setKind] = useState<NewChatKind>(initial);
  const titles: Record<NewChatKind, string> = { direct: 'New message', group: publicChannel ? 'New channel' : 'New group', assistant: 'New AI chat' };
  return (
    <Modal title={titles[kind]} onClose={onClose}>
      <div className="tabs" role="tablist" aria-label="Kind of conversation">
        {(['direct', 'group', 'assistant'] as const).map((k) => (
          <button key={k} type="button" role="tab" aria-selected={kind === k} className={kind === k ? 'active' : ''} onClick={() => setKind(k)}>
            {k === 'direct' ? 'Person' : k === 'group' ? 'Group' : 'AI assistant'}
          </button>
        ))}
      </div>
      {kind === 'direct' && <DirectForm onDone={onClose} />}
      {kind === 'group' && <GroupForm onDone={onClose} publicChannel={publicChannel} />}
      {kind === 'assistant' && <AssistantForm onDone={onClose} />}
    </Modal>
  );
}

/**
 * Creates a conversation, then closes the dialog and opens it. `busy` names what is being created
 * (a person's id, 'group' or 'assistant'); a failure is shown and the form can be sent again.
 */
function useCreateAndOpen(onDone: () => void) {
  const [busy, setBusy] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const createAndOpen = async (what: string, create: () => Promise<{ id: string }>) => {
    setBusy(what);
    setFailure(null);
    try {
      const conversation = await create();
      onDone();
      navigate(conversationPath(conversation.id));
    } catch (err) {
      setFailure(humanError(err));
      setBusy(null);
    }
  };
  return { busy, failure, setFailure, createAndOpen };
}

function DirectForm({ onDone }: { onDone: () => void }) {
  const client = useConfabClient();
  const { me } = useMe();
  const [query, setQuery] = useState('');
  const { users, error } = useUserSearch(query, [me.id]);
  const { busy, failure, createAndOpen } = useCreateAndOpen(onDone);
  const id = useId();
  const start = (u: PublicUser) => createAndOpen(u.id, () => client.createDirect(u.id));
  return (
    <div className="stack">
      <label htmlFor={`${id}-q`}>Find a person by name or username</label>
      <input id={`${id}-q`} autoFocus autoComplete="off" placeholder="e.g. Alice or @alice" value={query} onChange={(e) => setQuery(e.target.value)} />
      <UserResults users={users} error={error ?? failure} query={query} busy={busy} onPick={(u) => void start(u)} />
    </div>
  );
}

function UserResults({
  users,
  error,
  query,
  busy,
  onPick,
  selected,
}: {
  users: PublicUser[] | null;
  error: string | null;
  query: string;
  busy: string | null;
  onPick: (u: PublicUser) => void;
  selected?: ReadonlySet<string>;
}) {
  if (error) return <p className="form-error">{error}</p>;
  if (!query.trim()) return <p className="hint">Type at least one letter of their name.</p>;
  if (users === null)
    return (
      <p className="hint">
        <Spinner size={12} /> Searching…
      </p>
    );
  if (users.length === 0) return <p className="hint">Nobody matches “{query.trim()}”.</p>;
  return (
    <ul className="user-results" aria-label="People found">
      {users.map((u) => (
        <li key={u.id}>
          <button type="button" className={`user-pick ${selected?.has(u.id) ? 'selected' : ''}`} onClick={() => onPick(u)} disabled={busy !== null} aria-pressed={selected ? selected.has(u.id) : undefined}>
            <Avatar id={u.id} name={u.displayName} url={u.avatarUrl} size={32} />
            <span className="user-pick-names">
              <strong>{u.displayName}</strong>
              <span>@{u.handle}</span>
            </span>
            {busy === u.id && <Spinner size={14} />}
            {selected?.has(u.id) && <Icon name="check" />}
          </button>
        </li>
      ))}
    </ul>
  );
}

function GroupForm({ onDone, publicChannel }: { onDone: () => void; publicChannel: boolean }) {
  const client = useConfabClient();
  const { me } = useMe();
  const [title, setTitle] = useState('');
  const [channel, setChannel] = useState<ChannelChoice>({ visibility: publicChannel ? 'public' : 'private', topic: '' });
  const [query, setQuery] = useState('');
  const [picked, setPicked] = useState<PublicUser[]>([]);
  const { users, error } = useUserSearch(query, [me.id]);
  const { busy, failure, setFailure, createAndOpen } = useCreateAndOpen(onDone);
  const id = useId();
  const selected = new Set(picked.map((u) => u.id));
  const create = async (e: React.FormEvent) => {
    e.preventDefault();
    if (!title.trim()) {
      setFailure('Give the group a name.');
      return;
    }
    await createAndOpen('group', () => client.createGroup(title.trim(), picked.map((u) => u.id), { visibility: channel.visibility, topic: channel.topic.trim() || null }));
  };
  return (
    <form className="stack" onSubmit={create}>
      <label htmlFor={`${id}-title`}>Group name</label>
      <input id={`${id}-title`} autoFocus required maxLength={200} value={title} onChange={(e) => setTitle(e.target.value)} placeholder="e.g. Weekend trip" />
      <ChannelFields value={channel} onChange={setChannel} />
      <label htmlFor={`${id}-q`}>Add people</label>
      {picked.length > 0 && (
        <div className="chips" aria-label="People added">
          {picked.map((u) => (
            <button key={u.id} type="button" className="chip" onClick={() => setPicked((p) => p.filter((x) => x.id !== u.id))} aria-label={`Remove ${u.displayName}`}>
              {u.displayName} <Icon name="close" size={12} />
            </button>
          ))}
        </div>
      )}
      <input id={`${id}-q`} autoComplete="off" placeholder="Search by name" value={query} onChange={(e) => setQuery(e.target.value)} />
      <UserResults
        users={users}
        error={error}
        query={query}
        busy={null}
        selected={selected}
        onPick={(u) => setPicked((p) => (p.some((x) => x.id === u.id) ? p.filter((x) => x.id !== u.id) : [...p, u]))}
      />
      {failure && <p className="form-error" role="alert">{failure}</p>}
      <button type="submit" className="btn btn-primary btn-block" disabled={busy !== null}>
        {busy ? <Spinner size={16} /> : `Create ${channel.visibility === 'public' ? 'channel' : 'group'}${picked.length ? ` with ${picked.length + 1} people` : ''}`}
      </button>
    </form>
  );
}

export function useModels() {
  const client = useConfabClient();
  const [models, setModels] = useState<ModelList | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    client.api.listModels().then(setModels, (e: unknown) => setError(humanError(e)));
  }, [client]);
  return { models, error };
}

function AssistantForm({ onDone }: { onDone: () => void }) {
  const client = useConfabClient();
  const { settings } = useSettings();
  const { models, error } = useModels();
  const [model, setModel] = useState<string>('');
  const { busy, failure, createAndOpen } = useCreateAndOpen(onDone);
  const id = useId();
  useEffect(() => {
    if (!models || model) return;
    const preferred = settings.defaultModel && models.models.some((m) => m.id === settings.defaultModel) ? settings.defaultModel : models.defaultModel;
    setModel(preferred ?? models.models[0]?.id ?? '');
  }, [models, model, settings.defaultModel]);
  const create = async (e: React.FormEvent) => {
    e.preventDefault();
    await createAndOpen('assistant', () => client.createAssistant(model ? { model } : {}));
  };
  return (
    <form className="stack" onSubmit={create}>
      <label htmlFor={`${id}-model`}>Model</label>
      {error && <p className="form-error">{error}</p>}
      {!models && !error && (
        <p className="hint">
          <Spinner size={12} /> Loading models…
        </p>
      )}
      {models && models.models.length === 0 && <p className="hint">No AI model is available yet. Add your own API key in Settings → AI.</p>}
      {models && models.models.length > 0 && (
        <select id={`${id}-model`} value={model} onChange={(e) => setModel(e.target.value)}>
          {models.models.map((m) => (
            <option key={m.id} value={m.id}>
              {m.name} · {m.provider}
              {m.keySource === 'user' ? ' (your key)' : ''}
            </option>
          ))}
        </select>
      )}
      {failure && <p className="form-error" role="alert">{failure}</p>}
      <button type="submit" className="btn btn-primary btn-block" disabled={busy !== null || !models || models.models.length === 0} autoFocus>
        {busy ? <Spinner size={16} /> : 'Start AI chat'}
      </button>
    </form>
  );
}
