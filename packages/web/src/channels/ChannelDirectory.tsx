import type { Channel } from '@confab/client';
import { useConfabClient } from '@confab/client/react';
import { useEffect, useId, useState } from 'react';
import { NewChatDialog } from '../conversations/NewChatDialog.tsx';
import { humanError } from '../lib/errors.ts';
import { conversationPath, navigate } from '../state/router.ts';
import { Icon } from '../ui/Icon.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { toast } from '../ui/toast.tsx';
import { rememberChannels } from './channelIndex.ts';
import './channels.css';
import { DrawerButton } from '../ui/DrawerButton.tsx';

const PAGE = 50;

/**
 * "Browse channels" (/channels): the public channels of this Confab, searchable by name and topic,
 * each with its member count and Join (or Open, for those the caller is in).
 */
export function ChannelDirectory({ onOpenDrawer }: { onOpenDrawer: () => void }) {
  const client = useConfabClient();
  const [query, setQuery] = useState('');
  const [channels, setChannels] = useState<Channel[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [joining, setJoining] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const id = useId();

  useEffect(() => {
    let cancelled = false;
    setError(null);
    const t = window.setTimeout(
      () => {
        client.api.listChannels({ limit: PAGE, ...(query.trim() ? { query: query.trim() } : {}) }).then(
          (res) => {
            if (cancelled) return;
            rememberChannels(res.channels);
            setChannels(res.channels);
            setNext(res.nextCursor);
          },
          (e: unknown) => !cancelled && setError(humanError(e)),
        );
      },
      query ? 200 : 0,
    );
    return () => {
      cancelled = true;
      window.clearTimeout(t);
    };
  }, [client, query, attempt]);

  const more = async () => {
    if (!next) return;
    setLoadingMore(true);
    try {
      const res = await client.api.listChannels({ limit: PAGE, cursor: next, ...(query.trim() ? { query: query.trim() } : {}) });
      rememberChannels(res.channels);
      setChannels((list) => [...(list ?? []), ...res.channels]);
      setNext(res.nextCursor);
    } catch (e) {
      toast(humanError(e), 'error');
    } finally {
      setLoadingMore(false);
    }
  };

  const join = async (c: Channel) => {
    setJoining(c.id);
    try {
      await client.joinChannel(c.id);
      navigate(conversationPath(c.id));
    } catch (e) {
      toast(humanError(e), 'error');
      setJoining(null);
    }
  };

  return (
    <div className="channel-directory">
      <header className="conv-header">
        <DrawerButton onOpenDrawer={onOpenDrawer} />
        <h1 className="directory-title">Browse channels</h1>
        <button type="button" className="btn btn-small" onClick={() => setCreating(true)}>
          <Icon name="plus" size={14} /> New channel
        </button>
      </header>
      <div className="directory-body">
        <div className="directory-search">
          <Icon name="search" size={16} />
          <label htmlFor={`${id}-q`} className="visually-hidden">
            Search channels
          </label>
          <input id={`${id}-q`} type="search" autoFocus placeholder="Search channels by name or topic" value={query} onChange={(e) => setQuery(e.target.value)} />
        </div>
        {error && (
          <div className="directory-state" role="alert">
            <p>{error}</p>
            <button type="button" className="btn" onClick={() => setAttempt((a) => a + 1)}>
              Try again
            </button>
          </div>
        )}
        {!error && channels === null && (
          <div className="directory-state">
            <Spinner size={18} /> Loading channels…
          </div>
        )}
        {!error && channels?.length === 0 && (
          <div className="directory-state">
            {query.trim() ? (
              <p>No channel matches “{query.trim()}”.</p>
            ) : (
              <>
                <p>There are no public channels yet.</p>
                <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
                  Create the first one
                </button>
              </>
            )}
          </div>
        )}
        {!error && channels && channels.length > 0 && (
          <ul className="channel-list" aria-label="Channels">
            {channels.map((c) => (
              <li key={c.id} className="channel-item">
                <button type="button" className="channel-main" onClick={() => navigate(conversationPath(c.id))} aria-label={`${c.title}: open`}>
                  <span className="channel-hash" aria-hidden="true">
                    #
                  </span>
                  <span className="channel-text">
                    <strong>{c.title}</strong>
                    <span className="channel-meta">
                      {c.memberCount} {c.memberCount === 1 ? 'member' : 'members'}
                      {c.isMember && ' · Joined'}
                    </span>
                    {c.topic && <span className="channel-topic">{c.topic}</span>}
                  </span>
                </button>
                {c.isMember ? (
                  <button type="button" className="btn btn-small" onClick={() => navigate(conversationPath(c.id))}>
                    Open
                  </button>
                ) : (
                  <button type="button" className="btn btn-small btn-primary" disabled={joining !== null} onClick={() => void join(c)} aria-label={`Join ${c.title}`}>
                    {joining === c.id ? <Spinner size={14} /> : 'Join'}
                  </button>
                )}
              </li>
            ))}
          </ul>
        )}
        {!error && next && (
          <button type="button" className="btn btn-block" onClick={() => void more()} disabled={loadingMore}>
            {loadingMore ? <Spinner size={14} /> : 'Show more channels'}
          </button>
        )}
      </div>
      {creating && <NewChatDialog initial="group" publicChannel onClose={() => setCreating(false)} />}
    </div>
  );
}
