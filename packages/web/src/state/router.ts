import { useSyncExternalStore } from 'react';

/**
 * A very small router: the app has a few kinds of places (/, /c/<id>, /settings, /admin…), so the URL is
 * parsed here rather than with a library. Links push history entries; back/forward just work.
 */
export type Route =
  | { name: 'home' }
  | { name: 'conversation'; id: string; thread?: string; at: number | null }
  | { name: 'settings'; section: string | null }
  | { name: 'channels' }
  | { name: 'threads' }
  | { name: 'mentions' }
  | { name: 'admin'; section: string | null }
  /** Public pages (no sign-in needed): sign-up with an invite, a password reset link. */
  | { name: 'invite'; token: string }
  | { name: 'reset'; token: string }
  /** A shared snapshot of a conversation (shared/SharedPage.tsx), read signed in or not. */
  | { name: 'shared'; id: string };

const listeners = new Set<() => void>();
let current = parse(window.location.pathname, window.location.search);

function parse(pathname: string, search: string): Route {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'c' && parts[1]) {
    // `?at=<seq>`: a message link or a search hit, opened at that message.
    const at = Number(new URLSearchParams(search).get('at'));
    const thread = parts[2] === 't' && parts[3] ? { thread: parts[3] } : {};
    return { name: 'conversation', id: parts[1], ...thread, at: Number.isSafeInteger(at) && at > 0 ? at : null };
  }
  if (parts[0] === 'threads') return { name: 'threads' };
  if (parts[0] === 'settings') return { name: 'settings', section: parts[1] ?? null };
  if (parts[0] === 'channels') return { name: 'channels' };
  if (parts[0] === 'mentions') return { name: 'mentions' };
  if (parts[0] === 'admin') return { name: 'admin', section: parts[1] ?? null };
  if (parts[0] === 'invite' && parts[1]) return { name: 'invite', token: parts[1] };
  if (parts[0] === 'reset-password' && parts[1]) return { name: 'reset', token: parts[1] };
  if (parts[0] === 'shared' && parts[1]) return { name: 'shared', id: parts[1] };
  return { name: 'home' };
}

function update(): void {
  const next = parse(window.location.pathname, window.location.search);
  // Same place: keep the object, so nothing re-renders for nothing.
  if (JSON.stringify(next) === JSON.stringify(current)) return;
  current = next;
  for (const fn of [...listeners]) fn();
}

window.addEventListener('popstate', update);

export function navigate(path: string, opts: { replace?: boolean } = {}): void {
  if (path === window.location.pathname + window.location.search) return;
  if (opts.replace) window.history.replaceState(null, '', path);
  else window.history.pushState(null, '', path);
  update();
}

export function conversationPath(id: string, at?: number | null): string {
  return `/c/${encodeURIComponent(id)}${at ? `?at=${at}` : ''}`;
}

/** A link to one message: opens its conversation there, highlighted. */
export function messageLink(conversationId: string, seq: number): string {
  return `${window.location.origin}${conversationPath(conversationId, seq)}`;
}

/** A thread open beside its conversation (threads/ThreadPanel.tsx). */
export function threadPath(conversationId: string, rootId: string): string {
  return `/c/${encodeURIComponent(conversationId)}/t/${encodeURIComponent(rootId)}`;
}

export function useRoute(): Route {
  return useSyncExternalStore(
    (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    () => current,
  );
}
