import type { ConfabClient } from '@confab/client';
import { useConfabClient } from '@confab/client/react';
import type { PublicUser } from '@confab/protocol';
import { useEffect, useState } from 'react';
import { copyText } from '../lib/clipboard.ts';
import { Icon } from '../ui/Icon.tsx';
import { toast } from '../ui/toast.tsx';
import './admin.css';

const dateTimeFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' });
const dateFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });

export function formatDateTime(iso: string | null | undefined): string {
  return iso ? dateTimeFmt.format(new Date(iso)) : '—';
}
export function formatDate(iso: string | null | undefined): string {
  return iso ? dateFmt.format(new Date(iso)) : '—';
}

/** A card of the admin console or of the settings, titled, with an optional line under the title. */
export function Card({
  id,
  title,
  children,
  description,
  actions,
  className = '',
}: {
  id: string;
  title: string;
  description?: string;
  children: React.ReactNode;
  actions?: React.ReactNode;
  className?: string;
}) {
  return (
    <section className={`card ${className}`} id={id} aria-labelledby={`${id}-title`}>
      <div className="card-head">
        <h2 id={`${id}-title`}>{title}</h2>
        {actions}
      </div>
      {description && <p className="card-desc">{description}</p>}
      {children}
    </section>
  );
}

/** A read-only value with a Copy button: invite and password reset links, keys and tokens shown once. */
export function CopyField({ value, label, copied = 'Link copied.' }: { value: string; label: string; copied?: string }) {
  const copy = () =>
    copyText(value).then(
      () => toast(copied),
      () => toast('Could not copy. Select the text and copy it yourself.', 'error'),
    );
  return (
    <div className="copy-field">
      <input readOnly aria-label={label} value={value} onFocus={(e) => e.currentTarget.select()} />
      <button type="button" className="btn btn-small" onClick={() => void copy()}>
        <Icon name="copy" size={14} /> Copy
      </button>
    </div>
  );
}

/**
 * A secret the server shows only once (an API key, a webhook's signing secret, a bot token): the
 * value with Copy, and a plain warning that it cannot be seen again. `onDone` hides it.
 */
export function SecretOnce({ title, value, label, children, onDone }: { title: string; value: string; label: string; children?: React.ReactNode; onDone: () => void }) {
  return (
    <div className="created-link secret-once" role="status" aria-label={title}>
      <strong>{title}</strong>
      <CopyField value={value} label={label} copied={`${label} copied.`} />
      <p className="secret-once-warn">
        <Icon name="alert" size={14} /> Copy it now and keep it somewhere safe: you will not see it again. If it is lost, make a new one.
      </p>
      {children}
      <div className="row end">
        <button type="button" className="btn btn-small" onClick={onDone}>
          Done, I copied it
        </button>
      </div>
    </div>
  );
}

const nameCache = new Map<string, Promise<PublicUser | null>>();

function lookup(client: ConfabClient, id: string): Promise<PublicUser | null> {
  let p = nameCache.get(id);
  if (!p) {
    p = client.api.getUser(id).catch(() => null);
    nameCache.set(id, p);
  }
  return p;
}

/** Names for user ids (audit entries, reports), looked up once each. */
export function useUserNames(ids: readonly (string | null | undefined)[]): Map<string, PublicUser> {
  const client = useConfabClient();
  const [names, setNames] = useState<Map<string, PublicUser>>(new Map());
  const key = [...new Set(ids.filter((x): x is string => Boolean(x)))].sort().join(',');
  useEffect(() => {
    if (!key) return;
    let live = true;
    void Promise.all(key.split(',').map((id) => lookup(client, id))).then((users) => {
      if (!live) return;
      setNames(new Map(users.filter((u): u is PublicUser => u !== null).map((u) => [u.id, u])));
    });
    return () => {
      live = false;
    };
  }, [client, key]);
  return names;
}

export function userLabel(names: Map<string, PublicUser>, id: string | null | undefined, fallback = 'Someone'): string {
  if (!id) return fallback;
  const u = names.get(id);
  return u ? `${u.displayName} (@${u.handle})` : fallback;
}

/** A loading, error or empty line in a list, in words. */
export function ListState({ loading, error, empty, emptyText }: { loading: boolean; error: string | null; empty: boolean; emptyText: string }) {
  if (error)
    return (
      <p className="form-error" role="alert">
        {error}
      </p>
    );
  if (loading) return <p className="hint list-state">Loading…</p>;
  if (empty) return <p className="hint list-state">{emptyText}</p>;
  return null;
}
