import { useConfabClient } from '@confab/client/react';
import type { AdminSettings, Registration } from '@confab/protocol';
import { useEffect, useId, useState } from 'react';
import { humanError } from '../lib/errors.ts';
import { Spinner } from '../ui/Spinner.tsx';
import { toast } from '../ui/toast.tsx';
import { Card } from './common.tsx';

const MODES: readonly (readonly [Registration, string, string])[] = [
  ['open', 'Open', 'Anyone who can reach this server can create an account.'],
  ['invite', 'Invite only', 'People need an invite link from an admin (Invites).'],
  ['closed', 'Closed', 'Nobody can sign up; admins create accounts with the confab command.'],
];

/** The instance's name and who may register. */
export function InstanceSection() {
  const client = useConfabClient();
  const [settings, setSettings] = useState<AdminSettings | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [registration, setRegistration] = useState<Registration>('invite');
  const [busy, setBusy] = useState(false);
  const id = useId();
  useEffect(() => {
    client.api.getAdminSettings().then(
      (s) => {
        setSettings(s);
        setName(s.name);
        setRegistration(s.registration);
      },
      (e: unknown) => setError(humanError(e)),
    );
  }, [client]);

  const save = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const s = await client.api.updateAdminSettings({ name: name.trim(), registration });
      setSettings(s);
      setName(s.name);
      setRegistration(s.registration);
      toast('Settings saved.');
    } catch (err) {
      toast(humanError(err), 'error');
    } finally {
      setBusy(false);
    }
  };
  const dirty = settings !== null && (name.trim() !== settings.name || registration !== settings.registration);

  return (
    <Card id="admin-registration" title="Registration and name" description="What people see on the sign-in page, and who may create an account.">
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {!settings && !error && <p className="hint list-state">Loading…</p>}
      {settings && (
        <form className="stack" onSubmit={(e) => void save(e)}>
          <label htmlFor={`${id}-name`}>Instance name</label>
          <input id={`${id}-name`} required maxLength={64} value={name} onChange={(e) => setName(e.target.value)} />
          <fieldset className="radio-cards">
            <legend>Who can sign up</legend>
            {MODES.map(([value, label, text]) => (
              <label key={value} className={registration === value ? 'on' : ''}>
                <input type="radio" name={`${id}-registration`} value={value} checked={registration === value} onChange={() => setRegistration(value)} />
                <span>
                  <strong>{label}</strong>
                  <span className="hint">{text}</span>
                </span>
              </label>
            ))}
          </fieldset>
          <div className="row end">
            <button type="submit" className="btn btn-primary" disabled={busy || !dirty || !name.trim()}>
              {busy ? <Spinner size={14} /> : 'Save'}
            </button>
          </div>
        </form>
      )}
    </Card>
  );
}
