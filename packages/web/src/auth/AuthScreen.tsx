import type { Me } from '@confab/client';
import { useConfabClient } from '@confab/client/react';
import { useEffect, useId, useState } from 'react';
import { humanError } from '../lib/errors.ts';
import { Spinner } from '../ui/Spinner.tsx';

/** Sign in and sign up on one card; the mode is a tab, the fields say what they want. */
export function AuthScreen({ onSignedIn, notice }: { onSignedIn: (me: Me) => void; notice?: string | undefined }) {
  const client = useConfabClient();
  const [mode, setMode] = useState<'signin' | 'signup'>('signin');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [handle, setHandle] = useState('');
  const [handleTouched, setHandleTouched] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = useId();
  // Single sign-on providers of this server (GET /api/instance `sso`): a button each.
  const [sso, setSso] = useState<Array<{ id: string; name: string }>>([]);
  useEffect(() => {
    client.api.getInstance().then((info) => setSso(info.sso), () => setSso([]));
  }, [client]);

  const suggestedHandle = displayName
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9_.-]+/g, '')
    .slice(0, 32);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    if (mode === 'signup' && password.length < 8) {
      setError('Use at least 8 characters for your password.');
      return;
    }
    setBusy(true);
    try {
      const me =
        mode === 'signin'
          ? await client.login({ email: email.trim(), password })
          : await client.register({ email: email.trim(), password, displayName: displayName.trim(), handle: (handleTouched ? handle : suggestedHandle).trim() });
      onSignedIn(me);
    } catch (err) {
      setError(humanError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="auth">
      <div className="auth-card">
        <div className="auth-brand">
          <img src="/favicon.svg" alt="" width={40} height={40} />
          <div>
            <h1>Confab</h1>
            <p>Chat with people and AI, in one place.</p>
          </div>
        </div>
        <div className="tabs" role="tablist" aria-label="Sign in or create an account">
          <button type="button" role="tab" aria-selected={mode === 'signin'} className={mode === 'signin' ? 'active' : ''} onClick={() => (setMode('signin'), setError(null))}>
            Sign in
          </button>
          <button type="button" role="tab" aria-selected={mode === 'signup'} className={mode === 'signup' ? 'active' : ''} onClick={() => (setMode('signup'), setError(null))}>
            Create account
          </button>
        </div>
        {notice && !error && <p className="notice">{notice}</p>}
        <form onSubmit={submit} aria-describedby={error ? `${id}-error` : undefined}>
          {mode === 'signup' && (
            <>
              <label htmlFor={`${id}-name`}>Your name</label>
              <input id={`${id}-name`} name="displayName" autoComplete="name" required maxLength={64} value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
              <label htmlFor={`${id}-handle`}>Username</label>
              <div className="input-prefix">
                <span aria-hidden="true">@</span>
                <input
                  id={`${id}-handle`}
                  name="handle"
                  autoComplete="username"
                  required
                  minLength={2}
                  maxLength={32}
                  pattern="[A-Za-z0-9_.\-]+"
                  title="Letters, digits, _ . and - only"
                  value={handleTouched ? handle : suggestedHandle}
                  onChange={(e) => {
                    setHandleTouched(true);
                    setHandle(e.target.value);
                  }}
                />
              </div>
            </>
          )}
          <label htmlFor={`${id}-email`}>Email</label>
          <input id={`${id}-email`} name="email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
          <label htmlFor={`${id}-password`}>Password</label>
          <input
            id={`${id}-password`}
            name="password"
            type="password"
            autoComplete={mode === 'signin' ? 'current-password' : 'new-password'}
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            aria-describedby={mode === 'signup' ? `${id}-pwhint` : undefined}
          />
          {mode === 'signup' && (
            <p className="hint" id={`${id}-pwhint`}>
              At least 8 characters.
            </p>
          )}
          {error && (
            <p className="form-error" id={`${id}-error`} role="alert">
              {error}
            </p>
          )}
          <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
            {busy ? <Spinner size={16} /> : mode === 'signin' ? 'Sign in' : 'Create account'}
          </button>
        </form>
        {sso.length > 0 && (
          <div className="auth-sso">
            {sso.map((p) => (
              <a key={p.id} className="btn btn-block" href={client.api.ssoStartUrl(p.id)}>
                Continue with {p.name}
              </a>
            ))}
          </div>
        )}
      </div>
    </div>
  );
}
