import { useConfabClient } from '@confab/client/react';
import type { Invite } from '@confab/protocol';
import { useEffect, useId, useState } from 'react';
import { useInstance } from '../state/instance.ts';
import { humanError } from '../lib/errors.ts';
import { useMe } from '../state/me.tsx';
import { confirmDialog } from '../ui/confirm.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { toast } from '../ui/toast.tsx';
import { Card, CopyField, formatDateTime, ListState } from './common.tsx';

const EXPIRY = [
  ['24', '1 day'],
  ['168', '7 days'],
  ['720', '30 days'],
  ['8760', '1 year'],
] as const;

function spent(i: Invite): boolean {
  return (i.maxUses !== null && i.uses >= i.maxUses) || (i.expiresAt !== null && new Date(i.expiresAt).getTime() <= Date.now());
}

/** Invite links: make one (uses, expiry, role), copy it, revoke it. */
export function InvitesSection() {
  const client = useConfabClient();
  const { me } = useMe();
  const instance = useInstance();
  const [invites, setInvites] = useState<Invite[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [maxUses, setMaxUses] = useState('1');
  const [expires, setExpires] = useState('168');
  const [role, setRole] = useState<'user' | 'admin'>('user');
  const [email, setEmail] = useState('');
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<Invite | null>(null);
  const id = useId();

  useEffect(() => {
    client.api
      .listInvites()
      .then(
        (r) => setInvites(r.invites),
        (e: unknown) => setError(humanError(e)),
      );
  }, [client]);

  const create = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const uses = maxUses.trim() ? Number(maxUses) : undefined;
      const invite = await client.api.createInvite({
        ...(uses ? { maxUses: uses } : {}),
        expiresInHours: Number(expires),
        role,
        ...(email.trim() ? { email: email.trim() } : {}),
      });
      setCreated(invite);
      setInvites((list) => [invite, ...(list ?? [])]);
      setEmail('');
      toast(email.trim() ? 'Invite created and sent by e-mail.' : 'Invite created. Copy the link and send it.');
    } catch (err) {
      toast(humanError(err), 'error');
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (i: Invite) => {
    if (!(await confirmDialog({ title: 'Revoke this invite?', body: 'The link stops working at once. Accounts already made with it stay.', confirm: 'Revoke', danger: true }))) return;
    try {
      await client.api.revokeInvite(i.id);
      setInvites((list) => (list ?? []).filter((x) => x.id !== i.id));
      if (created?.id === i.id) setCreated(null);
    } catch (err) {
      toast(humanError(err), 'error');
    }
  };

  return (
    <>
      <Card
        id="admin-invite-new"
        title="Invite people"
        description={instance?.registration === 'open' ? 'Registration is open, so anyone can sign up; an invite can still give the admin role.' : 'With registration set to invite only, people sign up with a link made here.'}
      >
        <form className="invite-form" onSubmit={(e) => void create(e)}>
          <label>
            <span>Uses</span>
            <input type="number" min={1} max={10000} placeholder="Unlimited" aria-describedby={`${id}-uses`} value={maxUses} onChange={(e) => setMaxUses(e.target.value)} />
            <span className="hint" id={`${id}-uses`}>
              Empty for unlimited
            </span>
          </label>
          <label>
            <span>Expires after</span>
            <select value={expires} onChange={(e) => setExpires(e.target.value)}>
              {EXPIRY.map(([v, l]) => (
                <option key={v} value={v}>
                  {l}
                </option>
              ))}
            </select>
          </label>
          <label>
            <span>Role</span>
            <select value={role} onChange={(e) => setRole(e.target.value as 'user' | 'admin')}>
              <option value="user">Member</option>
              {me.role === 'owner' && <option value="admin">Admin</option>}
            </select>
          </label>
          {instance?.email && (
            <label className="invite-email">
              <span>Send to (optional)</span>
              <input type="email" placeholder="name@example.com" value={email} onChange={(e) => setEmail(e.target.value)} />
            </label>
          )}
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? <Spinner size={14} /> : 'Create invite link'}
          </button>
        </form>
        {created && (
          <div className="created-link" role="status">
            <strong>New invite link</strong>
            <CopyField value={created.url} label="New invite link" />
          </div>
        )}
      </Card>
      <Card id="admin-invites" title="Invite links">
        {invites && invites.length > 0 && (
          <ul className="admin-list" aria-label="Invite links">
            {invites.map((i) => (
              <li key={i.id} className={`admin-invite ${spent(i) ? 'is-off' : ''}`} data-invite-id={i.id}>
                <span className="admin-invite-main">
                  <CopyField value={i.url} label="Invite link" />
                  <span className="admin-user-meta">
                    {i.role === 'admin' ? 'Admin · ' : ''}
                    {i.uses} of {i.maxUses ?? '∞'} used · {i.expiresAt ? `${new Date(i.expiresAt).getTime() <= Date.now() ? 'expired' : 'expires'} ${formatDateTime(i.expiresAt)}` : 'never expires'} · made {formatDateTime(i.createdAt)}
                  </span>
                </span>
                <button type="button" className="btn btn-small btn-danger" onClick={() => void revoke(i)}>
                  Revoke
                </button>
              </li>
            ))}
          </ul>
        )}
        <ListState loading={invites === null && !error} error={error} empty={invites !== null && invites.length === 0} emptyText="No invite links yet." />
      </Card>
    </>
  );
}
