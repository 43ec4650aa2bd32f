import { useConfabClient } from '@confab/client/react';
import type { AdminUser, InstanceRole, PasswordResetLink } from '@confab/protocol';
import { useCallback, useEffect, useState } from 'react';
import { humanError } from '../lib/errors.ts';
import { formatLastSeen } from '../lib/time.ts';
import { ASSISTANT_ID } from '../conversations/helpers.ts';
import { useMe } from '../state/me.tsx';
import { Avatar } from '../ui/Avatar.tsx';
import { confirmDialog } from '../ui/confirm.tsx';
import { Icon } from '../ui/Icon.tsx';
import { Menu } from '../ui/Menu.tsx';
import { Modal } from '../ui/Modal.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { toast } from '../ui/toast.tsx';
import { Card, CopyField, formatDate, formatDateTime, ListState } from './common.tsx';

const ROLE_LABEL: Record<InstanceRole, string> = { owner: 'Owner', admin: 'Admin', user: 'Member' };

/** Every account: search, role, deactivate or reactivate, a reset link, delete. */
export function UsersSection() {
  const client = useConfabClient();
  const { me } = useMe();
  const [query, setQuery] = useState('');
  const [users, setUsers] = useState<AdminUser[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [resetLink, setResetLink] = useState<{ user: AdminUser; link: PasswordResetLink } | null>(null);

  const load = useCallback(
    (q: string, from?: string) => {
      setLoading(true);
      let live = true;
      client.api
        .listAdminUsers({ query: q, limit: 50, ...(from ? { cursor: from } : {}) })
        .then(
          (r) => {
            if (!live) return;
            setUsers((u) => (from ? [...u, ...r.users] : r.users));
            setCursor(r.nextCursor);
            setError(null);
            setLoading(false);
          },
          (e: unknown) => {
            if (!live) return;
            setError(humanError(e));
            setLoading(false);
          },
        );
      return () => {
        live = false;
      };
    },
    [client],
  );
  useEffect(() => {
    const t = window.setTimeout(() => load(query.trim()), query ? 250 : 0);
    return () => window.clearTimeout(t);
  }, [load, query]);

  const replace = (u: AdminUser) => setUsers((list) => list.map((x) => (x.id === u.id ? u : x)));

  const setRole = async (u: AdminUser, role: InstanceRole) => {
    try {
      replace(await client.api.updateAdminUser(u.id, { role }));
      toast(`${u.displayName} is now ${role === 'user' ? 'a member' : `an ${ROLE_LABEL[role].toLowerCase()}`}.`);
    } catch (e) {
      toast(humanError(e), 'error');
    }
  };
  const setStatus = async (u: AdminUser, status: 'active' | 'deactivated') => {
    if (
      status === 'deactivated' &&
      !(await confirmDialog({
        title: `Deactivate ${u.displayName}?`,
        body: 'They are signed out everywhere at once and cannot sign in until reactivated. Their messages stay.',
        confirm: 'Deactivate',
        danger: true,
      }))
    )
      return;
    try {
      replace(await client.api.updateAdminUser(u.id, { status }));
      toast(status === 'deactivated' ? `${u.displayName} is deactivated and signed out.` : `${u.displayName} can sign in again.`);
    } catch (e) {
      toast(humanError(e), 'error');
    }
  };
  const makeResetLink = async (u: AdminUser) => {
    try {
      setResetLink({ user: u, link: await client.api.createPasswordResetLink(u.id) });
    } catch (e) {
      toast(humanError(e), 'error');
    }
  };
  const remove = async (u: AdminUser) => {
    if (
      !(await confirmDialog({
        title: `Delete ${u.displayName}'s account?`,
        body: 'This cannot be undone. Their profile becomes "Deleted user", the text of their messages and their files are erased; conversations stay whole for the others.',
        confirm: 'Delete account',
        danger: true,
      }))
    )
      return;
    try {
      await client.api.deleteUser(u.id);
      setUsers((list) => list.filter((x) => x.id !== u.id));
      toast(`${u.displayName}'s account is deleted.`);
    } catch (e) {
      toast(humanError(e), 'error');
    }
  };

  const owner = me.role === 'owner';
  return (
    <Card id="admin-users" title="Users" description="Roles: owners and admins run the instance; only an owner can make or unmake admins and owners.">
      <div className="admin-search">
        <Icon name="search" size={16} />
        <input type="search" aria-label="Search users by name, username or email" placeholder="Search by name, username or email" value={query} onChange={(e) => setQuery(e.target.value)} />
      </div>
      {users.length > 0 && (
        <ul className="admin-list" aria-label="Users">
          {users.map((u) => {
            const self = u.id === me.id;
            const deactivated = u.status === 'deactivated';
            // The built-in assistant is part of the server, not an account anyone runs.
            if (u.id === ASSISTANT_ID)
              return (
                <li key={u.id} className="admin-user" data-user-id={u.id}>
                  <Avatar id={u.id} name={u.displayName} size={36} kind="assistant" />
                  <span className="admin-user-names">
                    <strong>
                      {u.displayName} <span className="chip">Built-in assistant</span>
                    </strong>
                    <span>@{u.handle}</span>
                  </span>
                </li>
              );
            return (
              <li key={u.id} className={`admin-user ${deactivated ? 'is-off' : ''}`} data-user-id={u.id}>
                <Avatar id={u.id} name={u.displayName} size={36} />
                <span className="admin-user-names">
                  <strong>
                    {u.displayName}
                    {self && <span className="hint-inline"> (you)</span>}
                    {u.isBot && <span className="chip">{u.id === ASSISTANT_ID ? 'Built-in assistant' : 'Bot'}</span>}
                    {deactivated && <span className="chip chip-danger">Deactivated</span>}
                    {u.status === 'deleted' && <span className="chip">Deleted</span>}
                  </strong>
                  <span>
                    @{u.handle}
                    {u.email ? ` · ${u.email}` : ''}
                  </span>
                  <span className="admin-user-meta">
                    Joined {formatDate(u.createdAt)} · {u.lastSeenAt ? formatLastSeen(u.lastSeenAt) : 'never seen'}
                  </span>
                </span>
                <select
                  className="admin-role"
                  aria-label={`Role of ${u.displayName}`}
                  value={u.role}
                  disabled={u.status === 'deleted' || !owner || self || u.isBot}
                  onChange={(e) => void setRole(u, e.target.value as InstanceRole)}
                >
                  <option value="user">Member</option>
                  <option value="admin" disabled={!owner}>
                    Admin
                  </option>
                  <option value="owner" disabled={!owner}>
                    Owner
                  </option>
                </select>
                {/* An admin deactivates plain users only; owners anyone but themselves. */}
                {u.status !== 'deleted' && !self && (owner || u.role === 'user') && (
                  <button type="button" className={`btn btn-small ${deactivated ? '' : 'btn-danger'}`} onClick={() => void setStatus(u, deactivated ? 'active' : 'deactivated')}>
                    {deactivated ? 'Reactivate' : 'Deactivate'}
                  </button>
                )}
                {u.status !== 'deleted' && (
                  <Menu
                    label={`More actions for ${u.displayName}`}
                    button={<Icon name="more" size={18} />}
                    items={[
                      { label: 'Make a password reset link', icon: <Icon name="link" />, onSelect: () => void makeResetLink(u) },
                      ...(self ? [] : [{ label: 'Delete account', icon: <Icon name="trash" />, danger: true, onSelect: () => void remove(u) }]),
                    ]}
                  />
                )}
              </li>
            );
          })}
        </ul>
      )}
      <ListState loading={loading && users.length === 0} error={error} empty={!loading && users.length === 0} emptyText={query ? 'Nobody matches that search.' : 'No accounts yet.'} />
      {cursor && (
        <div className="row center">
          <button type="button" className="btn" disabled={loading} onClick={() => load(query.trim(), cursor)}>
            {loading ? <Spinner size={14} /> : 'Show more'}
          </button>
        </div>
      )}
      {resetLink && (
        <Modal title="Password reset link" onClose={() => setResetLink(null)}>
          <div className="stack">
            <p className="confirm-body">
              Give this link to {resetLink.user.displayName} (privately). It works once, until {formatDateTime(resetLink.link.expiresAt)}; setting a new password signs them out everywhere.
            </p>
            <CopyField value={resetLink.link.url} label="Password reset link" />
            <div className="modal-actions">
              <button type="button" className="btn btn-primary" onClick={() => setResetLink(null)}>
                Done
              </button>
            </div>
          </div>
        </Modal>
      )}
    </Card>
  );
}
