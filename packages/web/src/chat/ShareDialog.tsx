import { ConfabError, type Conversation } from '@confab/client';
import { useConfabClient } from '@confab/client/react';
import type { ConversationShare } from '@confab/protocol';
import { useCallback, useEffect, useState } from 'react';
import { CopyField, formatDateTime, ListState } from '../admin/common.tsx';
import { copyText } from '../lib/clipboard.ts';
import { humanError } from '../lib/errors.ts';
import { confirmDialog } from '../ui/confirm.tsx';
import { Icon } from '../ui/Icon.tsx';
import { Modal } from '../ui/Modal.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { toast } from '../ui/toast.tsx';
import { sentence } from './BranchButton.tsx';
import './share.css';

/** Who may share (as the server decides): an AI chat's owner, a group's owners and admins. */
export function canShare(conversation: Conversation | null): boolean {
  if (!conversation) return false;
  if (conversation.type === 'assistant') return conversation.role === 'owner';
  return conversation.type === 'group' && (conversation.role === 'owner' || conversation.role === 'admin');
}

/** The header's "Share" button and its dialog, for those who may share this conversation. */
export function ShareButton({ conversation }: { conversation: Conversation }) {
  const [open, setOpen] = useState(false);
  if (!canShare(conversation)) return null;
  return (
    <>
      <button type="button" className="icon-btn" aria-label="Share" title="Share a read-only link" onClick={() => setOpen(true)}>
        <Icon name="share" />
      </button>
      {open && <ShareDialog conversation={conversation} onClose={() => setOpen(false)} />}
    </>
  );
}

/**
 * Create a read-only link to a snapshot of the conversation, copy it, and see and remove the links
 * made before (docs/ai.md, Shares: what a snapshot shows and what it leaves out).
 */
export function ShareDialog({ conversation, onClose }: { conversation: Conversation; onClose: () => void }) {
  const client = useConfabClient();
  const [shares, setShares] = useState<ConversationShare[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<ConversationShare | null>(null);

  const load = useCallback(() => {
    setError(null);
    client.api.listShares(conversation.id).then(
      (r) => setShares(r.shares),
      (e: unknown) => setError(humanError(e)),
    );
  }, [client, conversation.id]);
  useEffect(load, [load]);

  const create = async () => {
    setBusy(true);
    try {
      const share = await client.api.createShare(conversation.id);
      setCreated(share);
      setShares((list) => [share, ...(list ?? []).filter((s) => s.id !== share.id)]);
      // Copied in the same click, when the browser lets us.
      await copyText(share.url).then(
        () => toast('Link created and copied. Anyone with it can read this snapshot.'),
        () => toast('Link created. Copy it below.'),
      );
    } catch (e) {
      toast(e instanceof ConfabError && e.code === 'PAYLOAD_TOO_LARGE' ? sentence(e.message) : humanError(e), 'error');
    } finally {
      setBusy(false);
    }
  };

  const remove = async (share: ConversationShare) => {
    const ok = await confirmDialog({
      title: 'Remove this link?',
      body: 'Anyone who opens it will see that it was removed. Other links to this conversation keep working.',
      confirm: 'Remove link',
      danger: true,
    });
    if (!ok) return;
    try {
      await client.api.deleteShare(conversation.id, share.id);
      setShares((list) => (list ?? []).filter((s) => s.id !== share.id));
      if (created?.id === share.id) setCreated(null);
      toast('Link removed.');
    } catch (e) {
      toast(humanError(e), 'error');
    }
  };

  return (
    <Modal title="Share a read-only link" onClose={onClose} className="share-dialog" focusFirst>
      <p className="share-explain">
        Anyone with the link can read this conversation <strong>as it is now</strong>, without signing in. Messages sent, edited or deleted later do not change it.
      </p>
      <ul className="share-facts">
        <li>People are shown by their display name only: no usernames, e-mail addresses or pictures.</li>
        <li>Files are listed by name; the files themselves are not shared.</li>
        <li>Remove a link at any time: it stops working at once.</li>
      </ul>
      <button type="button" className="btn btn-primary share-create" disabled={busy} onClick={() => void create()}>
        {busy ? <Spinner size={14} label="Creating the link" /> : <Icon name="link" size={16} />} Create link
      </button>
      {created && (
        <div className="created-link" role="status">
          <strong>New link</strong>
          <CopyField value={created.url} label="New shared link" />
        </div>
      )}
      <h3 className="share-list-title">Links to this conversation</h3>
      {shares && shares.length > 0 && (
        <ul className="share-list" aria-label="Shared links">
          {shares.map((s) => (
            <li key={s.id} className="share-item" data-share-id={s.id}>
              <CopyField value={s.url} label="Shared link" />
              <div className="share-item-foot">
                <span className="hint">
                  {s.messageCount} {s.messageCount === 1 ? 'message' : 'messages'} · made {formatDateTime(s.createdAt)}
                </span>
                <span className="share-item-actions">
                  <a className="btn btn-small" href={s.url} target="_blank" rel="noopener noreferrer">
                    Open
                  </a>
                  <button type="button" className="btn btn-small btn-danger" onClick={() => void remove(s)}>
                    Remove
                  </button>
                </span>
              </div>
            </li>
          ))}
        </ul>
      )}
      <ListState loading={shares === null && !error} error={error} empty={shares !== null && shares.length === 0} emptyText="No links yet. Create one to share this conversation." />
      {error && (
        <button type="button" className="btn btn-small" onClick={load}>
          Try again
        </button>
      )}
    </Modal>
  );
}
