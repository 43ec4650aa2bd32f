import { useId, useState } from 'react';
import { Modal } from './Modal.tsx';

/** A small dialog asking for one line of text (a folder name…), instead of window.prompt. */
export function PromptDialog({ title, label, submit, initial = '', onSubmit, onClose }: { title: string; label: string; submit: string; initial?: string; onSubmit: (value: string) => void; onClose: () => void }) {
  const [value, setValue] = useState(initial);
  const id = useId();
  return (
    <Modal title={title} onClose={onClose}>
      <form
        className="stack"
        onSubmit={(e) => {
          e.preventDefault();
          if (!value.trim()) return;
          onSubmit(value.trim());
          onClose();
        }}
      >
        <label htmlFor={id}>{label}</label>
        <input id={id} autoFocus maxLength={100} value={value} onChange={(e) => setValue(e.target.value)} />
        <div className="modal-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={!value.trim()}>
            {submit}
          </button>
        </div>
      </form>
    </Modal>
  );
}
