import { useConfabClient } from '@confab/client/react';
import type { CreatedPlatformKey, PlatformKey, PlatformKeyScope } from '@confab/protocol';
import { useEffect, useId, useState } from 'react';
import { humanError } from '../lib/errors.ts';
import { confirmDialog } from '../ui/confirm.tsx';
import { Icon } from '../ui/Icon.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { toast } from '../ui/toast.tsx';
import { Card, formatDateTime, ListState, SecretOnce, userLabel, useUserNames } from './common.tsx';

/** The scopes of a key (API.md, "Building on Confab"), in words. */
const SCOPES: readonly (readonly [PlatformKeyScope, string, string])[] = [
  ['users', 'Users', 'Create and update your users, tied to your own ids for them'],
  ['tokens', 'Tokens', 'Sign your users in: mint access tokens for them'],
  ['messages', 'Messages', 'Read and send messages as one of your users'],
  ['conversations', 'Conversations', 'Start and manage conversations as one of your users'],
];

const scopeLabel = (s: PlatformKeyScope) => SCOPES.find(([id]) => id === s)?.[1] ?? s;

/** API keys for a developer's backend (docs/platform.md): create (shown once), list, revoke. */
export function ApiKeysSection() {
  const client = useConfabClient();
  const [keys, setKeys] = useState<PlatformKey[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<Set<PlatformKeyScope>>(new Set(['users', 'tokens']));
  const [busy, setBusy] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);
  const [created, setCreated] = useState<CreatedPlatformKey | null>(null);
  const names = useUserNames((keys ?? []).map((k) => k.createdBy));
  const id = useId();

  useEffect(() => {
    client.api.listPlatformKeys().then(
      (r) => setKeys(r.keys),
      (e: unknown) => setError(humanError(e)),
    );
  }, [client]);

  const toggle = (s: PlatformKeyScope) =>
    setScopes((set) => {
      const next = new Set(set);
      if (next.has(s)) next.delete(s);
      else next.add(s);
      return next;
    });

  const create = async (e: React.FormEvent) => {
    e.preventDefault();
    setFormError(null);
    if (!name.trim()) return setFormError('Give the key a name, such as the app that will use it.');
    if (scopes.size === 0) return setFormError('Tick at least one thing the key may do.');
    setBusy(true);
    try {
      const key = await client.api.createPlatformKey({ name: name.trim(), scopes: SCOPES.map(([s]) => s).filter((s) => scopes.has(s)) });
      setCreated(key);
      setKeys((list) => [key, ...(list ?? [])]);
      setName('');
    } catch (err) {
      setFormError(humanError(err));
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (k: PlatformKey) => {
    const ok = await confirmDialog({
      title: `Revoke “${k.name}”?`,
      body: 'Every request made with this key is refused from now on, so whatever uses it stops working. This cannot be undone: to continue, make a new key.',
      confirm: 'Revoke key',
      danger: true,
    });
    if (!ok) return;
    try {
      await client.api.revokePlatformKey(k.id);
      setKeys((list) => (list ?? []).filter((x) => x.id !== k.id));
      if (created?.id === k.id) setCreated(null);
      toast(`“${k.name}” is revoked.`);
    } catch (err) {
      toast(humanError(err), 'error');
    }
  };

  return (
    <>
      <Card
        id="admin-api-key-new"
        title="New API key"
        description="An API key lets your own backend use Confab on its own: create your users, sign them in, and send messages as them. Keep it on your server, never in a web page or an app."
      >
        <form className="stack" onSubmit={(e) => void create(e)} noValidate>
          <label htmlFor={`${id}-name`}>Name</label>
          <input id={`${id}-name`} value={name} maxLength={100} placeholder="e.g. Shop backend" onChange={(e) => setName(e.target.value)} />
          <fieldset className="check-list scope-list">
            <legend>What the key may do</legend>
            {SCOPES.map(([s, label, what]) => (
              <label key={s} className="switch">
                <input type="checkbox" checked={scopes.has(s)} onChange={() => toggle(s)} />
                <span>
                  <strong>{label}</strong> <span className="hint-inline">{what}</span>
                </span>
              </label>
            ))}
          </fieldset>
          {formError && (
            <p className="form-error" role="alert">
              {formError}
            </p>
          )}
          <div className="row end">
            <button type="submit" className="btn btn-primary" disabled={busy}>
              {busy ? <Spinner size={14} /> : 'Create key'}
            </button>
          </div>
        </form>
        {created && (
          <SecretOnce title={`New API key “${created.name}”`} value={created.key} label="API key" onDone={() => setCreated(null)}>
            <p className="hint hint-block">Your backend sends it as <code>Authorization: Bearer {created.prefix}…</code></p>
          </SecretOnce>
        )}
      </Card>
      <Card id="admin-api-keys" title="API keys">
        {keys && keys.length > 0 && (
          <ul className="admin-list" aria-label="API keys">
            {keys.map((k) => (
              <li key={k.id} className="admin-api-key" data-key-id={k.id}>
                <span className="admin-key-icon" aria-hidden="true">
                  <Icon name="key" size={16} />
                </span>
                <span className="admin-user-names">
                  <strong>
                    {k.name}
                    <code className="key-prefix">{k.prefix}…</code>
                  </strong>
                  <span className="chips scope-chips" aria-label="Scopes">
                    {k.scopes.map((s) => (
                      <span key={s} className="chip">
                        {scopeLabel(s)}
                      </span>
                    ))}
                  </span>
                  <span className="admin-user-meta">
                    Created {formatDateTime(k.createdAt)}
                    {k.createdBy ? ` by ${userLabel(names, k.createdBy, 'an admin')}` : ''} · {k.lastUsedAt ? `last used ${formatDateTime(k.lastUsedAt)}` : 'never used'}
                  </span>
                </span>
                <button type="button" className="btn btn-small btn-danger" onClick={() => void revoke(k)}>
                  Revoke
                </button>
              </li>
            ))}
          </ul>
        )}
        <ListState
          loading={keys === null && !error}
          error={error}
          empty={keys !== null && keys.length === 0}
          emptyText="No API keys yet. Make one when you build on Confab: your backend creates your users, signs them in with tokens it asks for, and sends messages as them (see “Building on Confab” in Confab's documentation)."
        />
      </Card>
    </>
  );
}
