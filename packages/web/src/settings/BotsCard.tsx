import { ConfabError } from '@confab/client';
import { useConfabClient } from '@confab/client/react';
import type { PublicUser } from '@confab/protocol';
import { useEffect, useId, useState } from 'react';
import { Card, formatDateTime, ListState, SecretOnce } from '../admin/common.tsx';
import { humanError } from '../lib/errors.ts';
import { Avatar } from '../ui/Avatar.tsx';
import { confirmDialog } from '../ui/confirm.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { toast } from '../ui/toast.tsx';

const HANDLE = /^[a-zA-Z0-9_.-]{2,32}$/;

/** A username from a display name: "Deploy Bot" → "deploy-bot" (the person may change it). */
function handleFrom(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 32);
}

function botError(error: unknown): string {
  if (error instanceof ConfabError && error.code === 'CONFLICT') return 'That username is taken. Choose another one.';
  if (error instanceof ConfabError && error.code === 'FORBIDDEN' && /bot/.test(error.message)) return 'A bot cannot make bots.';
  return humanError(error);
}

/** Settings → Bots (API.md, "Bots"): the bots I own, a new one (token shown once), a new token, delete. */
export function BotsCard() {
  const client = useConfabClient();
  const [bots, setBots] = useState<PublicUser[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [handle, setHandle] = useState('');
  const [handleEdited, setHandleEdited] = useState(false);
  const [busy, setBusy] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);
  const [token, setToken] = useState<{ bot: PublicUser; token: string; rotated: boolean } | null>(null);
  const id = useId();

  useEffect(() => {
    client.api.listBots().then(
      (r) => setBots(r.bots),
      (e: unknown) => setError(humanError(e)),
    );
  }, [client]);

  const create = async (e: React.FormEvent) => {
    e.preventDefault();
    setFormError(null);
    const h = handle.trim();
    if (!name.trim()) return setFormError('Give the bot a name people will see.');
    if (!HANDLE.test(h)) return setFormError('A username has 2 to 32 letters, digits, _ . or -.');
    setBusy(true);
    try {
      const r = await client.api.createBot({ handle: h, displayName: name.trim() });
      setBots((list) => [...(list ?? []), r.bot]);
      setToken({ ...r, rotated: false });
      setName('');
      setHandle('');
      setHandleEdited(false);
    } catch (err) {
      setFormError(botError(err));
    } finally {
      setBusy(false);
    }
  };

  const rotate = async (bot: PublicUser) => {
    const ok = await confirmDialog({
      title: `Make a new token for ${bot.displayName}?`,
      body: 'The old token stops working at once, and every live connection made with it is cut. Put the new token in your program for it to connect again.',
      confirm: 'Make new token',
      danger: true,
    });
    if (!ok) return;
    try {
      const r = await client.api.rotateBotToken(bot.id);
      setToken({ ...r, rotated: true });
    } catch (err) {
      toast(botError(err), 'error');
    }
  };

  const remove = async (bot: PublicUser) => {
    const ok = await confirmDialog({
      title: `Delete ${bot.displayName}?`,
      body: 'Its token stops working and its live connections are cut. What it wrote stays in its conversations, under its name. This cannot be undone.',
      confirm: 'Delete bot',
      danger: true,
    });
    if (!ok) return;
    try {
      await client.api.deleteBot(bot.id);
      setBots((list) => (list ?? []).filter((b) => b.id !== bot.id));
      if (token?.bot.id === bot.id) setToken(null);
      toast(`${bot.displayName} is deleted.`);
    } catch (err) {
      toast(botError(err), 'error');
    }
  };

  return (
    <Card
      id="settings-bots"
      title="Bots"
      description="A bot is an account your own program signs in as, with a token instead of a password. Add it to a conversation and it reads and writes there like anyone. Your bots belong to you."
    >
      {bots && bots.length > 0 && (
        <ul className="session-list" aria-label="Your bots">
          {bots.map((b) => (
            <li key={b.id} data-bot-id={b.id}>
              <Avatar id={b.id} name={b.displayName} url={b.avatarUrl} size={28} />
              <span className="session-main">
                <strong>{b.displayName}</strong>
                <span>
                  @{b.handle} · {b.lastSeenAt ? `last connected ${formatDateTime(b.lastSeenAt)}` : 'not connected yet'}
                </span>
              </span>
              <span className="row">
                <button type="button" className="btn btn-small" onClick={() => void rotate(b)}>
                  New token
                </button>
                <button type="button" className="btn btn-small btn-danger" onClick={() => void remove(b)}>
                  Delete
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}
      <ListState loading={bots === null && !error} error={error} empty={bots !== null && bots.length === 0} emptyText="You have no bots yet." />
      {token && (
        <SecretOnce title={`${token.rotated ? 'New token' : 'Token'} for ${token.bot.displayName} (@${token.bot.handle})`} value={token.token} label="Bot token" onDone={() => setToken(null)}>
          <p className="hint hint-block">
            {token.rotated ? 'The old token no longer works. ' : ''}Your program sends it as <code>Authorization: Bearer …</code>, or as <code>auth: {'{ token }'}</code> on Socket.IO.
          </p>
        </SecretOnce>
      )}
      <form className="stack" onSubmit={(e) => void create(e)} noValidate aria-labelledby={`${id}-t`}>
        <h3 className="sub-title" id={`${id}-t`}>
          New bot
        </h3>
        <div className="bot-form">
          <label>
            <span>Name</span>
            <input
              value={name}
              maxLength={64}
              placeholder="e.g. Deploy bot"
              onChange={(e) => {
                setName(e.target.value);
                if (!handleEdited) setHandle(handleFrom(e.target.value));
              }}
            />
          </label>
          <label>
            <span>Username</span>
            <input
              value={handle}
              maxLength={32}
              autoComplete="off"
              spellCheck={false}
              placeholder="deploy-bot"
              onChange={(e) => {
                setHandle(e.target.value);
                setHandleEdited(true);
              }}
            />
          </label>
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? <Spinner size={14} /> : 'Create bot'}
          </button>
        </div>
        {formError && (
          <p className="form-error" role="alert">
            {formError}
          </p>
        )}
      </form>
    </Card>
  );
}
