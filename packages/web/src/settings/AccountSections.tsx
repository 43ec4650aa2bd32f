import { ConfabError } from '@confab/client';
import { useConfabClient } from '@confab/client/react';
import type { BlockedUser, Privacy, SessionInfo, TotpSetup } from '@confab/protocol';
import QRCode from 'qrcode';
import { useCallback, useEffect, useId, useState } from 'react';
import { Card, formatDateTime, ListState } from '../admin/common.tsx';
import { copyText } from '../lib/clipboard.ts';
import { humanError } from '../lib/errors.ts';
import { useMe } from '../state/me.tsx';
import { Avatar } from '../ui/Avatar.tsx';
import { confirmDialog } from '../ui/confirm.tsx';
import { Icon } from '../ui/Icon.tsx';
import { Modal } from '../ui/Modal.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { toast } from '../ui/toast.tsx';
import { LinkedSignIns } from './LinkedSignIns.tsx';
import { allowanceText, useUsage } from './usage.tsx';
import './account.css';

/** A wrong current password reads as such, not as "your session has ended". */
function passwordError(error: unknown): string {
  if (error instanceof ConfabError && (error.code === 'UNAUTHENTICATED' || error.code === 'FORBIDDEN') && /password/i.test(error.message)) return 'That is not your current password.';
  if (error instanceof ConfabError && error.code === 'VALIDATION_ERROR' && /password/i.test(error.message) && !/least|characters/i.test(error.message)) return 'That is not your current password.';
  return humanError(error);
}

function download(name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// ---- privacy and blocked people

export function PrivacyCard() {
  const client = useConfabClient();
  const [privacy, setPrivacy] = useState<Privacy | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    client.api
      .getPrivacy()
      .then(setPrivacy, (e: unknown) => setError(humanError(e)));
  }, [client]);
  const save = (patch: Partial<Privacy>) => {
    if (!privacy) return;
    const next = { ...privacy, ...patch };
    setPrivacy(next);
    client.api
      .putPrivacy(next)
      .then(setPrivacy, (e: unknown) => {
        setPrivacy(privacy);
        toast(humanError(e), 'error');
      });
  };
  return (
    <Card id="settings-privacy" title="Privacy" description="Who can find you, see when you were last here, and message you.">
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {!privacy && !error && <p className="hint list-state">Loading…</p>}
      {privacy && (
        <>
          <label className="switch">
            <input type="checkbox" checked={privacy.discoverable} onChange={() => save({ discoverable: !privacy.discoverable })} />
            <span>Let people find me in search (people I share a conversation with always can)</span>
          </label>
          <label className="switch">
            <input type="checkbox" checked={privacy.showLastSeen} onChange={() => save({ showLastSeen: !privacy.showLastSeen })} />
            <span>Show when I am online and when I was last seen</span>
          </label>
          <fieldset className="segmented">
            <legend>Who can start a direct conversation with me</legend>
            <div className="segmented-options">
              {(
                [
                  ['everyone', 'Everyone'],
                  ['shared', 'People I share a conversation with'],
                ] as const
              ).map(([v, label]) => (
                <label key={v} className={privacy.directMessagesFrom === v ? 'on' : ''}>
                  <input type="radio" name="dm-from" value={v} checked={privacy.directMessagesFrom === v} onChange={() => save({ directMessagesFrom: v })} />
                  {label}
                </label>
              ))}
            </div>
          </fieldset>
        </>
      )}
      <BlockedList />
    </Card>
  );
}

function BlockedList() {
  const client = useConfabClient();
  const [blocks, setBlocks] = useState<BlockedUser[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    client.api
      .listBlocks()
      .then(
        (r) => setBlocks(r.blocks),
        (e: unknown) => setError(humanError(e)),
      );
  }, [client]);
  const unblock = async (b: BlockedUser) => {
    try {
      await client.api.unblockUser(b.id);
      setBlocks((list) => (list ?? []).filter((x) => x.id !== b.id));
      toast(`${b.displayName} is unblocked.`);
    } catch (e) {
      toast(humanError(e), 'error');
    }
  };
  return (
    <div className="stack" id="settings-blocked">
      <h3 className="sub-title">Blocked people</h3>
      <p className="hint">They cannot start a direct conversation with you, write to you in one, or add you to a group.</p>
      {blocks && blocks.length > 0 && (
        <ul className="session-list" aria-label="Blocked people">
          {blocks.map((b) => (
            <li key={b.id}>
              <Avatar id={b.id} name={b.displayName} size={28} />
              <span className="session-main">
                <strong>{b.displayName}</strong>
                <span>
                  @{b.handle} · blocked {formatDateTime(b.blockedAt)}
                </span>
              </span>
              <button type="button" className="btn btn-small" onClick={() => void unblock(b)}>
                Unblock
              </button>
            </li>
          ))}
        </ul>
      )}
      <ListState loading={blocks === null && !error} error={error} empty={blocks !== null && blocks.length === 0} emptyText="You have not blocked anyone." />
    </div>
  );
}

// ---- password, two-factor, sessions

export function SecurityCard() {
  return (
    <Card id="settings-security" title="Sign-in and security">
      <ChangePassword />
      <TwoFactor />
      <LinkedSignIns />
      <Sessions />
    </Card>
  );
}

function ChangePassword() {
  const client = useConfabClient();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = useId();
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    if (next.length < 8) return setError('Use at least 8 characters for the new password.');
    if (next !== again) return setError('The two new passwords are not the same.');
    setBusy(true);
    try {
      await client.api.changePassword({ currentPassword: current, newPassword: next });
      setCurrent('');
      setNext('');
      setAgain('');
      toast('Password changed. Your other devices were signed out.');
    } catch (err) {
      setError(passwordError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="stack" onSubmit={(e) => void submit(e)} aria-labelledby={`${id}-t`}>
      <h3 className="sub-title" id={`${id}-t`}>
        Change password
      </h3>
      <label htmlFor={`${id}-cur`}>Current password</label>
      <input id={`${id}-cur`} type="password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.target.value)} />
      <label htmlFor={`${id}-new`}>New password</label>
      <input id={`${id}-new`} type="password" autoComplete="new-password" required value={next} onChange={(e) => setNext(e.target.value)} />
      <label htmlFor={`${id}-again`}>Repeat the new password</label>
      <input id={`${id}-again`} type="password" autoComplete="new-password" required value={again} onChange={(e) => setAgain(e.target.value)} />
      <p className="hint">At least 8 characters. Every other device signed in to your account is signed out.</p>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      <div className="row end">
        <button type="submit" className="btn btn-primary" disabled={busy || !current || !next}>
          {busy ? <Spinner size={14} /> : 'Change password'}
        </button>
      </div>
    </form>
  );
}

function TwoFactor() {
  const client = useConfabClient();
  const { me, setMe } = useMe();
  const [setup, setSetup] = useState<(TotpSetup & { qr: string }) | null>(null);
  const [code, setCode] = useState('');
  const [codes, setCodes] = useState<string[] | null>(null);
  const [disabling, setDisabling] = useState(false);
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = useId();

  const start = async () => {
    setError(null);
    setBusy(true);
    try {
      const s = await client.api.setupTotp();
      const qr = await QRCode.toDataURL(s.otpauthUrl, { margin: 1, width: 368, errorCorrectionLevel: 'M' });
      setSetup({ ...s, qr });
      setCode('');
    } catch (e) {
      toast(humanError(e), 'error');
    } finally {
      setBusy(false);
    }
  };
  const enable = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const r = await client.api.enableTotp(code.replace(/\s+/g, ''));
      setSetup(null);
      setCodes(r.recoveryCodes);
      setMe({ ...me, totpEnabled: true });
    } catch (err) {
      setError(err instanceof ConfabError && err.code !== 'UNAVAILABLE' && err.code !== 'RATE_LIMITED' ? 'That code did not match. Enter the 6-digit code your app shows now.' : humanError(err));
    } finally {
      setBusy(false);
    }
  };
  const disable = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      await client.api.disableTotp(password);
      setDisabling(false);
      setPassword('');
      setMe({ ...me, totpEnabled: false });
      toast('Two-factor sign-in is off.');
    } catch (err) {
      setError(passwordError(err));
    } finally {
      setBusy(false);
    }
  };
  const text = codes ? `Recovery codes for ${me.email} (each works once):\n\n${codes.join('\n')}\n` : '';

  return (
    <div className="stack" id="settings-two-factor">
      <h3 className="sub-title">Two-factor sign-in</h3>
      {me.totpEnabled && !codes && (
        <>
          <p className="hint">
            <Icon name="check" size={14} /> On: signing in asks for a code from your authenticator app.
          </p>
          {!disabling ? (
            <div className="row">
              <button type="button" className="btn btn-danger" onClick={() => (setDisabling(true), setError(null))}>
                Turn off two-factor sign-in
              </button>
            </div>
          ) : (
            <form className="stack" onSubmit={(e) => void disable(e)}>
              <label htmlFor={`${id}-pw`}>Your password, to turn it off</label>
              <input id={`${id}-pw`} type="password" autoComplete="current-password" autoFocus required value={password} onChange={(e) => setPassword(e.target.value)} />
              {error && (
                <p className="form-error" role="alert">
                  {error}
                </p>
              )}
              <div className="row end">
                <button type="button" className="btn" onClick={() => setDisabling(false)}>
                  Cancel
                </button>
                <button type="submit" className="btn btn-danger-solid" disabled={busy || !password}>
                  {busy ? <Spinner size={14} /> : 'Turn off'}
                </button>
              </div>
            </form>
          )}
        </>
      )}
      {!me.totpEnabled && !setup && (
        <>
          <p className="hint">Ask for a code from an authenticator app (such as 1Password, Aegis or Google Authenticator) when signing in, as well as your password.</p>
          <div className="row">
            <button type="button" className="btn btn-primary" disabled={busy} onClick={() => void start()}>
              {busy ? <Spinner size={14} /> : 'Set up two-factor sign-in'}
            </button>
          </div>
        </>
      )}
      {setup && (
        <div className="totp-setup">
          <div className="totp-qr">
            <img src={setup.qr} alt="QR code to scan with your authenticator app" width={184} height={184} />
          </div>
          <form className="totp-steps" onSubmit={(e) => void enable(e)}>
            <p className="hint">1. Scan the QR code with your authenticator app. Can't scan it? Enter this key instead:</p>
            <code className="totp-secret" aria-label="Setup key">
              {setup.secret.replace(/(.{4})/g, '$1 ').trim()}
            </code>
            <label htmlFor={`${id}-code`}>2. Enter the 6-digit code the app shows</label>
            <input id={`${id}-code`} className="code-input" inputMode="numeric" autoComplete="one-time-code" required minLength={6} maxLength={10} value={code} onChange={(e) => setCode(e.target.value)} />
            {error && (
              <p className="form-error" role="alert">
                {error}
              </p>
            )}
            <div className="row end">
              <button type="button" className="btn" onClick={() => setSetup(null)}>
                Cancel
              </button>
              <button type="submit" className="btn btn-primary" disabled={busy || code.trim().length < 6}>
                {busy ? <Spinner size={14} /> : 'Turn on two-factor sign-in'}
              </button>
            </div>
          </form>
        </div>
      )}
      {codes && (
        <Modal title="Save your recovery codes" onClose={() => setCodes(null)} focusFirst={false}>
          <div className="stack">
            <p className="confirm-body">Two-factor sign-in is on. If you lose your phone, each of these codes signs you in once instead of a code from the app. They are shown only now: keep them somewhere safe.</p>
            <ul className="recovery-codes" aria-label="Recovery codes">
              {codes.map((c) => (
                <li key={c}>{c}</li>
              ))}
            </ul>
            <div className="modal-actions">
              <button
                type="button"
                className="btn"
                onClick={() =>
                  void copyText(text).then(
                    () => toast('Recovery codes copied.'),
                    () => toast('Could not copy. Download them instead.', 'error'),
                  )
                }
              >
                <Icon name="copy" size={14} /> Copy
              </button>
              <button type="button" className="btn" onClick={() => download('confab-recovery-codes.txt', new Blob([text], { type: 'text/plain' }))}>
                <Icon name="download" size={14} /> Download
              </button>
              <button type="button" className="btn btn-primary" onClick={() => setCodes(null)}>
                I saved them
              </button>
            </div>
          </div>
        </Modal>
      )}
    </div>
  );
}

/** "Chrome on macOS" from a user agent, or the raw string shortened. */
function deviceName(ua: string | null): string {
  if (!ua) return 'Unknown device';
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrome\/|Chromium\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : /node|undici|axios|curl/i.test(ua) ? 'An app' : null;
  const os = /iPhone|iPad/.test(ua) ? 'iOS' : /Android/.test(ua) ? 'Android' : /Mac OS X/.test(ua) ? 'macOS' : /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : null;
  if (browser && os) return `${browser} on ${os}`;
  return browser ?? os ?? (ua.length > 48 ? `${ua.slice(0, 48)}…` : ua);
}

function Sessions() {
  const client = useConfabClient();
  const [sessions, setSessions] = useState<SessionInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => {
    client.api
      .listSessions()
      .then(
        (r) => setSessions(r.sessions),
        (e: unknown) => setError(humanError(e)),
      );
  }, [client]);
  useEffect(load, [load]);
  const end = async (s: SessionInfo) => {
    try {
      await client.api.endSession(s.id);
      setSessions((list) => (list ?? []).filter((x) => x.id !== s.id));
      toast('That device is signed out.');
    } catch (e) {
      toast(humanError(e), 'error');
    }
  };
  const endOthers = async () => {
    if (!(await confirmDialog({ title: 'Sign out everywhere else?', body: 'Every other browser and app signed in to your account is signed out at once. This one stays signed in.', confirm: 'Sign out others', danger: true })))
      return;
    try {
      await client.api.endOtherSessions();
      setSessions((list) => (list ?? []).filter((x) => x.current));
      toast('Every other device is signed out.');
    } catch (e) {
      toast(humanError(e), 'error');
    }
  };
  const others = (sessions ?? []).filter((s) => !s.current).length;
  return (
    <div className="stack" id="settings-sessions">
      <h3 className="sub-title">Where you are signed in</h3>
      {sessions && sessions.length > 0 && (
        <ul className="session-list" aria-label="Signed-in devices">
          {[...sessions]
            .sort((a, b) => Number(b.current) - Number(a.current) || b.lastUsedAt.localeCompare(a.lastUsedAt))
            .map((s) => (
              <li key={s.id} className={s.current ? 'current' : ''}>
                <span className="session-main">
                  <strong>
                    {deviceName(s.userAgent)}
                    {s.current && <span className="hint-inline"> · this browser</span>}
                  </strong>
                  <span>
                    {s.ip ? `${s.ip} · ` : ''}last active {formatDateTime(s.lastUsedAt)} · signed in {formatDateTime(s.createdAt)}
                  </span>
                </span>
                {!s.current && (
                  <button type="button" className="btn btn-small" onClick={() => void end(s)}>
                    Sign out
                  </button>
                )}
              </li>
            ))}
        </ul>
      )}
      <ListState loading={sessions === null && !error} error={error} empty={sessions !== null && sessions.length === 0} emptyText="No sessions." />
      <div className="row">
        <button type="button" className="btn btn-danger" disabled={others === 0} onClick={() => void endOthers()}>
          Sign out everywhere else
        </button>
      </div>
    </div>
  );
}

// ---- AI usage, your data, deletion

export function UsageSummary() {
  const usage = useUsage(null, 30);
  if (!usage) return null;
  const line = allowanceText(usage);
  const total = usage.days.reduce((a, d) => ({ answers: a.answers + d.answers, tokens: a.tokens + d.inputTokens + d.outputTokens }), { answers: 0, tokens: 0 });
  return (
    <div className="stack" id="settings-usage">
      <h3 className="sub-title">Your AI usage</h3>
      <p className={`hint usage-left ${line?.level ?? ''}`}>{line ? line.text : 'No daily limit on this server.'}</p>
      <p className="hint">
        Last 30 days, on the server's keys: {total.answers} answers, {new Intl.NumberFormat().format(total.tokens)} tokens.
      </p>
    </div>
  );
}

export function DataCard() {
  const client = useConfabClient();
  const { me, signOut } = useMe();
  const [busy, setBusy] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const exportData = async () => {
    setBusy(true);
    try {
      const blob = await client.api.exportData();
      download(`confab-${me.handle}-${new Date().toISOString().slice(0, 10)}.json`, blob);
    } catch (e) {
      toast(humanError(e), 'error');
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card id="settings-data" title="Your data" className="card-danger">
      <div className="push-row first">
        <div>
          <strong>Download my data</strong>
          <p className="hint">Your profile, settings, and every conversation you are in with the messages you can see, as one JSON file.</p>
        </div>
        <button type="button" className="btn" disabled={busy} onClick={() => void exportData()}>
          {busy ? <Spinner size={14} /> : (
            <>
              <Icon name="download" size={16} /> Download
            </>
          )}
        </button>
      </div>
      <div className="push-row">
        <div>
          <strong>Delete my account</strong>
          <p className="hint">Your profile becomes "Deleted user", the text of your messages and your files are erased. Conversations stay for the others. This cannot be undone.</p>
        </div>
        <button type="button" className="btn btn-danger" onClick={() => setDeleting(true)}>
          Delete account
        </button>
      </div>
      {deleting && <DeleteAccount onClose={() => setDeleting(false)} onDeleted={() => void signOut('Your account is deleted. Thank you for using Confab.')} />}
    </Card>
  );
}

function DeleteAccount({ onClose, onDeleted }: { onClose: () => void; onDeleted: () => void }) {
  const client = useConfabClient();
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = useId();
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      await client.api.deleteAccount(password);
      onDeleted();
    } catch (err) {
      setError(passwordError(err));
      setBusy(false);
    }
  };
  return (
    <Modal title="Delete your account?" onClose={onClose}>
      <form className="stack" onSubmit={(e) => void submit(e)}>
        <p className="confirm-body">This signs you out everywhere and erases your messages' text and your files. It cannot be undone.</p>
        <label htmlFor={`${id}-pw`}>Your password</label>
        <input id={`${id}-pw`} type="password" autoComplete="current-password" autoFocus required value={password} onChange={(e) => setPassword(e.target.value)} />
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <div className="modal-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn btn-danger-solid" disabled={busy || !password}>
            {busy ? <Spinner size={14} /> : 'Delete my account'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
