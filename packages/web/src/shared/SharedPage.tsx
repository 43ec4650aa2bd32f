import { ConfabError } from '@confab/client';
import { useConfabClient } from '@confab/client/react';
import type { SharedMessage, SharedSnapshot } from '@confab/protocol';
import { Fragment, useEffect, useState } from 'react';
import { PublicMarkdown } from '../chat/Markdown.tsx';
import { modelLabel } from '../conversations/helpers.ts';
import { humanError } from '../lib/errors.ts';
import { formatBytes } from '../lib/files.ts';
import { dayKey, formatDay, formatTime } from '../lib/time.ts';
import { useInstance } from '../state/instance.ts';
import { Avatar } from '../ui/Avatar.tsx';
import { Icon } from '../ui/Icon.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import './shared.css';

type State = { kind: 'loading' } | { kind: 'ready'; snapshot: SharedSnapshot } | { kind: 'removed' } | { kind: 'error'; message: string };

const dateFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'long', day: 'numeric', hour: 'numeric', minute: '2-digit' });

/**
 * The public page of a shared snapshot (/shared/<id>): read without signing in, whoever is signed
 * in here. It shows what the snapshot holds (docs/ai.md, Shares) and says clearly that it is a
 * read-only copy; a removed link gets a friendly page of its own.
 */
export function SharedPage({ id }: { id: string }) {
  const client = useConfabClient();
  const instance = useInstance();
  const [state, setState] = useState<State>({ kind: 'loading' });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let live = true;
    setState({ kind: 'loading' });
    client.api.getShared(id).then(
      (snapshot) => live && setState({ kind: 'ready', snapshot }),
      (e: unknown) => {
        if (!live) return;
        if (e instanceof ConfabError && e.code === 'NOT_FOUND') setState({ kind: 'removed' });
        else setState({ kind: 'error', message: humanError(e) });
      },
    );
    return () => {
      live = false;
    };
  }, [client, id, attempt]);

  // Unlisted: a link shared with some people is not for search engines.
  useEffect(() => {
    const meta = document.createElement('meta');
    meta.name = 'robots';
    meta.content = 'noindex';
    document.head.appendChild(meta);
    return () => meta.remove();
  }, []);
  const title = state.kind === 'ready' ? state.snapshot.title || 'Shared conversation' : state.kind === 'removed' ? 'Link removed' : 'Shared conversation';
  useEffect(() => {
    const before = document.title;
    document.title = `${title} · ${instance?.name ?? 'Confab'}`;
    return () => {
      document.title = before;
    };
  }, [title, instance?.name]);

  return (
    <div className="shared-page">
      <header className="shared-top">
        <a className="shared-brand" href="/">
          <img src="/favicon.svg" alt="" width={26} height={26} />
          {instance?.name ?? 'Confab'}
        </a>
        <span className="shared-badge">
          <Icon name="share" size={14} /> Shared snapshot · read-only
        </span>
      </header>
      <main className="shared-main" aria-busy={state.kind === 'loading'}>
        {state.kind === 'loading' && (
          <div className="shared-state">
            <Spinner size={28} label="Loading the shared conversation" />
          </div>
        )}
        {state.kind === 'removed' && (
          <div className="shared-state" role="alert">
            <div className="welcome-art" aria-hidden="true">
              <Icon name="link" size={30} />
            </div>
            <h1>This link was removed</h1>
            <p>Whoever shared this conversation removed the link, or the conversation was deleted. If you still need it, ask them for a new link.</p>
            <a className="btn" href="/">
              Go to {instance?.name ?? 'Confab'}
            </a>
          </div>
        )}
        {state.kind === 'error' && (
          <div className="shared-state" role="alert">
            <h1>Could not load this conversation</h1>
            <p>{state.message}</p>
            <button type="button" className="btn btn-primary" onClick={() => setAttempt((n) => n + 1)}>
              Try again
            </button>
          </div>
        )}
        {state.kind === 'ready' && <Snapshot snapshot={state.snapshot} />}
      </main>
    </div>
  );
}

function Snapshot({ snapshot }: { snapshot: SharedSnapshot }) {
  const { messages } = snapshot;
  return (
    <article className="shared-article" aria-labelledby="shared-title">
      <div className="shared-head">
        <h1 id="shared-title">{snapshot.title || 'Shared conversation'}</h1>
        <p className="shared-note">
          <Icon name="clock" size={14} /> A read-only copy of the conversation as it was on {dateFmt.format(new Date(snapshot.createdAt))}. Later messages and edits are not shown.
        </p>
      </div>
      {messages.length === 0 ? (
        <p className="shared-empty">This snapshot has no messages.</p>
      ) : (
        <ol className="shared-messages" aria-label="Messages">
          {messages.map((m, i) => {
            const prev = messages[i - 1];
            const newDay = !prev || dayKey(prev.createdAt) !== dayKey(m.createdAt);
            const first = newDay || !prev || prev.author.name !== m.author.name || prev.author.assistant !== m.author.assistant;
            return (
              <Fragment key={i}>
                {newDay && (
                  <li className="day-divider" role="separator">
                    <span>{formatDay(m.createdAt)}</span>
                  </li>
                )}
                <SharedRow m={m} first={first} />
              </Fragment>
            );
          })}
        </ol>
      )}
      <p className="shared-foot hint">
        Shared from {window.location.host}. Names are the ones people had when the snapshot was taken.
      </p>
    </article>
  );
}

function SharedRow({ m, first }: { m: SharedMessage; first: boolean }) {
  const ai = m.author.assistant;
  return (
    <li className={`shared-msg ${ai ? 'ai' : ''} ${first ? 'first' : ''}`} aria-label={`${m.author.name}, ${formatTime(m.createdAt)}`}>
      <div className="shared-gutter">{first && <Avatar id={m.author.name} name={m.author.name} size={32} kind={ai ? 'assistant' : 'user'} />}</div>
      <div className="shared-body">
        {first && (
          <div className="msg-meta">
            <span className="msg-author">{m.author.name}</span>
            {ai && m.model && <span className="model-badge">{modelLabel(m.model)}</span>}
            <time dateTime={m.createdAt}>{formatTime(m.createdAt)}</time>
          </div>
        )}
        {m.content && <PublicMarkdown text={m.content} />}
        {m.attachments.length > 0 && (
          <ul className="shared-files" aria-label="Files">
            {m.attachments.map((a, i) => (
              <li key={i} className="shared-file" title="Files are not included in shared links">
                <Icon name="file" size={14} /> <span className="shared-file-name">{a.name}</span> <span className="hint">{formatBytes(a.size)} · not included</span>
              </li>
            ))}
          </ul>
        )}
      </div>
    </li>
  );
}
