import type { ConfabClient, Me } from '@confab/client';

/**
 * The SDK keeps the session in memory and shares it between open tabs; the app keeps it across
 * reloads. Refresh tokens rotate (and a spent one revokes the session), so what we store must
 * follow every rotation: we save the pair whenever it changes (checked each second, and when the
 * page is hidden or closed). A tab that signs out removes it, and the others follow through the
 * `storage` event.
 */
const TOKENS_KEY = 'confab.session';
const ME_KEY = 'confab.me';

export interface StoredSession {
  accessToken: string;
  refreshToken: string;
}

function read<T>(key: string): T | null {
  try {
    const raw = localStorage.getItem(key);
    return raw ? (JSON.parse(raw) as T) : null;
  } catch {
    return null;
  }
}

export function loadSession(): StoredSession | null {
  const s = read<StoredSession>(TOKENS_KEY);
  return s && typeof s.accessToken === 'string' && typeof s.refreshToken === 'string' ? s : null;
}

export function loadCachedMe(): Me | null {
  return read<Me>(ME_KEY);
}

export function saveMe(me: Me | null): void {
  try {
    if (me) localStorage.setItem(ME_KEY, JSON.stringify(me));
    else localStorage.removeItem(ME_KEY);
  } catch {
    /* private mode: the session just won't survive a reload */
  }
}

export function clearSession(): void {
  try {
    localStorage.removeItem(TOKENS_KEY);
    localStorage.removeItem(ME_KEY);
  } catch {
    /* ignore */
  }
}

/** Keeps localStorage in step with the client's token pair. Returns a stop function. */
export function persistSession(client: ConfabClient): () => void {
  let last = '';
  const save = () => {
    const tokens = client.tokens;
    const value = tokens ? JSON.stringify({ accessToken: tokens.accessToken, refreshToken: tokens.refreshToken }) : '';
    if (value === last) return;
    last = value;
    try {
      if (value) localStorage.setItem(TOKENS_KEY, value);
    } catch {
      /* ignore */
    }
  };
  save();
  const timer = window.setInterval(save, 1000);
  const onHide = () => save();
  window.addEventListener('pagehide', onHide);
  document.addEventListener('visibilitychange', onHide);
  return () => {
    window.clearInterval(timer);
    window.removeEventListener('pagehide', onHide);
    document.removeEventListener('visibilitychange', onHide);
  };
}

/** Calls `fn` when another tab signs in (with its tokens) or out (null). */
export function onOtherTabSession(fn: (session: StoredSession | null) => void): () => void {
  const handler = (e: StorageEvent) => {
    if (e.key !== TOKENS_KEY && e.key !== null) return;
    fn(loadSession());
  };
  window.addEventListener('storage', handler);
  return () => window.removeEventListener('storage', handler);
}
