import { ConfabError, type Me } from '@confab/client';
import { useConfabClient } from '@confab/client/react';
import { useEffect, useId, useState } from 'react';
import { humanError } from '../lib/errors.ts';
import { navigate } from '../state/router.ts';
import { useInstance } from '../state/instance.ts';
import { Spinner } from '../ui/Spinner.tsx';
import './auth.css';

type Mode = 'signin' | 'signup' | 'totp' | 'forgot';

/** True when the server asks for the second factor (API.md: 401 with `details.totpRequired`). */
export function needsTotp(error: unknown): boolean {
  return error instanceof ConfabError && error.code === 'UNAUTHENTICATED' && (error.details as { totpRequired?: unknown } | undefined)?.totpRequired === true;
}

/**
 * Sign in and sign up on one card. The instance decides whether sign-up is offered: `open` shows
 * it, `invite` only with an invite link (`/invite/<token>`), `closed` never. A second factor adds a
 * code step after the password.
 */
export function AuthScreen({ onSignedIn, notice, inviteToken }: { onSignedIn: (me: Me) => void; notice?: string | undefined; inviteToken?: string | undefined }) {
  const client = useConfabClient();
  const instance = useInstance();
  const [mode, setMode] = useState<Mode>(inviteToken ? 'signup' : 'signin');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [handle, setHandle] = useState('');
  const [handleTouched, setHandleTouched] = useState(false);
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [info, setInfo] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = useId();
  // Single sign-on providers of this server (GET /api/instance `sso`): a button each.
  const sso = instance?.sso ?? [];

  const name = instance?.name || 'Confab';
  const registration = instance?.registration ?? 'open';
  // Sign-up is offered where the instance allows it: always when open, with an invite link when invite-only.
  const canSignUp = instance !== null && registration !== 'closed' && (registration === 'open' || Boolean(inviteToken));
  useEffect(() => {
    if (instance && mode === 'signup' && !canSignUp) setMode('signin');
  }, [instance, mode, canSignUp]);

  const suggestedHandle = displayName
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9_.-]+/g, '')
    .slice(0, 32);

  const go = (next: Mode) => {
    setMode(next);
    setError(null);
    setInfo(null);
  };

  const signedIn = (me: Me) => {
    // Leave /invite/<token> (spent now) for the app's home.
    if (inviteToken) navigate('/', { replace: true });
    onSignedIn(me);
  };

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    if (mode === 'signup' && password.length < 8) {
      setError('Use at least 8 characters for your password.');
      return;
    }
    setBusy(true);
    try {
      if (mode === 'forgot') {
        await client.api.requestPasswordReset(email.trim());
        setInfo('If an account uses that address, a link to set a new password is on its way. It works once, for a short while.');
        return;
      }
      if (mode === 'signup') {
        const body = { email: email.trim(), password, displayName: displayName.trim(), handle: (handleTouched ? handle : suggestedHandle).trim() };
        signedIn(await client.register(inviteToken ? { ...body, inviteToken } : body));
        return;
      }
      const totp = mode === 'totp' ? { totpCode: code.replace(/\s+/g, '') } : {};
      signedIn(await client.login({ email: email.trim(), password, ...totp }));
    } catch (err) {
      if (needsTotp(err)) {
        if (mode === 'totp') setError('That code did not work. Enter the current code from your authenticator app, or an unused recovery code.');
        else go('totp');
        setCode('');
      } else if (mode === 'signup' && err instanceof ConfabError && err.code === 'FORBIDDEN') {
        setError(inviteToken ? 'This invite link is no longer valid: it was used up, revoked or has expired. Ask for a new one.' : `New accounts on ${name} need an invite.`);
      } else setError(humanError(err));
    } finally {
      setBusy(false);
    }
  };

  const signupNote =
    registration === 'closed'
      ? `Sign-ups are closed on ${name}. Ask an admin to create an account for you.`
      : registration === 'invite' && !inviteToken
        ? `New accounts on ${name} need an invite. Ask an admin for an invite link.`
        : null;

  const submitLabel = mode === 'signin' ? 'Sign in' : mode === 'signup' ? 'Create account' : mode === 'totp' ? 'Verify' : 'Send reset link';

  return (
    <div className="auth">
      <div className="auth-card">
        <div className="auth-brand">
          <img src="/favicon.svg" alt="" width={40} height={40} />
          <div>
            <h1>{name}</h1>
            <p>{name === 'Confab' ? 'Chat with people and AI, in one place.' : 'Chat with people and AI, on Confab.'}</p>
          </div>
        </div>
        {(mode === 'signin' || mode === 'signup') && canSignUp && (
          <div className="tabs" role="tablist" aria-label="Sign in or create an account">
            <button type="button" role="tab" aria-selected={mode === 'signin'} className={mode === 'signin' ? 'active' : ''} onClick={() => go('signin')}>
              Sign in
            </button>
            <button type="button" role="tab" aria-selected={mode === 'signup'} className={mode === 'signup' ? 'active' : ''} onClick={() => go('signup')}>
              Create account
            </button>
          </div>
        )}
        {mode === 'signup' && inviteToken && <p className="notice">You are invited to join {name}. Create your account to start.</p>}
        {mode === 'totp' && (
          <div className="auth-step">
            <h2>Two-factor sign-in</h2>
            <p className="hint">Enter the 6-digit code from your authenticator app. Lost your phone? A recovery code works here too, once.</p>
          </div>
        )}
        {mode === 'forgot' && (
          <div className="auth-step">
            <h2>Forgot your password?</h2>
            <p className="hint">We will e-mail you a link to set a new one.</p>
          </div>
        )}
        {notice && !error && mode === 'signin' && <p className="notice">{notice}</p>}
        {info && (
          <p className="notice" role="status">
            {info}
          </p>
        )}
        <form onSubmit={(e) => void submit(e)} aria-describedby={error ? `${id}-error` : undefined}>
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
          {mode !== 'totp' && (
            <>
              <label htmlFor={`${id}-email`}>Email</label>
              <input id={`${id}-email`} name="email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
            </>
          )}
          {(mode === 'signin' || mode === 'signup') && (
            <>
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
            </>
          )}
          {mode === 'signup' && (
            <p className="hint" id={`${id}-pwhint`}>
              At least 8 characters.
            </p>
          )}
          {mode === 'totp' && (
            <>
              <label htmlFor={`${id}-code`}>Authentication code</label>
              <input
                id={`${id}-code`}
                name="totpCode"
                autoComplete="one-time-code"
                autoFocus
                required
                minLength={6}
                maxLength={20}
                spellCheck={false}
                value={code}
                onChange={(e) => setCode(e.target.value)}
                className="code-input"
              />
            </>
          )}
          {error && (
            <p className="form-error" id={`${id}-error`} role="alert">
              {error}
            </p>
          )}
          {!(mode === 'forgot' && info) && (
            <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
              {busy ? <Spinner size={16} /> : submitLabel}
            </button>
          )}
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
        <div className="auth-foot">
          {mode === 'signin' &&
            (instance?.email ? (
              <button type="button" className="link-btn" onClick={() => go('forgot')}>
                Forgot your password?
              </button>
            ) : (
              <p className="hint">Forgot your password? Ask an admin of {name} for a reset link.</p>
            ))}
          {(mode === 'totp' || mode === 'forgot') && (
            <button type="button" className="link-btn" onClick={() => (go('signin'), setCode(''))}>
              Back to sign in
            </button>
          )}
          {mode === 'signin' && signupNote && <p className="hint auth-signup-note">{signupNote}</p>}
        </div>
      </div>
    </div>
  );
}
