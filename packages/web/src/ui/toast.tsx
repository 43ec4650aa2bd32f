import { useSyncExternalStore } from 'react';

/** Short notes at the bottom of the screen; errors stay a little longer. Read by screen readers. */
interface Toast {
  id: number;
  text: string;
  kind: 'info' | 'error';
  /** A button in the note (e.g. "Open"); the note goes once it is used. */
  action?: ToastAction | undefined;
}

export interface ToastAction {
  label: string;
  run: () => void;
}

let toasts: Toast[] = [];
let nextId = 1;
const listeners = new Set<() => void>();
const emit = () => listeners.forEach((fn) => fn());

export function toast(text: string, kind: Toast['kind'] = 'info', opts: { action?: ToastAction; durationMs?: number } = {}): void {
  const id = nextId++;
  toasts = [...toasts.filter((t) => t.text !== text), { id, text, kind, action: opts.action }].slice(-3);
  emit();
  setTimeout(() => dismiss(id), opts.durationMs ?? (kind === 'error' ? 6000 : 3000));
}

function dismiss(id: number): void {
  toasts = toasts.filter((t) => t.id !== id);
  emit();
}

export function Toasts() {
  const list = useSyncExternalStore(
    (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    () => toasts,
  );
  return (
    <div className="toasts" role="status" aria-live="polite">
      {list.map((t) => (
        <div key={t.id} className={`toast toast-${t.kind}`} onClick={() => dismiss(t.id)}>
          {t.text}
          {t.action && (
            <button
              type="button"
              className="toast-action"
              onClick={(e) => {
                e.stopPropagation();
                dismiss(t.id);
                t.action!.run();
              }}
            >
              {t.action.label}
            </button>
          )}
        </div>
      ))}
    </div>
  );
}
