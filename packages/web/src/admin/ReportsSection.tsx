import { useConfabClient } from '@confab/client/react';
import type { Report, ReportStatus } from '@confab/protocol';
import { useCallback, useEffect, useState } from 'react';
import { humanError } from '../lib/errors.ts';
import { confirmDialog } from '../ui/confirm.tsx';
import { Spinner } from '../ui/Spinner.tsx';
import { toast } from '../ui/toast.tsx';
import { Card, formatDateTime, ListState, userLabel, useUserNames } from './common.tsx';

const FILTERS: readonly (readonly [ReportStatus, string])[] = [
  ['open', 'Open'],
  ['resolved', 'Resolved'],
  ['dismissed', 'Dismissed'],
];

/** Reported messages: read them, delete the message, resolve or dismiss the report. */
export function ReportsSection() {
  const client = useConfabClient();
  const [status, setStatus] = useState<ReportStatus>('open');
  const [reports, setReports] = useState<Report[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(
    (s: ReportStatus, from?: string) => {
      setLoading(true);
      client.api
        .listReports({ status: s, limit: 50, ...(from ? { cursor: from } : {}) })
        .then(
          (r) => {
            setReports((list) => (from ? [...list, ...r.reports] : r.reports));
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
  useEffect(() => {
    setReports([]);
    load(status);
  }, [load, status]);
  const names = useUserNames(reports.flatMap((r) => [r.reporterId, r.message?.authorId, r.closedBy]));

  const close = async (r: Report, next: 'resolved' | 'dismissed') => {
    try {
      await client.api.closeReport(r.id, next);
      setReports((list) => list.filter((x) => x.id !== r.id));
      toast(next === 'resolved' ? 'Report resolved.' : 'Report dismissed.');
    } catch (e) {
      toast(humanError(e), 'error');
    }
  };
  const deleteMessage = async (r: Report) => {
    if (!(await confirmDialog({ title: 'Delete the reported message?', body: 'It is removed for everyone in its conversation. The report stays open until you resolve it.', confirm: 'Delete message', danger: true }))) return;
    try {
      const m = await client.api.deleteMessage(r.messageId);
      setReports((list) => list.map((x) => (x.id === r.id ? { ...x, message: m } : x)));
      toast('Message deleted.');
    } catch (e) {
      toast(humanError(e), 'error');
    }
  };

  return (
    <Card
      id="admin-reports"
      title="Reports"
      description="Messages people reported. You see the message as it is now; deleting it removes it for everyone."
      actions={
        <div className="segmented-options" role="radiogroup" aria-label="Show reports">
          {FILTERS.map(([v, l]) => (
            <label key={v} className={status === v ? 'on' : ''}>
              <input type="radio" name="report-filter" value={v} checked={status === v} onChange={() => setStatus(v)} />
              {l}
            </label>
          ))}
        </div>
      }
    >
      {reports.length > 0 && (
        <ul className="admin-list" aria-label="Reports">
          {reports.map((r) => {
            const m = r.message;
            const gone = !m || m.deletedAt !== null;
            return (
              <li key={r.id} className="admin-report" data-report-id={r.id}>
                <div className="report-head">
                  <strong>{userLabel(names, r.reporterId, 'A former member')}</strong> reported a message by <strong>{userLabel(names, m?.authorId, 'someone')}</strong>
                  <time dateTime={r.createdAt}>{formatDateTime(r.createdAt)}</time>
                </div>
                <p className="report-reason">“{r.reason}”</p>
                <blockquote className="report-message">{gone ? <em>The message was deleted.</em> : m.content || <em>(attachments only)</em>}</blockquote>
                {r.status !== 'open' ? (
                  <p className="hint">
                    {r.status === 'resolved' ? 'Resolved' : 'Dismissed'} by {userLabel(names, r.closedBy, 'an admin')} {formatDateTime(r.closedAt)}
                  </p>
                ) : (
                  <div className="row wrap">
                    {!gone && (
                      <button type="button" className="btn btn-small btn-danger" onClick={() => void deleteMessage(r)}>
                        Delete message
                      </button>
                    )}
                    <span className="spacer" />
                    <button type="button" className="btn btn-small" onClick={() => void close(r, 'dismissed')}>
                      Dismiss
                    </button>
                    <button type="button" className="btn btn-small btn-primary" onClick={() => void close(r, 'resolved')}>
                      Resolve
                    </button>
                  </div>
                )}
              </li>
            );
          })}
        </ul>
      )}
      <ListState loading={loading && reports.length === 0} error={error} empty={!loading && reports.length === 0} emptyText={status === 'open' ? 'No open reports. 🎉' : `No ${status} reports.`} />
      {cursor && (
        <div className="row center">
          <button type="button" className="btn" disabled={loading} onClick={() => load(status, cursor)}>
            {loading ? <Spinner size={14} /> : 'Show more'}
          </button>
        </div>
      )}
    </Card>
  );
}
