import { useConfabClient } from '@confab/client/react';
import type { CreatedWebhook, Webhook, WebhookDelivery, WebhookEventType } from '@confab/protocol';
import { useCallback, useEffect, useId, useState } from 'react';
import { humanError } from '../lib/errors.ts';
import { confirmDialog } from '../ui/confirm.tsx';
import { Icon } from '../ui/Icon.tsx';
import { Modal } from '../ui/Modal.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { toast } from '../ui/toast.tsx';
import { Card, formatDateTime, ListState, SecretOnce } from './common.tsx';
import { attemptText, EVENT_LABELS, EVENTS, turnedOffByFailures, webhookError } from './webhookText.ts';

/** How often an open section reads the endpoints, and an open delivery log its deliveries, again. */
const LIST_REFRESH_MS = 5_000;
const LOG_REFRESH_MS = 3_000;

/** Runs `fn` every `ms` while the tab is visible (and once when it becomes visible again). */
function useRefresh(fn: () => void, ms: number, on = true): void {
  useEffect(() => {
    if (!on) return;
    const timer = window.setInterval(() => {
      if (document.visibilityState === 'visible') fn();
    }, ms);
    const onVisible = () => {
      if (document.visibilityState === 'visible') fn();
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      window.clearInterval(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [fn, ms, on]);
}

/** Outgoing webhooks (docs/platform.md): endpoints, their events, their delivery log. */
export function WebhooksSection({ onTurnedOff }: { onTurnedOff?: (count: number) => void }) {
  const client = useConfabClient();
  const [webhooks, setWebhooks] = useState<Webhook[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<CreatedWebhook | null>(null);
  const [editing, setEditing] = useState<Webhook | null>(null);

  const load = useCallback(() => {
    client.api.listWebhooks().then(
      (r) => {
        setWebhooks(r.webhooks);
        setError(null);
      },
      (e: unknown) => setError(humanError(e)),
    );
  }, [client]);
  useEffect(load, [load]);
  useRefresh(load, LIST_REFRESH_MS);

  const replace = (w: Webhook) => setWebhooks((list) => (list ?? []).map((x) => (x.id === w.id ? w : x)));
  const setEnabled = async (w: Webhook, enabled: boolean) => {
    // The switch moves at once; the server's answer replaces it (or puts it back on an error).
    replace({ ...w, enabled });
    try {
      replace(await client.api.updateWebhook(w.id, { enabled }));
      toast(enabled ? `Sending to ${hostOf(w.url)} again.` : `Stopped sending to ${hostOf(w.url)}.`);
    } catch (e) {
      replace(w);
      toast(humanError(e), 'error');
    }
  };
  const remove = async (w: Webhook) => {
    const ok = await confirmDialog({
      title: 'Delete this webhook?',
      body: `Confab stops sending events to ${w.url} and deletes its delivery log. Deliveries still waiting are dropped.`,
      confirm: 'Delete webhook',
      danger: true,
    });
    if (!ok) return;
    try {
      await client.api.deleteWebhook(w.id);
      setWebhooks((list) => (list ?? []).filter((x) => x.id !== w.id));
      if (created?.id === w.id) setCreated(null);
      toast('Webhook deleted.');
    } catch (e) {
      toast(humanError(e), 'error');
    }
  };

  const turnedOff = (webhooks ?? []).filter(turnedOffByFailures);
  useEffect(() => {
    if (webhooks) onTurnedOff?.(turnedOff.length);
  }, [webhooks, turnedOff.length, onTurnedOff]);
  return (
    <>
      {turnedOff.map((w) => (
        <div key={w.id} className="card webhook-off-notice" role="alert" data-webhook-id={w.id}>
          <Icon name="alert" size={20} />
          <div className="stack">
            <strong>A webhook was turned off because it kept failing</strong>
            <p>
              Every delivery to <code>{w.url}</code> failed since {formatDateTime(w.failingSince)}, so Confab stopped sending to it. Fix the endpoint, then re-enable it: the
              deliveries still waiting are sent then, in order.
            </p>
          </div>
          <button type="button" className="btn btn-primary" onClick={() => void setEnabled(w, true)}>
            Re-enable
          </button>
        </div>
      ))}
      <NewWebhook
        onCreated={(w) => {
          setCreated(w);
          setWebhooks((list) => [w, ...(list ?? [])]);
        }}
      />
      {created && (
        <div className="card">
          <SecretOnce title={`Signing secret for ${hostOf(created.url)}`} value={created.secret} label="Signing secret" onDone={() => setCreated(null)}>
            <p className="hint hint-block">
              Each delivery carries a <code>Confab-Signature</code> header made with it: check it on your side to know the request comes from Confab.
            </p>
          </SecretOnce>
        </div>
      )}
      <Card id="admin-webhooks" title="Webhooks" description="Confab tells these addresses what happens, a moment after it happens. Anything but a 2xx answer is retried for a day.">
        {webhooks && webhooks.length > 0 && (
          <ul className="admin-list webhook-list" aria-label="Webhooks">
            {webhooks.map((w) => (
              <WebhookItem key={w.id} webhook={w} onEnabled={(on) => void setEnabled(w, on)} onEdit={() => setEditing(w)} onDelete={() => void remove(w)} onChanged={load} />
            ))}
          </ul>
        )}
        <ListState
          loading={webhooks === null && !error}
          error={error}
          empty={webhooks !== null && webhooks.length === 0}
          emptyText="No webhooks yet. Add one to have Confab tell your own service about new messages, members, accounts and more."
        />
      </Card>
      {editing && (
        <EditWebhook
          webhook={editing}
          onClose={() => setEditing(null)}
          onSaved={(w) => {
            replace(w);
            setEditing(null);
          }}
        />
      )}
    </>
  );
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** The events to send, as checkboxes, with "All" and "None". */
function EventPicker({ value, onChange }: { value: Set<WebhookEventType>; onChange: (v: Set<WebhookEventType>) => void }) {
  const toggle = (e: WebhookEventType) => {
    const next = new Set(value);
    if (next.has(e)) next.delete(e);
    else next.add(e);
    onChange(next);
  };
  return (
    <fieldset className="check-list event-list">
      <legend>
        Events to send
        <span className="event-list-quick">
          <button type="button" className="btn-link" onClick={() => onChange(new Set(EVENTS))}>
            All
          </button>
          <button type="button" className="btn-link" onClick={() => onChange(new Set())}>
            None
          </button>
        </span>
      </legend>
      <div className="event-grid">
        {EVENTS.map((e) => (
          <label key={e} className="switch">
            <input type="checkbox" checked={value.has(e)} onChange={() => toggle(e)} />
            <span>
              {EVENT_LABELS[e]} <code className="event-code">{e}</code>
            </span>
          </label>
        ))}
      </div>
    </fieldset>
  );
}

function NewWebhook({ onCreated }: { onCreated: (w: CreatedWebhook) => void }) {
  const client = useConfabClient();
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<Set<WebhookEventType>>(new Set(['message.created']));
  const [secret, setSecret] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const id = useId();
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    if (!url.trim()) return setError('Enter the address Confab should send events to.');
    if (events.size === 0) return setError('Tick at least one event to send.');
    const own = secret.trim();
    if (own && own.length < 16) return setError('A signing secret of your own needs at least 16 characters. Leave it empty to have one made for you.');
    setBusy(true);
    try {
      const w = await client.api.createWebhook({ url: url.trim(), events: EVENTS.filter((x) => events.has(x)), ...(own ? { secret: own } : {}) });
      onCreated(w);
      setUrl('');
      setSecret('');
    } catch (err) {
      setError(webhookError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card id="admin-webhook-new" title="New webhook" description="Confab sends each event you tick as a signed POST request with a JSON body to this address.">
      <form className="stack" onSubmit={(e) => void submit(e)} noValidate>
        <label htmlFor={`${id}-url`}>Address (URL)</label>
        <input id={`${id}-url`} type="url" inputMode="url" autoComplete="off" spellCheck={false} placeholder="https://example.com/webhooks/confab" value={url} maxLength={2000} onChange={(e) => setUrl(e.target.value)} />
        <EventPicker value={events} onChange={setEvents} />
        <details className="webhook-secret">
          <summary>Use a signing secret of your own (optional)</summary>
          <label htmlFor={`${id}-secret`}>Your signing secret</label>
          <input id={`${id}-secret`} autoComplete="off" spellCheck={false} value={secret} maxLength={200} onChange={(e) => setSecret(e.target.value)} />
          <p className="hint">At least 16 characters. Leave it empty and Confab makes a strong one for you.</p>
        </details>
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <div className="row end">
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? <Spinner size={14} /> : 'Add webhook'}
          </button>
        </div>
      </form>
    </Card>
  );
}

/** Only what needs attention: the switch beside it already says On or Off. */
function StatusChip({ w }: { w: Webhook }) {
  if (turnedOffByFailures(w)) return <span className="chip chip-danger">Turned off: kept failing</span>;
  if (w.enabled && w.failingSince) return <span className="chip chip-warn">Failing since {formatDateTime(w.failingSince)}</span>;
  return null;
}

function WebhookItem({ webhook: w, onEnabled, onEdit, onDelete, onChanged }: { webhook: Webhook; onEnabled: (on: boolean) => void; onEdit: () => void; onDelete: () => void; onChanged: () => void }) {
  const [open, setOpen] = useState(false);
  const logId = useId();
  const all = w.events.length === EVENTS.length;
  return (
    <li className={`admin-webhook ${w.enabled ? '' : 'is-off'}`} data-webhook-id={w.id}>
      <div className="webhook-head">
        <span className="admin-user-names">
          <strong>
            <code className="webhook-url">{w.url}</code>
            <StatusChip w={w} />
          </strong>
          <span className="admin-user-meta">
            {all ? 'Every event' : w.events.join(', ')} · added {formatDateTime(w.createdAt)}
            {!w.enabled && w.disabledReason && !turnedOffByFailures(w) ? ` · ${w.disabledReason}` : ''}
          </span>
        </span>
        <label className="switch webhook-switch">
          <input type="checkbox" checked={w.enabled} onChange={(e) => onEnabled(e.target.checked)} aria-label={`Send events to ${w.url}`} />
          <span>{w.enabled ? 'On' : 'Off'}</span>
        </label>
      </div>
      <div className="row wrap webhook-actions">
        <button type="button" className="btn btn-small" aria-expanded={open} aria-controls={logId} onClick={() => setOpen((o) => !o)}>
          <Icon name="clock" size={14} /> {open ? 'Hide delivery log' : 'Delivery log'}
        </button>
        <button type="button" className="btn btn-small" onClick={onEdit}>
          <Icon name="edit" size={14} /> Edit
        </button>
        <span className="spacer" />
        <button type="button" className="btn btn-small btn-danger" onClick={onDelete}>
          Delete
        </button>
      </div>
      {open && <DeliveryLog id={logId} webhook={w} onRetried={onChanged} />}
    </li>
  );
}

const STATUS: Record<WebhookDelivery['status'], string> = { pending: 'Waiting to retry', delivered: 'Delivered', failed: 'Failed' };

/** A webhook's deliveries, newest first, read again every few seconds while open; Retry on each. */
function DeliveryLog({ id, webhook, onRetried }: { id: string; webhook: Webhook; onRetried: () => void }) {
  const client = useConfabClient();
  const [deliveries, setDeliveries] = useState<WebhookDelivery[] | null>(null);
  const [firstCursor, setFirstCursor] = useState<string | null>(null);
  const [older, setOlder] = useState<{ deliveries: WebhookDelivery[]; cursor: string | null } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [retrying, setRetrying] = useState<string | null>(null);

  // The newest page is read again on every refresh; older pages, once shown, stay as they were.
  const load = useCallback(() => {
    client.api.listWebhookDeliveries(webhook.id, { limit: 20 }).then(
      (r) => {
        setDeliveries(r.deliveries);
        setFirstCursor(r.nextCursor);
        setError(null);
      },
      (e: unknown) => setError(humanError(e)),
    );
  }, [client, webhook.id]);
  useEffect(load, [load]);
  // Paused while older pages are shown: new deliveries would push rows off the first page, out of sight.
  useRefresh(load, LOG_REFRESH_MS, older === null);

  const cursor = older ? older.cursor : firstCursor;
  const loadOlder = () => {
    if (!cursor) return;
    client.api.listWebhookDeliveries(webhook.id, { limit: 20, cursor }).then(
      (r) => setOlder((o) => ({ deliveries: [...(o?.deliveries ?? []), ...r.deliveries], cursor: r.nextCursor })),
      (e: unknown) => toast(humanError(e), 'error'),
    );
  };
  const retry = async (d: WebhookDelivery) => {
    setRetrying(d.id);
    try {
      await client.api.retryWebhookDelivery(webhook.id, d.id);
      toast(webhook.enabled ? 'Sending it again now.' : 'Queued. It is sent once the webhook is on again.');
      load();
      onRetried();
    } catch (e) {
      toast(humanError(e), 'error');
    } finally {
      setRetrying(null);
    }
  };

  const seen = new Set((deliveries ?? []).map((d) => d.id));
  const all = [...(deliveries ?? []), ...(older?.deliveries ?? []).filter((d) => !seen.has(d.id))];
  return (
    <div className="delivery-log" id={id}>
      <div className="row">
        <h3 className="sub-title">Delivery log</h3>
        <span className="spacer" />
        <button
          type="button"
          className="btn btn-small"
          onClick={() => {
            setOlder(null);
            load();
          }}
          aria-label="Refresh the delivery log"
        >
          <Icon name="refresh" size={14} /> Refresh
        </button>
      </div>
      {all.length > 0 && (
        <ol className="delivery-list" aria-label={`Deliveries to ${webhook.url}`}>
          {all.map((d) => (
            <li key={d.id} className={`delivery delivery-${d.status}`} data-delivery-id={d.id} data-status={d.status}>
              <div className="delivery-head">
                <code className="event-code">{d.type}</code>
                <span className={`chip ${d.status === 'delivered' ? 'chip-ok' : d.status === 'failed' ? 'chip-danger' : 'chip-warn'}`}>{STATUS[d.status]}</span>
                <time dateTime={d.createdAt}>{formatDateTime(d.createdAt)}</time>
                <span className="spacer" />
                <button type="button" className="btn btn-small" disabled={retrying === d.id} onClick={() => void retry(d)} aria-label={`Retry the ${d.type} delivery of ${formatDateTime(d.createdAt)}`}>
                  {retrying === d.id ? <Spinner size={12} /> : <Icon name="refresh" size={14} />} Retry
                </button>
              </div>
              {d.status === 'pending' && d.nextAttemptAt && <p className="hint">{webhook.enabled ? `Next try ${formatDateTime(d.nextAttemptAt)}` : 'Waits until the webhook is on again.'}</p>}
              {d.attempts.length === 0 ? (
                <p className="hint">Not tried yet.</p>
              ) : (
                <ul className="attempt-list" aria-label="Attempts">
                  {d.attempts
                    .slice(-5)
                    .reverse()
                    .map((a, i) => (
                      <li key={`${a.at}-${i}`} className={a.error ? 'attempt-failed' : 'attempt-ok'}>
                        <time dateTime={a.at}>{formatDateTime(a.at)}</time> <span>{attemptText(a)}</span>
                      </li>
                    ))}
                  {d.attempts.length > 5 && <li className="hint">and {d.attempts.length - 5} earlier attempts</li>}
                </ul>
              )}
            </li>
          ))}
        </ol>
      )}
      <ListState loading={deliveries === null && !error} error={error} empty={deliveries !== null && all.length === 0} emptyText="Nothing sent yet. Each event this webhook sends shows up here, with every attempt and the answer it got." />
      {cursor && (
        <div className="row center">
          <button type="button" className="btn btn-small" onClick={loadOlder}>
            Show older deliveries
          </button>
        </div>
      )}
    </div>
  );
}

function EditWebhook({ webhook, onClose, onSaved }: { webhook: Webhook; onClose: () => void; onSaved: (w: Webhook) => void }) {
  const client = useConfabClient();
  const [url, setUrl] = useState(webhook.url);
  const [events, setEvents] = useState<Set<WebhookEventType>>(new Set(webhook.events));
  const [enabled, setEnabled] = useState(webhook.enabled);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const id = useId();
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    if (!url.trim()) return setError('Enter the address Confab should send events to.');
    if (events.size === 0) return setError('Tick at least one event to send.');
    setBusy(true);
    try {
      const w = await client.api.updateWebhook(webhook.id, {
        ...(url.trim() !== webhook.url ? { url: url.trim() } : {}),
        events: EVENTS.filter((x) => events.has(x)),
        ...(enabled !== webhook.enabled ? { enabled } : {}),
      });
      toast('Webhook saved.');
      onSaved(w);
    } catch (err) {
      setError(webhookError(err));
      setBusy(false);
    }
  };
  return (
    <Modal title="Edit webhook" onClose={onClose} wide>
      <form className="stack" onSubmit={(e) => void submit(e)} noValidate>
        <label htmlFor={`${id}-url`}>Address (URL)</label>
        <input id={`${id}-url`} type="url" inputMode="url" autoComplete="off" spellCheck={false} value={url} maxLength={2000} onChange={(e) => setUrl(e.target.value)} />
        <EventPicker value={events} onChange={setEvents} />
        <label className="switch">
          <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />
          <span>Send events to this address</span>
        </label>
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <div className="modal-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? <Spinner size={14} /> : 'Save'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
