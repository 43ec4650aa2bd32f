import type { ToolCall } from '@confab/protocol';
import { useState } from 'react';
import { Icon } from '../ui/Icon.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import './toolCalls.css';

/**
 * The tools an AI answer called (docs/ai.md, "Tools"), above its text: one line each, with what it
 * did and how it went (a spinner while it runs); opened, the input and the result. Streamed live
 * (`ai:tool`) like the text, so a tab opened mid-call shows the call running.
 */
export function ToolCalls({ calls, streaming }: { calls: ToolCall[]; streaming: boolean }) {
  if (calls.length === 0) return null;
  return (
    <ul className="tool-calls" aria-label="Tools the assistant used">
      {calls.map((c) => (
        <ToolCallItem key={c.id} call={c} streaming={streaming} />
      ))}
    </ul>
  );
}

interface SearchResult {
  title: string;
  url: string;
  snippet: string;
}

const text = (v: unknown) => (typeof v === 'string' ? v : '');
const quoted = (v: string) => `“${v.length > 60 ? `${v.slice(0, 60)}…` : v}”`;

/** What the call does, in words: present while it runs, past once done. */
function describe(call: ToolCall, running: boolean): string {
  const input = (call.input ?? {}) as Record<string, unknown>;
  if (call.name === 'web_search') return `${running ? 'Searching' : 'Searched'} the web for ${quoted(text(input.query))}`;
  if (call.name === 'generate_image') return running ? 'Drawing a picture' : 'Drew a picture';
  const at = call.name.indexOf('__');
  if (at > 0) return `${running ? 'Using' : 'Used'} ${call.name.slice(at + 2)} (${call.name.slice(0, at)})`;
  return `${running ? 'Using' : 'Used'} ${call.name}`;
}

function searchResults(output: unknown): SearchResult[] | null {
  const results = (output as { results?: unknown } | null)?.results;
  if (!Array.isArray(results)) return null;
  return results.filter((r): r is SearchResult => typeof r?.url === 'string' && /^https?:\/\//.test(r.url));
}

function pretty(v: unknown): string {
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v, null, 2);
  } catch {
    return String(v);
  }
}

function ToolCallItem({ call, streaming }: { call: ToolCall; streaming: boolean }) {
  const [open, setOpen] = useState(false);
  // A call left running by an answer that ended (a server restart) did not finish.
  const status = call.status === 'running' && !streaming ? 'stopped' : call.status;
  const running = status === 'running';
  const results = call.name === 'web_search' ? searchResults(call.output) : null;
  const statusLabel = { running: 'running', done: 'done', error: 'failed', stopped: 'stopped' }[status];
  const bodyId = `tool-${call.id}`;
  return (
    <li className={`tool-call ${status}`} data-tool={call.name} data-status={status}>
      <button type="button" className="tool-head" aria-expanded={open} aria-controls={bodyId} onClick={() => setOpen((o) => !o)}>
        <Icon name={call.name === 'web_search' ? 'search' : call.name === 'generate_image' ? 'sparkles' : 'settings'} size={14} />
        <span className="tool-what">{describe(call, running)}</span>
        <span className="tool-status" aria-label={statusLabel} title={statusLabel}>
          {running ? <Spinner size={12} /> : status === 'done' ? <Icon name="check" size={14} /> : status === 'error' ? <Icon name="alert" size={14} /> : <Icon name="stop" size={12} />}
        </span>
        <Icon name="chevron" size={14} {...(open ? { className: 'rot90' } : {})} />
      </button>
      {open && (
        <div className="tool-body" id={bodyId}>
          <div className="tool-label">Input</div>
          <pre className="tool-pre">{pretty(call.input)}</pre>
          <div className="tool-label">Result</div>
          {running ? (
            <p className="tool-note">Still running…</p>
          ) : status === 'stopped' ? (
            <p className="tool-note">Stopped before it finished.</p>
          ) : status === 'error' ? (
            <p className="tool-error" role="note">
              {call.error || 'The tool failed.'}
            </p>
          ) : results ? (
            results.length === 0 ? (
              <p className="tool-note">No results.</p>
            ) : (
              <ol className="tool-results">
                {results.map((r) => (
                  <li key={r.url}>
                    <a href={r.url} target="_blank" rel="noopener noreferrer nofollow">
                      {r.title || r.url}
                    </a>
                    <span className="tool-host">{hostOf(r.url)}</span>
                    {r.snippet && <p>{r.snippet}</p>}
                  </li>
                ))}
              </ol>
            )
          ) : (
            <pre className="tool-pre">{call.output === undefined ? '(nothing)' : pretty(call.output)}</pre>
          )}
        </div>
      )}
    </li>
  );
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
}
