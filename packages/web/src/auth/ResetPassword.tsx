import { ConfabError } from '@confab/client';
import { useConfabClient } from '@confab/client/react';
import { useId, useState } from 'react';
import { humanError } from '../lib/errors.ts';
import { Spinner } from '../ui/Spinner.tsx';
import { useInstance } from '../state/instance.ts';

/**
 * `/reset-password/<token>`: a one-time link (from an admin, or e-mailed) to set a new password.
 * Every session of the account ends; `onDone` goes on to the sign-in page.
 */
export function ResetPasswordScreen({ token, onDone }: { token: string; onDone: (notice: string) => void }) {
  const client = useConfabClient();
  const instance = useInstance();
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = useId();
  const name = instance?.name || 'Confab';

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    if (password.length < 8) return setError('Use at least 8 characters for your password.');
    if (password !== again) return setError('The two passwords are not the same.');
    setBusy(true);
    try {
      await client.api.resetPassword({ token, newPassword: password });
      onDone('Your password is changed, and every device was signed out. Sign in with your new password.');
    } catch (err) {
      setError(
        err instanceof ConfabError && (err.code === 'NOT_FOUND' || err.code === 'UNAUTHENTICATED' || err.code === 'FORBIDDEN' || (err.code === 'VALIDATION_ERROR' && /token|link|expired/i.test(err.message)))
          ? 'This link is no longer valid: it was used already or has expired. Ask for a new one.'
          : humanError(err),
      );
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
            <h1>{name}</h1>
            <p>Set a new password</p>
          </div>
        </div>
        <form onSubmit={(e) => void submit(e)} aria-describedby={error ? `${id}-error` : undefined}>
          <label htmlFor={`${id}-pw`}>New password</label>
          <input id={`${id}-pw`} type="password" autoComplete="new-password" required autoFocus value={password} onChange={(e) => setPassword(e.target.value)} aria-describedby={`${id}-hint`} />
          <p className="hint" id={`${id}-hint`}>
            At least 8 characters. Every device signed in to your account will be signed out.
          </p>
          <label htmlFor={`${id}-again`}>Repeat the new password</label>
          <input id={`${id}-again`} type="password" autoComplete="new-password" required value={again} onChange={(e) => setAgain(e.target.value)} />
          {error && (
            <p className="form-error" id={`${id}-error`} role="alert">
              {error}
            </p>
          )}
          <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
            {busy ? <Spinner size={16} /> : 'Set new password'}
          </button>
        </form>
        <div className="auth-foot">
          <button type="button" className="link-btn" onClick={() => onDone('')}>
            Back to sign in
          </button>
        </div>
      </div>
    </div>
  );
}
