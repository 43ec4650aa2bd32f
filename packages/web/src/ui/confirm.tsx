import { useSyncExternalStore } from 'react';
import { Modal } from './Modal.tsx';

/** `await confirmDialog({...})`: a styled, accessible replacement for window.confirm. */
interface Request {
  title: string;
  body?: string;
  confirm: string;
  danger?: boolean;
  resolve: (ok: boolean) => void;
}

let current: Request | null = null;
const listeners = new Set<() => void>();
const emit = () => listeners.forEach((fn) => fn());

export function confirmDialog(opts: { title: string; body?: string; confirm: string; danger?: boolean }): Promise<boolean> {
  current?.resolve(false);
  return new Promise((resolve) => {
    current = { ...opts, resolve };
    emit();
  });
}

function settle(ok: boolean): void {
  const r = current;
  current = null;
  emit();
  r?.resolve(ok);
}

export function ConfirmHost() {
  const req = useSyncExternalStore(
    (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    () => current,
  );
  if (!req) return null;
  return (
    <Modal title={req.title} onClose={() => settle(false)} className="confirm">
      {req.body && <p className="confirm-body">{req.body}</p>}
      <div className="modal-actions">
        <button type="button" className="btn" onClick={() => settle(false)}>
          Cancel
        </button>
        <button type="button" className={`btn ${req.danger ? 'btn-danger-solid' : 'btn-primary'}`} autoFocus onClick={() => settle(true)}>
          {req.confirm}
        </button>
      </div>
    </Modal>
  );
}
