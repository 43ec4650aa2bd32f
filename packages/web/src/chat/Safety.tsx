import type { ConfabClient } from '@confab/client';
import { useConfabClient } from '@confab/client/react';
import { useEffect, useId, useState } from 'react';
import { humanError } from '../lib/errors.ts';
import { confirmDialog } from '../ui/confirm.tsx';
import { Modal } from '../ui/Modal.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { toast } from '../ui/toast.tsx';

/** Blocks a person after asking; resolves true when blocked. */
export async function blockPerson(client: ConfabClient, userId: string, name: string): Promise<boolean> {
  const ok = await confirmDialog({
    title: `Block ${name}?`,
    body: `${name} will not be able to start a direct conversation with you, write to you in one, or add you to a group. They are not told. You can unblock them in Settings → Privacy.`,
    confirm: 'Block',
    danger: true,
  });
  if (!ok) return false;
  try {
    await client.api.blockUser(userId);
    toast(`${name} is blocked.`);
    return true;
  } catch (e) {
    toast(humanError(e), 'error');
    return false;
  }
}

/** Reporting a message to the instance's admins, with a reason. */
export function ReportDialog({ messageId, authorName, onClose }: { messageId: string; authorName: string; onClose: () => void }) {
  const client = useConfabClient();
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const id = useId();
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await client.api.reportMessage(messageId, reason.trim());
      toast('Thank you. The admins will look at it.');
      onClose();
    } catch (err) {
      setError(humanError(err));
      setBusy(false);
    }
  };
  return (
    <Modal title="Report this message" onClose={onClose}>
      <form className="stack" onSubmit={(e) => void submit(e)}>
        <p className="confirm-body">The instance's admins will see the message by {authorName} and your reason. {authorName} is not told who reported it.</p>
        <label htmlFor={id}>What is wrong with it?</label>
        <textarea id={id} autoFocus rows={3} maxLength={1000} required value={reason} onChange={(e) => setReason(e.target.value)} placeholder="e.g. harassment, spam, something illegal" />
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <div className="modal-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn btn-danger-solid" disabled={busy || !reason.trim()}>
            {busy ? <Spinner size={14} /> : 'Send report'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

/** Block or unblock from a profile (a direct conversation's details). */
export function BlockButton({ userId, name }: { userId: string; name: string }) {
  const client = useConfabClient();
  const [blocked, setBlocked] = useState<boolean | null>(null);
  useEffect(() => {
    client.api
      .listBlocks()
      .then(
        (r) => setBlocked(r.blocks.some((b) => b.id === userId)),
        () => setBlocked(false),
      );
  }, [client, userId]);
  if (blocked === null) return null;
  return blocked ? (
    <button
      type="button"
      className="btn btn-block"
      onClick={() =>
        void client.api
          .unblockUser(userId)
          .then(
            () => (setBlocked(false), toast(`${name} is unblocked.`)),
            (e: unknown) => toast(humanError(e), 'error'),
          )
      }
    >
      Unblock {name}
    </button>
  ) : (
    <button type="button" className="btn btn-danger btn-block" onClick={() => void blockPerson(client, userId, name).then((ok) => ok && setBlocked(true))}>
      Block {name}
    </button>
  );
}
