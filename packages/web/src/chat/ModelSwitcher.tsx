import type { Conversation } from '@confab/client';
import { useConfabClient } from '@confab/client/react';
import type { ModelInfo, ModelList } from '@confab/protocol';
import { useCallback, useEffect, useRef, useState } from 'react';
import { modelLabel } from '../conversations/helpers.ts';
import { humanError } from '../lib/errors.ts';
import { Icon } from '../ui/Icon.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { toast } from '../ui/toast.tsx';
import './aiSettings.css';

/** What a conversation that names no model (`default`) answers with: the caller's default. */
export function effectiveModel(model: string | null, list: ModelList | null): string | null {
  if (model && model !== 'default') return model;
  return list?.defaultModel ?? list?.models[0]?.id ?? null;
}

/**
 * The models GET /api/models offers the caller, fetched when the switcher mounts and again each time
 * it opens (an admin may have changed the allow-list, the user their keys).
 */
function useModelList() {
  const client = useConfabClient();
  const [list, setList] = useState<ModelList | null>(null);
  const [error, setError] = useState<string | null>(null);
  const live = useRef(true);
  useEffect(() => {
    live.current = true;
    return () => {
      live.current = false;
    };
  }, []);
  const load = useCallback(() => {
    setError(null);
    client.api.listModels().then(
      (l) => live.current && setList(l),
      (e: unknown) => live.current && setError(humanError(e)),
    );
  }, [client]);
  useEffect(load, [load]);
  return { list, error, load };
}

/**
 * The header's subtitle of an assistant conversation. The model's name is in it only on a phone,
 * where the switcher beside the title shrinks to its icon (aiSettings.css) to leave the title room.
 */
export function AssistantSubtitle({ conversation: c }: { conversation: Conversation }) {
  return (
    <>
      AI assistant
      <span className="model-sub"> · {c.model && c.model !== 'default' ? modelLabel(c.model) : 'default model'}</span>
    </>
  );
}

/**
 * The model of an assistant conversation, in its header: a button with the current model that opens
 * the models the caller may use; picking one switches the conversation (PATCH { model }), and the
 * next answer uses it. Answers already written keep the model shown on them.
 */
export function ModelSwitcher({ conversation: c }: { conversation: Conversation }) {
  const client = useConfabClient();
  const { list, error, load } = useModelList();
  const [open, setOpen] = useState(false);
  const [saving, setSaving] = useState<string | null>(null);
  const root = useRef<HTMLDivElement>(null);
  const trigger = useRef<HTMLButtonElement>(null);
  const current = effectiveModel(c.model, list);
  const mayChange = c.role === 'owner';

  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent) => {
      if (!root.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', close);
    return () => document.removeEventListener('mousedown', close);
  }, [open]);
  // Focus the checked model (else the first) once per opening, as soon as the list is there; the
  // list fetched again on opening must not pull focus back from where the arrow keys moved it.
  const focused = useRef(false);
  useEffect(() => {
    if (!open) {
      focused.current = false;
      return;
    }
    if (!list || focused.current) return;
    focused.current = true;
    const items = root.current?.querySelectorAll<HTMLElement>('[role="menuitemradio"]');
    const checked = root.current?.querySelector<HTMLElement>('[role="menuitemradio"][aria-checked="true"]');
    (checked ?? items?.[0])?.focus();
  }, [open, list]);

  const pick = (m: ModelInfo) => {
    setOpen(false);
    trigger.current?.focus();
    if (m.id === c.model) return;
    setSaving(m.id);
    client.api
      .updateConversation(c.id, { model: m.id })
      .then(() => toast(`The next answer will come from ${m.name}.`))
      .catch((e: unknown) => toast(humanError(e), 'error'))
      .finally(() => setSaving(null));
  };

  const onKeyDown = (e: React.KeyboardEvent) => {
    if (!open) return;
    const items = [...(root.current?.querySelectorAll<HTMLElement>('[role="menuitemradio"]:not([disabled])') ?? [])];
    const i = items.indexOf(document.activeElement as HTMLElement);
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      items[(i + 1) % items.length]?.focus();
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      items[(i - 1 + items.length) % items.length]?.focus();
    } else if (e.key === 'Home' || e.key === 'End') {
      e.preventDefault();
      items[e.key === 'Home' ? 0 : items.length - 1]?.focus();
    } else if (e.key === 'Escape') {
      e.stopPropagation();
      setOpen(false);
      trigger.current?.focus();
    } else if (e.key === 'Tab') setOpen(false);
  };

  const label = modelLabel(saving ?? current ?? c.model);
  if (!mayChange) return <span className="model-badge">{label}</span>;
  return (
    <div className="model-switcher" ref={root} onKeyDown={onKeyDown}>
      <button
        ref={trigger}
        type="button"
        className="model-switcher-btn"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-label={`Model: ${label}. Switch model`}
        title="Switch the model for the next answers"
        onClick={() => {
          if (!open) load();
          setOpen((o) => !o);
        }}
      >
        <Icon name="sparkles" size={14} />
        <span className="model-switcher-name">{label}</span>
        {saving ? <Spinner size={12} /> : <Icon name="chevron" size={14} className="model-switcher-caret" />}
      </button>
      {open && (
        <div className="menu-list menu-right model-menu" role="menu" aria-label="Models">
          <div className="model-menu-head">Model for the next answers</div>
          {!list && !error && (
            <p className="model-menu-note">
              <Spinner size={12} /> Loading models…
            </p>
          )}
          {error && (
            <p className="model-menu-note" role="alert">
              Could not load the models: {error}{' '}
              <button type="button" className="link-btn" onClick={load}>
                Try again
              </button>
            </p>
          )}
          {list && list.models.length === 0 && <p className="model-menu-note">No AI model is available to you. Add your own API key in Settings → AI, or ask an admin.</p>}
          {list && list.models.length > 0 && current && !list.models.some((m) => m.id === current) && (
            <p className="model-menu-note">{modelLabel(current)} is no longer offered to you: pick another for the next answers.</p>
          )}
          {list?.models.map((m) => {
            const checked = m.id === current;
            return (
              <button key={m.id} type="button" role="menuitemradio" aria-checked={checked} className={checked ? 'checked' : ''} onClick={() => pick(m)}>
                <span className="model-menu-check" aria-hidden="true">
                  {checked && <Icon name="check" size={14} />}
                </span>
                <span className="model-menu-text">
                  <strong>{m.name}</strong>
                  <span>
                    {m.provider}
                    {m.keySource === 'user' ? ' · your key' : ''}
                    {m.id === list.defaultModel ? ' · default' : ''}
                  </span>
                </span>
              </button>
            );
          })}
        </div>
      )}
    </div>
  );
}
