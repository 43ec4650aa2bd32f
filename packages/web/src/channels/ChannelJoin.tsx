import { ConfabError, type Channel } from '@confab/client';
import { useConfabClient } from '@confab/client/react';
import { useEffect, useState, type ReactNode } from 'react';
import { humanError } from '../lib/errors.ts';
import { navigate } from '../state/router.ts';
import { Icon } from '../ui/Icon.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { rememberChannels } from './channelIndex.ts';
import './channels.css';

/**
 * Shown at /c/<id> when the caller is not a member: a public channel's name, topic and member
 * count with a Join button (its messages are not readable before joining); anything else gets
 * `fallback` (the conversation is not there, or not for the caller).
 */
export function ChannelJoin({ id, fallback }: { id: string; fallback: ReactNode }) {
  const client = useConfabClient();
  const [channel, setChannel] = useState<Channel | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [joining, setJoining] = useState(false);

  useEffect(() => {
    let cancelled = false;
    client.api.getChannel(id).then(
      (c) => {
        if (cancelled) return;
        rememberChannels([c]);
        setChannel(c);
      },
      (e: unknown) => {
        if (cancelled) return;
        if (e instanceof ConfabError && e.code === 'NOT_FOUND') setChannel(null);
        else setError(humanError(e));
      },
    );
    return () => {
      cancelled = true;
    };
  }, [client, id]);

  const join = async () => {
    setJoining(true);
    setError(null);
    try {
      // The conversation arrives in the store; ConversationView then shows it in place of this.
      await client.joinChannel(id);
    } catch (e) {
      setError(humanError(e));
      setJoining(false);
    }
  };

  if (channel === null) return <>{fallback}</>;
  if (channel === undefined && !error) {
    return (
      <div className="welcome">
        <Spinner size={20} />
      </div>
    );
  }
  return (
    <div className="channel-join-screen">
      {/* On a phone: the way back to the conversation list. */}
      <header className="channel-join-head">
        <button type="button" className="icon-btn drawer-btn" aria-label="Back to conversations" onClick={() => navigate('/')}>
          <Icon name="back" size={20} />
        </button>
      </header>
      <div className="welcome channel-join">
        <div className="welcome-art" aria-hidden="true">
          #
        </div>
        {channel && (
          <>
            <h2>{channel.title}</h2>
            {channel.topic && <p className="channel-join-topic">{channel.topic}</p>}
            <p className="hint">
              A public channel · {channel.memberCount} {channel.memberCount === 1 ? 'member' : 'members'}
            </p>
            <p>Join to read its messages and take part.</p>
          </>
        )}
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <div className="row">
          {channel && (
            <button type="button" className="btn btn-primary" onClick={() => void join()} disabled={joining} autoFocus>
              {joining ? <Spinner size={16} /> : 'Join channel'}
            </button>
          )}
          <button type="button" className="btn" onClick={() => navigate('/channels')}>
            <Icon name="search" size={14} /> Browse channels
          </button>
        </div>
      </div>
    </div>
  );
}
