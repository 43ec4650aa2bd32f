import { ConfabError } from '@confab/client';
import { useConfabClient } from '@confab/client/react';
import type { LinkedSignIn } from '@confab/protocol';
import { useCallback, useEffect, useState } from 'react';
import { formatDateTime, ListState } from '../admin/common.tsx';
import { humanError } from '../lib/errors.ts';
import { useInstance } from '../state/instance.ts';
import { confirmDialog } from '../ui/confirm.tsx';
import { toast } from '../ui/toast.tsx';

/**
 * The single sign-on providers this account signs in with (docs/sso.md, "Your links"), each with
 * Unlink. Shown only where the instance has providers or the account has links.
 */
export function LinkedSignIns() {
  const client = useConfabClient();
  const instance = useInstance();
  const [links, setLinks] = useState<LinkedSignIn[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => {
    client.api.listLinkedSignIns().then(
      (r) => setLinks(r.links),
      (e: unknown) => setError(humanError(e)),
    );
  }, [client]);
  useEffect(load, [load]);
  if ((instance?.sso.length ?? 0) === 0 && (links?.length ?? 0) === 0) return null;

  const unlink = async (link: LinkedSignIn) => {
    const ok = await confirmDialog({
      title: `Stop signing in with ${link.name}?`,
      body: `You will no longer be able to sign in with ${link.name} unless it is linked again (signing in with it links it again only through a verified e-mail address).`,
      confirm: 'Unlink',
      danger: true,
    });
    if (!ok) return;
    try {
      await client.api.unlinkSignIn(link.provider);
      setLinks((list) => (list ?? []).filter((l) => l.provider !== link.provider));
      toast(`${link.name} is unlinked.`);
    } catch (e) {
      toast(e instanceof ConfabError && e.code === 'CONFLICT' ? `${link.name} is how you sign in: set a password first (ask for a reset link), then unlink it.` : humanError(e), 'error');
    }
  };

  return (
    <div className="stack" id="settings-linked-sign-ins">
      <h3 className="sub-title">Single sign-on</h3>
      {links && links.length > 0 && (
        <ul className="session-list" aria-label="Linked sign-in providers">
          {links.map((l) => (
            <li key={l.provider}>
              <span className="session-main">
                <strong>{l.name}</strong>
                <span>
                  {l.email ? `${l.email} · ` : ''}linked {formatDateTime(l.linkedAt)}
                </span>
              </span>
              <button type="button" className="btn btn-small" onClick={() => void unlink(l)}>
                Unlink
              </button>
            </li>
          ))}
        </ul>
      )}
      <ListState loading={links === null && !error} error={error} empty={links !== null && links.length === 0} emptyText="You sign in with your password only. Signing in with a provider on the sign-in page links it." />
    </div>
  );
}
