import { useConfabClient } from '@confab/client/react';
import type { AuditEntry } from '@confab/protocol';
import { useCallback, useEffect, useState } from 'react';
import { humanError } from '../lib/errors.ts';
import { Spinner } from '../ui/Spinner.tsx';
import { Card, formatDateTime, ListState, userLabel, useUserNames } from './common.tsx';

/** Audit actions in words; an unknown one is shown as it is. */
const ACTIONS: Record<string, string> = {
  'settings.update': 'changed the instance settings',
  'invite.create': 'created an invite',
  'invite.revoke': 'revoked an invite',
  'invite.use': 'joined with an invite',
  'user.role': 'changed a role',
  'user.create': 'created an account',
  'user.deactivate': 'deactivated an account',
  'user.reactivate': 'reactivated an account',
  'user.delete': 'deleted an account',
  'user.password_reset_link': 'made a password reset link',
  'user.password_reset': 'reset a password',
  'report.resolve': 'resolved a report',
  'report.dismiss': 'dismissed a report',
  'message.delete': 'deleted a message',
  'api_key.create': 'created an API key',
  'api_key.revoke': 'revoked an API key',
  'webhook.create': 'added a webhook',
  'webhook.update': 'changed a webhook',
  'webhook.delete': 'deleted a webhook',
  'webhook.delivery_retry': 'retried a webhook delivery',
  'bot.create': 'created a bot',
  'bot.token_rotate': 'made a new token for a bot',
  'bot.delete': 'deleted a bot',
};

function describe(action: string): string {
  return ACTIONS[action] ?? action.replace(/[._]/g, ' ');
}

function details(d: Record<string, unknown>): string {
  const parts = Object.entries(d).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  return parts.join(' · ');
}

/** Every admin action, newest first, a page at a time. */
export function AuditSection() {
  const client = useConfabClient();
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(
    (from?: string) => {
      setLoading(true);
      client.api.listAudit(from ? { limit: 50, cursor: from } : { limit: 50 }).then(
        (r) => {
          setEntries((e) => (from ? [...e, ...r.entries] : r.entries));
          setCursor(r.nextCursor);
          setError(null);
          setLoading(false);
        },
        (e: unknown) => {
          setError(humanError(e));
          setLoading(false);
        },
      );
    },
    [client],
  );
  useEffect(() => load(), [load]);
  const names = useUserNames(entries.flatMap((e) => [e.actorId, e.targetType === 'user' ? e.targetId : null]));
  return (
    <Card id="admin-audit" title="Audit log" description="Every admin action, role and status change, invite, password reset, deletion and settings change.">
      {entries.length > 0 && (
        <ol className="audit-list">
          {entries.map((e) => (
            <li key={e.id} data-action={e.action}>
              <time dateTime={e.at}>{formatDateTime(e.at)}</time>
              <span className="audit-what">
                <strong>{userLabel(names, e.actorId, e.actorId ? 'Someone' : 'The system')}</strong> {describe(e.action)}
                {e.targetType === 'user' && e.targetId && (
                  <>
                    : <strong>{userLabel(names, e.targetId, 'a former member')}</strong>
                  </>
                )}
              </span>
              {Object.keys(e.details).length > 0 && <span className="audit-details">{details(e.details)}</span>}
            </li>
          ))}
        </ol>
      )}
      <ListState loading={loading && entries.length === 0} error={error} empty={!loading && entries.length === 0} emptyText="Nothing recorded yet." />
      {cursor && (
        <div className="row center">
          <button type="button" className="btn" disabled={loading} onClick={() => load(cursor)}>
            {loading ? <Spinner size={14} /> : 'Show older entries'}
          </button>
        </div>
      )}
    </Card>
  );
}
