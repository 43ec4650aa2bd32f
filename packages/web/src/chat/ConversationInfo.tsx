import type { Conversation, Member, PublicUser } from '@confab/client';
import { useConfabClient, usePresence, useTyping } from '@confab/client/react';
import type { Role } from '@confab/protocol';
import { useId, useState } from 'react';
import { BlockButton } from './Safety.tsx';
import { useMe } from '../state/me.tsx';
import { navigate } from '../state/router.ts';
import { deleteOrLeave, patchConversation } from '../conversations/actions.ts';
import { ASSISTANT_ID, conversationTitle, modelLabel } from '../conversations/helpers.ts';
import { useUserSearch } from '../conversations/NewChatDialog.tsx';
import { humanError } from '../lib/errors.ts';
import { formatLastSeen } from '../lib/time.ts';
import { Avatar } from '../ui/Avatar.tsx';
import { Icon } from '../ui/Icon.tsx';
import { Modal } from '../ui/Modal.tsx';
import { toast } from '../ui/toast.tsx';
import { confirmDialog } from '../ui/confirm.tsx';
import { ChannelSettings } from '../channels/ChannelSettings.tsx';
import { GroupMentionSettings } from '../mentions/GroupMentionSettings.tsx';
import { SystemPromptSettings } from './SystemPrompt.tsx';

const ROLES: Role[] = ['owner', 'admin', 'moderator', 'member'];
const RANK: Record<Role, number> = { owner: 3, admin: 2, moderator: 1, member: 0 };

/** Details and group settings: name, notifications, members and roles, leave or delete. */
export function ConversationInfo({ conversation: c, onClose }: { conversation: Conversation; onClose: () => void }) {
  const client = useConfabClient();
  const { me } = useMe();
  const title = conversationTitle(c, me.id);
  const isAdmin = c.role === 'owner' || c.role === 'admin';
  const [name, setName] = useState(c.title ?? '');
  const [adding, setAdding] = useState(false);
  const id = useId();
  const presence = usePresence(c.members.map((m) => m.userId));
  // The assistant's "presence": answering while it writes an answer here (see chat/answering.ts).
  const answering = useTyping(c.id).includes(ASSISTANT_ID);
  const peer = c.type === 'direct' ? c.members.find((m) => m.userId !== me.id && m.userId !== ASSISTANT_ID && !m.user.isBot) : undefined;

  const rename = async (e: React.FormEvent) => {
    e.preventDefault();
    if (!name.trim() || name.trim() === c.title) return;
    const r = await patchConversation(client, c.id, { title: name.trim() });
    if (r) toast('Renamed.');
  };
  const members = [...c.members].sort((a, b) => RANK[b.role] - RANK[a.role] || a.user.displayName.localeCompare(b.user.displayName));
  const call = (request: Promise<unknown>) => request.catch((e: unknown) => toast(humanError(e), 'error'));

  return (
    <Modal title={c.type === 'group' ? 'Group settings' : 'Details'} onClose={onClose} className="side-panel" focusFirst={false}>
      <div className="info-hero">
        <Avatar id={c.type === 'direct' ? (c.members.find((m) => m.userId !== me.id)?.userId ?? c.id) : c.id} name={title} size={64} kind={c.type === 'assistant' ? 'assistant' : c.type === 'group' ? 'group' : 'user'} />
        <h3>{title}</h3>
        {c.type === 'assistant' && <span className="model-badge">{modelLabel(c.model)}</span>}
      </div>

      {(c.type === 'group' || c.type === 'assistant') && (isAdmin || c.type === 'assistant') && (
        <form className="info-section row-form" onSubmit={(e) => void rename(e)}>
          <label htmlFor={`${id}-name`}>Name</label>
          <div className="row">
            <input id={`${id}-name`} value={name} maxLength={200} onChange={(e) => setName(e.target.value)} placeholder={title} />
            <button type="submit" className="btn" disabled={!name.trim() || name.trim() === c.title}>
              Rename
            </button>
          </div>
        </form>
      )}

      <ChannelSettings conversation={c} />
      <SystemPromptSettings conversation={c} />

      <div className="info-section">
        <label className="switch">
          <input type="checkbox" checked={c.muted} onChange={() => void patchConversation(client, c.id, { muted: !c.muted })} />
          <span>Mute notifications</span>
        </label>
        <label className="switch">
          <input type="checkbox" checked={c.pinned} onChange={() => void patchConversation(client, c.id, { pinned: !c.pinned })} />
          <span>Pin to the top of the list</span>
        </label>
      </div>

      {c.type !== 'assistant' && (
        <div className="info-section">
          <div className="info-section-head">
            <h4>{c.members.length} members</h4>
            {c.type === 'group' && isAdmin && (
              <button type="button" className="btn btn-small" onClick={() => setAdding((a) => !a)}>
                <Icon name="plus" size={14} /> Add people
              </button>
            )}
          </div>
          {adding && <AddMembers conversation={c} onDone={() => setAdding(false)} />}
          <ul className="member-list">
            {members.map((m) => (
              <MemberRow
                key={m.userId}
                m={m}
                me={me.id}
                myRole={c.role}
                group={c.type === 'group'}
                status={presence[m.userId]?.status}
                answering={m.userId === ASSISTANT_ID && answering}
                lastSeen={presence[m.userId]?.lastSeenAt ?? m.user.lastSeenAt}
                onRole={(role) => void call(client.api.changeRole(c.id, m.userId, role))}
                onRemove={() => {
                  void confirmDialog({ title: `Remove ${m.user.displayName}?`, body: 'They will no longer see new messages in this group.', confirm: 'Remove', danger: true }).then(
                    (ok) => ok && call(client.api.removeParticipant(c.id, m.userId)),
                  );
                }}
              />
            ))}
          </ul>
        </div>
      )}

      <GroupMentionSettings conversation={c} />

      {c.type === 'direct' && peer && (
        <div className="info-section danger-zone">
          <BlockButton userId={peer.userId} name={peer.user.displayName} />
        </div>
      )}

      {c.type !== 'direct' && (
        <div className="info-section danger-zone">
          {c.role !== 'owner' && (
            <button
              type="button"
              className="btn btn-danger btn-block"
              onClick={() => {
                void confirmDialog({ title: `Leave “${title}”?`, body: 'You will need to be added again to come back.', confirm: 'Leave', danger: true }).then((ok) => {
                  if (!ok) return;
                  client.api
                    .removeParticipant(c.id, me.id)
                    .then(() => {
                      onClose();
                      navigate('/');
                    })
                    .catch((e: unknown) => toast(humanError(e), 'error'));
                });
              }}
            >
              Leave {c.type === 'group' ? 'group' : 'conversation'}
            </button>
          )}
          {c.role === 'owner' && (
            <button
              type="button"
              className="btn btn-danger btn-block"
              onClick={() => {
                void confirmDialog({ title: `Delete “${title}”?`, body: "It is deleted for everyone, with all its messages. This can't be undone.", confirm: 'Delete for everyone', danger: true })
                  .then((yes) => yes && deleteOrLeave(client, c.id))
                  .then((ok) => {
                    if (!ok) return;
                    onClose();
                    navigate('/');
                  });
              }}
            >
              Delete {c.type === 'group' ? 'group' : 'conversation'} for everyone
            </button>
          )}
        </div>
      )}
    </Modal>
  );
}

function MemberRow({
  m,
  me,
  myRole,
  group,
  status,
  answering,
  lastSeen,
  onRole,
  onRemove,
}: {
  m: Member;
  me: string;
  myRole: Role;
  group: boolean;
  status: 'online' | 'offline' | 'unknown' | undefined;
  answering: boolean;
  lastSeen: string | null;
  onRole: (role: Role) => void;
  onRemove: () => void;
}) {
  const isMe = m.userId === me;
  const canManage = group && !isMe && (myRole === 'owner' || (myRole === 'admin' && RANK[m.role] < RANK.admin));
  const ai = m.userId === ASSISTANT_ID || m.user.isBot;
  return (
    <li className="member">
      <Avatar id={m.userId} name={m.user.displayName} url={m.user.avatarUrl} size={34} presence={ai ? undefined : status} kind={ai ? 'assistant' : 'user'} />
      <span className="member-names">
        <strong>
          {m.user.displayName}
          {isMe ? ' (you)' : ''}
        </strong>
        <span>{answering ? <span className="typing-sub">answering…</span> : ai ? 'AI assistant' : status === 'online' ? 'online' : `@${m.user.handle} · ${formatLastSeen(lastSeen)}`}</span>
      </span>
      {canManage ? (
        <>
          <select aria-label={`Role of ${m.user.displayName}`} value={m.role} onChange={(e) => onRole(e.target.value as Role)}>
            {ROLES.filter((r) => myRole === 'owner' || RANK[r] < RANK.admin || r === m.role).map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
          <button type="button" className="icon-btn tiny" aria-label={`Remove ${m.user.displayName}`} title="Remove from group" onClick={onRemove}>
            <Icon name="close" size={14} />
          </button>
        </>
      ) : (
        group && m.role !== 'member' && <span className="role-tag">{m.role}</span>
      )}
    </li>
  );
}

function AddMembers({ conversation: c, onDone }: { conversation: Conversation; onDone: () => void }) {
  const client = useConfabClient();
  const [query, setQuery] = useState('');
  const { users, error } = useUserSearch(
    query,
    c.members.map((m) => m.userId),
  );
  const add = (u: PublicUser) =>
    client.api
      .addParticipants(c.id, { userIds: [u.id] })
      .then(() => {
        toast(`${u.displayName} was added.`);
        onDone();
      })
      .catch((e: unknown) => toast(humanError(e), 'error'));
  return (
    <div className="add-members">
      <input autoFocus aria-label="Find people to add" placeholder="Search by name" value={query} onChange={(e) => setQuery(e.target.value)} />
      {error && <p className="form-error">{error}</p>}
      {users && users.length === 0 && <p className="hint">Nobody new matches “{query}”.</p>}
      <ul className="user-results">
        {(users ?? []).map((u) => (
          <li key={u.id}>
            <button type="button" className="user-pick" onClick={() => void add(u)}>
              <Avatar id={u.id} name={u.displayName} url={u.avatarUrl} size={28} />
              <span className="user-pick-names">
                <strong>{u.displayName}</strong>
                <span>@{u.handle}</span>
              </span>
              <Icon name="plus" size={14} />
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
