import { useEffect, useRef, type ReactNode } from 'react';
import { Icon } from './Icon.tsx';

const openModals: { ref: React.RefObject<HTMLDivElement | null> }[] = [];

/**
 * A dialog: focus moves in on open and back to where it was on close, Tab stays inside, Esc and a
 * click on the backdrop close it.
 */
export function Modal({
  title,
  onClose,
  children,
  wide = false,
  className = '',
  labelledBy,
  focusFirst = true,
}: {
  title?: string;
  onClose: () => void;
  children: ReactNode;
  wide?: boolean;
  className?: string;
  labelledBy?: string;
  /** Focus the first field on open (dialogs that ask for something), else the dialog itself. */
  focusFirst?: boolean;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null;
    const el = ref.current;
    const first = focusFirst ? el?.querySelector<HTMLElement>('[autofocus], input, textarea, select, button:not(.modal-close)') : null;
    (first ?? el)?.focus();
    return () => previous?.focus?.();
  }, []);
  // Esc must still close it when focus fell out of it (the focused button went away, e.g. after
  // adding someone in group settings, and focus went back to the page): the topmost dialog closes.
  const close = useRef(onClose);
  close.current = onClose;
  useEffect(() => {
    const me = { ref };
    openModals.push(me);
    const onDocKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape' || e.defaultPrevented || openModals[openModals.length - 1] !== me) return;
      const active = document.activeElement;
      if (active && active !== document.body && !ref.current?.contains(active)) return;
      close.current();
    };
    document.addEventListener('keydown', onDocKey);
    return () => {
      document.removeEventListener('keydown', onDocKey);
      openModals.splice(openModals.indexOf(me), 1);
    };
  }, []);
  const onKeyDown = (e: React.KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      onClose();
    }
    if (e.key === 'Tab' && ref.current) {
      const items = [...ref.current.querySelectorAll<HTMLElement>('a[href], button:not([disabled]), input:not([disabled]), textarea, select, [tabindex="0"]')];
      if (items.length === 0) return;
      const first = items[0]!;
      const last = items[items.length - 1]!;
      if (e.shiftKey && document.activeElement === first) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && document.activeElement === last) {
        e.preventDefault();
        first.focus();
      }
    }
  };
  return (
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div
        ref={ref}
        className={`modal ${wide ? 'modal-wide' : ''} ${className}`}
        role="dialog"
        aria-modal="true"
        aria-label={labelledBy ? undefined : title}
        aria-labelledby={labelledBy}
        tabIndex={-1}
        onKeyDown={onKeyDown}
      >
        {title && (
          <div className="modal-head">
            <h2>{title}</h2>
            <button type="button" className="icon-btn modal-close" onClick={onClose} aria-label="Close">
              <Icon name="close" />
            </button>
          </div>
        )}
        {children}
      </div>
    </div>
  );
}
