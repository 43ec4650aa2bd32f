import { useConfabClient } from '@confab/client/react';
import type { AiProvider, NotificationSettings } from '@confab/protocol';
import { useEffect, useId, useState } from 'react';
import { useMe } from '../state/me.tsx';
import { navigate } from '../state/router.ts';
import { useSettings, type AppSettings } from '../state/settings.tsx';
import { useModels } from '../conversations/NewChatDialog.tsx';
import { humanError } from '../lib/errors.ts';
import { Avatar } from '../ui/Avatar.tsx';
import { Icon } from '../ui/Icon.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { toast } from '../ui/toast.tsx';
import { currentSubscription, disablePush, enablePush, pushSupported } from './push.ts';
import { confirmDialog } from '../ui/confirm.tsx';
import { DrawerButton } from '../ui/DrawerButton.tsx';
import { DataCard, PrivacyCard, SecurityCard, UsageSummary } from './AccountSections.tsx';
import { BotsCard } from './BotsCard.tsx';

const SECTIONS = [
  ['profile', 'Profile'],
  ['appearance', 'Appearance'],
  ['notifications', 'Notifications'],
  ['ai', 'AI'],
  ['privacy', 'Privacy'],
  ['security', 'Security'],
  ['bots', 'Bots'],
  ['data', 'Your data'],
  ['account', 'Account'],
] as const;

export function SettingsView({ section, onOpenDrawer }: { section: string | null; onOpenDrawer: () => void }) {
  useEffect(() => {
    if (section) document.getElementById(`settings-${section}`)?.scrollIntoView({ block: 'start' });
  }, [section]);
  return (
    <div className="settings">
      <header className="conv-header">
        <DrawerButton onOpenDrawer={onOpenDrawer} />
        <span className="conv-header-text">
          <h1>Settings</h1>
        </span>
        <nav className="settings-nav" aria-label="Settings sections">
          {SECTIONS.map(([id, label]) => (
            <a
              key={id}
              href={`/settings/${id}`}
              aria-current={section === id ? 'true' : undefined}
              onClick={(e) => {
                e.preventDefault();
                navigate(`/settings/${id}`, { replace: true });
                document.getElementById(`settings-${id}`)?.scrollIntoView({ block: 'start', behavior: 'smooth' });
              }}
            >
              {label}
            </a>
          ))}
        </nav>
      </header>
      <div className="settings-body">
        <Profile />
        <Appearance />
        <Notifications />
        <Ai />
        <PrivacyCard />
        <SecurityCard />
        <BotsCard />
        <DataCard />
        <Account />
      </div>
    </div>
  );
}

function Card({ id, title, children, description }: { id: string; title: string; description?: string; children: React.ReactNode }) {
  return (
    <section className="card" id={`settings-${id}`} aria-labelledby={`settings-${id}-title`}>
      <h2 id={`settings-${id}-title`}>{title}</h2>
      {description && <p className="card-desc">{description}</p>}
      {children}
    </section>
  );
}

function Profile() {
  const client = useConfabClient();
  const { me, setMe } = useMe();
  const [name, setName] = useState(me.displayName);
  const [busy, setBusy] = useState(false);
  const id = useId();
  const save = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const updated = await client.api.updateMe({ displayName: name.trim() });
      setMe(updated);
      toast('Profile saved.');
    } catch (error) {
      toast(humanError(error), 'error');
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card id="profile" title="Profile">
      <form className="stack" onSubmit={(e) => void save(e)}>
        <div className="profile-row">
          <Avatar id={me.id} name={name || me.displayName} url={me.avatarUrl} size={56} />
          <div>
            <strong>@{me.handle}</strong>
            <p className="hint">{me.email}</p>
          </div>
        </div>
        <label htmlFor={`${id}-name`}>Display name</label>
        <div className="row">
          <input id={`${id}-name`} value={name} maxLength={64} required onChange={(e) => setName(e.target.value)} />
          <button type="submit" className="btn btn-primary" disabled={busy || !name.trim() || name.trim() === me.displayName}>
            {busy ? <Spinner size={14} /> : 'Save'}
          </button>
        </div>
      </form>
    </Card>
  );
}

function Segmented<T extends string>({ label, value, options, onChange }: { label: string; value: T; options: readonly (readonly [T, string])[]; onChange: (v: T) => void }) {
  return (
    <fieldset className="segmented">
      <legend>{label}</legend>
      <div className="segmented-options">
        {options.map(([v, text]) => (
          <label key={v} className={value === v ? 'on' : ''}>
            <input type="radio" name={label} value={v} checked={value === v} onChange={() => onChange(v)} />
            {text}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

function Appearance() {
  const { settings, update } = useSettings();
  const set = (patch: Partial<AppSettings>) => update(patch).catch((e: unknown) => toast(humanError(e), 'error'));
  return (
    <Card id="appearance" title="Appearance" description="Saved to your account, so every device looks the same.">
      <Segmented
        label="Theme"
        value={settings.theme ?? 'system'}
        options={[
          ['light', 'Light'],
          ['dark', 'Dark'],
          ['system', 'Match system'],
        ]}
        onChange={(theme) => void set({ theme })}
      />
      <Segmented
        label="Text size"
        value={settings.fontSize ?? 'medium'}
        options={[
          ['small', 'Small'],
          ['medium', 'Medium'],
          ['large', 'Large'],
        ]}
        onChange={(fontSize) => void set({ fontSize })}
      />
      <Segmented
        label="Font"
        value={settings.font ?? 'system'}
        options={[
          ['system', 'System'],
          ['serif', 'Serif'],
          ['mono', 'Monospace'],
        ]}
        onChange={(font) => void set({ font })}
      />
    </Card>
  );
}

function Notifications() {
  const client = useConfabClient();
  const [prefs, setPrefs] = useState<NotificationSettings | null>(null);
  const [unavailable, setUnavailable] = useState(false);
  const [push, setPush] = useState<'unknown' | 'on' | 'off' | 'blocked' | 'unsupported'>('unknown');
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    client.api.getNotificationSettings().then(setPrefs, () => setUnavailable(true));
    if (!pushSupported()) setPush('unsupported');
    else if (Notification.permission === 'denied') setPush('blocked');
    else void currentSubscription().then((s) => setPush(s ? 'on' : 'off'));
  }, [client]);
  const save = (patch: Partial<NotificationSettings>) => {
    if (!prefs) return;
    const next = { ...prefs, ...patch };
    setPrefs(next);
    client.api.updateNotificationSettings(patch).then(setPrefs, (e: unknown) => {
      setPrefs(prefs);
      toast(humanError(e), 'error');
    });
  };
  const togglePush = async () => {
    setBusy(true);
    try {
      if (push === 'on') {
        await disablePush(client);
        setPush('off');
      } else {
        await enablePush(client);
        setPush('on');
        toast('Notifications are on for this browser.');
      }
    } catch (e) {
      toast(e instanceof Error && !('code' in e) ? e.message : humanError(e), 'error');
      if (Notification.permission === 'denied') setPush('blocked');
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card id="notifications" title="Notifications" description="Muted conversations never notify.">
      {unavailable && <p className="hint">Notification preferences are not available on this server.</p>}
      {prefs && (
        <>
          <Segmented
            label="Notify me about"
            value={prefs.level}
            options={[
              ['all', 'All messages'],
              ['mentions', 'Direct messages and mentions'],
              ['none', 'Nothing'],
            ]}
            onChange={(level) => save({ level })}
          />
          <label className="switch">
            <input type="checkbox" checked={prefs.preview} onChange={() => save({ preview: !prefs.preview })} />
            <span>Show message text in notifications</span>
          </label>
        </>
      )}
      <div className="push-row">
        <div>
          <strong>Push notifications on this device</strong>
          <p className="hint">
            {push === 'unsupported' && 'This browser does not support push notifications.'}
            {push === 'blocked' && 'Blocked in the browser. Allow notifications for this site, then come back.'}
            {push === 'on' && 'On: you get notified while Confab is closed.'}
            {push === 'off' && 'Off: get notified of new messages while Confab is closed.'}
            {push === 'unknown' && 'Checking…'}
          </p>
        </div>
        <button type="button" className={`btn ${push === 'on' ? '' : 'btn-primary'}`} disabled={busy || push === 'unsupported' || push === 'blocked' || push === 'unknown'} onClick={() => void togglePush()}>
          {busy ? <Spinner size={14} /> : push === 'on' ? 'Turn off' : 'Turn on'}
        </button>
      </div>
    </Card>
  );
}

const PROVIDERS = [
  ['openai', 'OpenAI (or compatible)'],
  ['anthropic', 'Anthropic'],
  ['google', 'Google'],
] as const;

function Ai() {
  const client = useConfabClient();
  const { settings, update } = useSettings();
  const { models } = useModels();
  const [keys, setKeys] = useState<Set<string>>(new Set());
  const [editing, setEditing] = useState<string | null>(null);
  const [keyValue, setKeyValue] = useState('');
  const [instructions, setInstructions] = useState<string>(typeof settings.customInstructions === 'string' ? settings.customInstructions : '');
  const id = useId();
  const loadKeys = () =>
    client.api.listApiKeys().then(
      (r) => setKeys(new Set(r.providers.map((p) => p.provider))),
      () => {},
    );
  useEffect(() => {
    void loadKeys();
  }, [client]);
  useEffect(() => {
    if (typeof settings.customInstructions === 'string') setInstructions(settings.customInstructions);
  }, [settings.customInstructions]);

  const saveKey = async (provider: AiProvider) => {
    try {
      await client.api.putApiKey(provider, keyValue.trim());
      setEditing(null);
      setKeyValue('');
      toast('Key saved. It is stored encrypted and never shown again.');
      void loadKeys();
    } catch (e) {
      toast(humanError(e), 'error');
    }
  };
  const removeKey = async (provider: AiProvider) => {
    if (!(await confirmDialog({ title: 'Remove this key?', body: 'AI chats will use the server’s key for this provider, if it has one.', confirm: 'Remove key', danger: true }))) return;
    try {
      await client.api.deleteApiKey(provider);
      void loadKeys();
    } catch (e) {
      toast(humanError(e), 'error');
    }
  };

  return (
    <Card id="ai" title="AI" description="Your own keys are used before the server's, and are stored encrypted: nobody can read them back, you included.">
      <h3 className="sub-title">Your API keys</h3>
      <ul className="key-list">
        {PROVIDERS.map(([p, label]) => (
          <li key={p}>
            <Icon name="key" />
            <span className="key-name">
              <strong>{label}</strong>
              <span>{keys.has(p) ? 'Key saved' : 'No key'}</span>
            </span>
            {editing === p ? (
              <form
                className="row"
                onSubmit={(e) => {
                  e.preventDefault();
                  void saveKey(p);
                }}
              >
                <input type="password" aria-label={`${label} API key`} autoFocus autoComplete="off" placeholder="sk-…" value={keyValue} minLength={8} required onChange={(e) => setKeyValue(e.target.value)} />
                <button type="submit" className="btn btn-primary btn-small">
                  Save
                </button>
                <button type="button" className="btn btn-small" onClick={() => setEditing(null)}>
                  Cancel
                </button>
              </form>
            ) : (
              <span className="row">
                <button type="button" className="btn btn-small" onClick={() => (setEditing(p), setKeyValue(''))}>
                  {keys.has(p) ? 'Replace' : 'Add key'}
                </button>
                {keys.has(p) && (
                  <button type="button" className="btn btn-small btn-danger" onClick={() => void removeKey(p)}>
                    Remove
                  </button>
                )}
              </span>
            )}
          </li>
        ))}
      </ul>
      <UsageSummary />
      <label htmlFor={`${id}-model`}>Default model for new AI chats</label>
      <select
        id={`${id}-model`}
        value={settings.defaultModel ?? ''}
        onChange={(e) => void update({ defaultModel: e.target.value || undefined }).catch((err: unknown) => toast(humanError(err), 'error'))}
      >
        <option value="">Server default{models?.defaultModel ? ` (${models.defaultModel})` : ''}</option>
        {models?.models.map((m) => (
          <option key={m.id} value={m.id}>
            {m.name} · {m.provider}
          </option>
        ))}
      </select>
      <label htmlFor={`${id}-instr`}>Custom instructions</label>
      <p className="hint">Told to the assistant in every conversation: who you are, how you like answers.</p>
      <textarea id={`${id}-instr`} rows={5} maxLength={4000} value={instructions} onChange={(e) => setInstructions(e.target.value)} placeholder="e.g. I'm a backend developer. Keep answers short and show code first." />
      <div className="row end">
        <button
          type="button"
          className="btn btn-primary"
          disabled={instructions === (settings.customInstructions ?? '')}
          onClick={() =>
            void update({ customInstructions: instructions }).then(
              () => toast('Custom instructions saved.'),
              (e: unknown) => toast(humanError(e), 'error'),
            )
          }
        >
          Save instructions
        </button>
      </div>
    </Card>
  );
}

function Account() {
  const { signOut } = useMe();
  return (
    <Card id="account" title="Account">
      <p className="hint">Signing out ends this session on the server and in every tab of this browser. Messages that have not been sent yet stay here for your next sign-in.</p>
      <button type="button" className="btn btn-danger" onClick={() => void signOut()}>
        <Icon name="logout" /> Sign out
      </button>
    </Card>
  );
}
