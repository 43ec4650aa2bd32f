import { useConfabClient } from '@confab/client/react';
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';

/**
 * The user's settings document (GET/PUT /api/users/me/settings), synced to every device. The
 * server stores any JSON object; these are the keys the web app reads. `customInstructions` is
 * also read by the server's AI runner.
 */
export interface AppSettings {
  theme?: 'light' | 'dark' | 'system';
  fontSize?: 'small' | 'medium' | 'large';
  font?: 'system' | 'serif' | 'mono';
  defaultModel?: string | undefined;
  customInstructions?: string;
  [key: string]: unknown;
}

const LOCAL_KEY = 'confab.appearance';

/** Applies theme and fonts to <html>; remembered locally too, so the next load paints right away. */
export function applyAppearance(s: Pick<AppSettings, 'theme' | 'fontSize' | 'font'>): void {
  const root = document.documentElement;
  const theme = s.theme ?? 'system';
  const dark = theme === 'dark' || (theme === 'system' && window.matchMedia('(prefers-color-scheme: dark)').matches);
  root.dataset.theme = dark ? 'dark' : 'light';
  root.dataset.fontSize = s.fontSize ?? 'medium';
  root.dataset.font = s.font ?? 'system';
  document.querySelector('meta[name="theme-color"]')?.setAttribute('content', dark ? '#14161c' : '#ffffff');
  try {
    localStorage.setItem(LOCAL_KEY, JSON.stringify({ theme, fontSize: s.fontSize, font: s.font }));
  } catch {
    /* ignore */
  }
}

export function applyStoredAppearance(): void {
  let s: AppSettings = {};
  try {
    s = JSON.parse(localStorage.getItem(LOCAL_KEY) ?? '{}') as AppSettings;
  } catch {
    /* ignore */
  }
  applyAppearance(s);
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    let now: AppSettings = {};
    try {
      now = JSON.parse(localStorage.getItem(LOCAL_KEY) ?? '{}') as AppSettings;
    } catch {
      /* ignore */
    }
    if ((now.theme ?? 'system') === 'system') applyAppearance(now);
  });
}

interface SettingsState {
  settings: AppSettings;
  loaded: boolean;
  update: (patch: Partial<AppSettings>) => Promise<void>;
}

const SettingsContext = createContext<SettingsState | null>(null);

export function SettingsProvider({ children }: { children: ReactNode }) {
  const client = useConfabClient();
  const [settings, setSettings] = useState<AppSettings>(() => {
    try {
      return JSON.parse(localStorage.getItem(LOCAL_KEY) ?? '{}') as AppSettings;
    } catch {
      return {};
    }
  });
  const [loaded, setLoaded] = useState(false);
  const latest = useRef(settings);
  latest.current = settings;
  // Bumped by every local change: a load that started before one must not overwrite it.
  const changes = useRef(0);

  useEffect(() => {
    let cancelled = false;
    const load = () => {
      const at = changes.current;
      return client.api.getSettings<AppSettings>().then(
        (s) => {
          if (cancelled || at !== changes.current) return;
          setSettings(s ?? {});
          setLoaded(true);
          applyAppearance(s ?? {});
        },
        () => !cancelled && setLoaded(true),
      );
    };
    void load();
    // Another device may have changed them: look again when the tab comes back.
    const onVisible = () => document.visibilityState === 'visible' && void load();
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      cancelled = true;
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [client]);

  const update = useCallback(
    async (patch: Partial<AppSettings>) => {
      const previous = latest.current;
      const next = { ...previous, ...patch };
      changes.current++;
      latest.current = next;
      setSettings(next);
      applyAppearance(next);
      try {
        const saved = (await client.api.putSettings(next)) ?? next;
        changes.current++;
        latest.current = saved;
        setSettings(saved);
        applyAppearance(saved);
      } catch (error) {
        setSettings(previous);
        applyAppearance(previous);
        throw error;
      }
    },
    [client],
  );

  const value = useMemo(() => ({ settings, loaded, update }), [settings, loaded, update]);
  return <SettingsContext.Provider value={value}>{children}</SettingsContext.Provider>;
}

export function useSettings(): SettingsState {
  const s = useContext(SettingsContext);
  if (!s) throw new Error('useSettings outside SettingsProvider');
  return s;
}
