import { mentionQueryAt, mentionSuggestions, type Conversation, type MentionSuggestion } from '@confab/client';
import { useEffect, useId, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent, type ReactNode, type RefObject } from 'react';
import { Avatar } from '../ui/Avatar.tsx';
import { Icon } from '../ui/Icon.tsx';

/**
 * `@` autocomplete for the composer: typing `@` and some letters lists the conversation's members
 * (by handle or name), the assistant when it is a member, and `@here` / `@channel` where the writer
 * may use them (SDK: mentionQueryAt, mentionSuggestions). ↑/↓ move, Enter or Tab picks, Esc closes;
 * a tap picks on a phone (the textarea keeps focus, so the keyboard stays up).
 *
 * The composer spreads `inputProps` on its textarea, calls `onKeyDown` first in its own key handler
 * (it returns true when it handled the key), and renders `popup`.
 */
export interface MentionAutocomplete {
  inputProps: {
    onSelect: () => void;
    onClick: () => void;
    'aria-autocomplete': 'list';
    'aria-controls'?: string;
    'aria-activedescendant'?: string;
  };
  onKeyDown: (e: KeyboardEvent<HTMLTextAreaElement>) => boolean;
  popup: ReactNode;
}

export function useMentionAutocomplete(conversation: Conversation | null, me: string, area: RefObject<HTMLTextAreaElement | null>, text: string, setText: (value: string) => void): MentionAutocomplete {
  const listId = useId();
  const [caret, setCaret] = useState(0);
  const [active, setActive] = useState(0);
  /** The `@` position the user closed the list at (Esc): stays closed until they type elsewhere. */
  const [dismissedAt, setDismissedAt] = useState<number | null>(null);

  /** Where a picked mention puts the caret, once its text is in the box. */
  const caretAfterPick = useRef<number | null>(null);
  // Set as soon as the picked text is rendered, before the next key is handled: set a frame later,
  // it moved the caret back over a letter typed quickly after the pick ("and" became "nd … a").
  useLayoutEffect(() => {
    const at = caretAfterPick.current;
    const el = area.current;
    if (at === null || !el) return;
    caretAfterPick.current = null;
    el.focus();
    el.setSelectionRange(at, at);
  }, [text, area]);

  // The caret moves with typing too (onChange comes before the selection event in some browsers).
  useEffect(() => {
    const el = area.current;
    if (el && document.activeElement === el) setCaret(el.selectionStart ?? text.length);
  }, [text, area]);

  const query = useMemo(() => mentionQueryAt(text, caret), [text, caret]);
  const suggestions = useMemo(
    () => (query && conversation && conversation.type !== 'direct' ? mentionSuggestions(conversation, query.query, me, 8) : []),
    [query, conversation, me],
  );
  const open = query !== null && suggestions.length > 0 && dismissedAt !== query.start;

  // A new query starts at the top of its list.
  useEffect(() => setActive(0), [query?.query, query?.start]);
  useEffect(() => {
    if (dismissedAt !== null && query?.start !== dismissedAt) setDismissedAt(null);
  }, [query?.start, dismissedAt]);

  const pick = (s: MentionSuggestion) => {
    if (!query) return;
    const insert = `@${s.handle} `;
    const next = text.slice(0, query.start) + insert + text.slice(query.end).replace(/^ /, '');
    const at = query.start + insert.length;
    caretAfterPick.current = at;
    setText(next);
    setCaret(at);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>): boolean => {
    if (!open || !query || e.nativeEvent.isComposing) return false;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const step = e.key === 'ArrowDown' ? 1 : -1;
      setActive((i) => (i + step + suggestions.length) % suggestions.length);
      return true;
    }
    if ((e.key === 'Enter' && !e.shiftKey) || e.key === 'Tab') {
      e.preventDefault();
      pick(suggestions[Math.min(active, suggestions.length - 1)]!);
      return true;
    }
    if (e.key === 'Escape') {
      e.preventDefault();
      setDismissedAt(query.start);
      return true;
    }
    return false;
  };

  const readCaret = () => {
    const el = area.current;
    if (el) setCaret(el.selectionStart ?? 0);
  };
  const optionId = (i: number) => `${listId}-opt-${i}`;

  const popup = open ? (
    <ul className="mention-popup" id={listId} role="listbox" aria-label="Mention someone">
      {suggestions.map((s, i) => (
        <li
          key={`${s.kind}:${s.handle}`}
          id={optionId(i)}
          role="option"
          aria-selected={i === active}
          className={`mention-option ${i === active ? 'active' : ''}`}
          // Keeps the focus (and a phone's keyboard) in the textarea.
          onMouseDown={(e) => e.preventDefault()}
          onMouseEnter={() => setActive(i)}
          onClick={() => pick(s)}
        >
          <SuggestionIcon s={s} />
          <span className="mention-option-names">
            <strong>@{s.handle}</strong>
            <span>{s.label}</span>
          </span>
        </li>
      ))}
    </ul>
  ) : null;

  return {
    inputProps: {
      onSelect: readCaret,
      onClick: readCaret,
      'aria-autocomplete': 'list',
      // The textarea keeps its textbox role (it is the message box first); while the list is open it
      // points at the list and the highlighted option.
      ...(open ? { 'aria-controls': listId, 'aria-activedescendant': optionId(active) } : {}),
    },
    onKeyDown,
    popup,
  };
}

function SuggestionIcon({ s }: { s: MentionSuggestion }) {
  if (s.kind === 'here' || s.kind === 'channel') {
    return (
      <span className="mention-option-icon" aria-hidden="true">
        <Icon name="users" size={16} />
      </span>
    );
  }
  return <Avatar id={s.userId ?? s.handle} name={s.label} url={s.avatarUrl ?? null} size={24} kind={s.kind === 'assistant' ? 'assistant' : 'user'} />;
}
