import { useConfabClient } from '@confab/client/react';
import type { AdminSettings, AdminUsage } from '@confab/protocol';
import { useEffect, useId, useState } from 'react';
import { humanError } from '../lib/errors.ts';
import { Spinner } from '../ui/Spinner.tsx';
import { toast } from '../ui/toast.tsx';
import { Card, ListState } from './common.tsx';

const numberFmt = new Intl.NumberFormat();

function today(): string {
  return new Date().toISOString().slice(0, 10);
}

/** Models offered to people, the default one, the daily allowance, and who used how much. */
export function AiSection() {
  const client = useConfabClient();
  const [settings, setSettings] = useState<AdminSettings | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [models, setModels] = useState<Set<string>>(new Set());
  const [defaultModel, setDefaultModel] = useState<string>('');
  const [answers, setAnswers] = useState('0');
  const [tokens, setTokens] = useState('0');
  const [busy, setBusy] = useState(false);
  const id = useId();

  const adopt = (s: AdminSettings) => {
    setSettings(s);
    setModels(new Set(s.ai.models));
    setDefaultModel(s.ai.defaultModel ?? '');
    setAnswers(String(s.ai.quota.answersPerDay));
    setTokens(String(s.ai.quota.tokensPerDay));
  };
  useEffect(() => {
    client.api.getAdminSettings().then(adopt, (e: unknown) => setError(humanError(e)));
  }, [client]);

  const toggle = (m: string) =>
    setModels((s) => {
      const next = new Set(s);
      if (next.has(m)) next.delete(m);
      else next.add(m);
      return next;
    });

  const save = async (e: React.FormEvent) => {
    e.preventDefault();
    if (!settings) return;
    setBusy(true);
    try {
      const list = settings.ai.available.filter((m) => models.has(m));
      adopt(
        await client.api.updateAdminSettings({
          ai: {
            models: list,
            defaultModel: defaultModel && list.includes(defaultModel) ? defaultModel : null,
            quota: { answersPerDay: Math.max(0, Math.floor(Number(answers) || 0)), tokensPerDay: Math.max(0, Math.floor(Number(tokens) || 0)) },
          },
        }),
      );
      toast('AI settings saved.');
    } catch (err) {
      toast(humanError(err), 'error');
    } finally {
      setBusy(false);
    }
  };

  const offered = settings ? settings.ai.available.filter((m) => models.has(m)) : [];
  return (
    <>
      <Card id="admin-ai" title="AI models and allowance" description="Quotas apply per person per day to answers paid with the server's keys; answers paid with someone's own key do not count. 0 means unlimited.">
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        {!settings && !error && <p className="hint list-state">Loading…</p>}
        {settings && (
          <form className="stack" onSubmit={(e) => void save(e)}>
            <fieldset className="model-list">
              <legend>Models offered</legend>
              {settings.ai.available.length === 0 && <p className="hint">The server has no AI provider configured.</p>}
              {settings.ai.available.map((m) => (
                <label key={m} className="switch">
                  <input type="checkbox" checked={models.has(m)} onChange={() => toggle(m)} />
                  <span>{m}</span>
                </label>
              ))}
              {settings.ai.available.length > 0 && models.size === 0 && <p className="hint">None ticked: every model the server can reach is offered.</p>}
            </fieldset>
            <label htmlFor={`${id}-default`}>Default model</label>
            <select id={`${id}-default`} value={defaultModel} onChange={(e) => setDefaultModel(e.target.value)}>
              <option value="">The server's default</option>
              {(offered.length ? offered : settings.ai.available).map((m) => (
                <option key={m} value={m}>
                  {m}
                </option>
              ))}
            </select>
            <div className="quota-row">
              <label>
                <span>Answers per person per day</span>
                <input type="number" min={0} value={answers} onChange={(e) => setAnswers(e.target.value)} />
              </label>
              <label>
                <span>Tokens per person per day</span>
                <input type="number" min={0} value={tokens} onChange={(e) => setTokens(e.target.value)} />
              </label>
            </div>
            <div className="row end">
              <button type="submit" className="btn btn-primary" disabled={busy}>
                {busy ? <Spinner size={14} /> : 'Save'}
              </button>
            </div>
          </form>
        )}
      </Card>
      <UsageCard />
    </>
  );
}

function UsageCard() {
  const client = useConfabClient();
  const [usage, setUsage] = useState<AdminUsage | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    client.api
      .getAdminUsage({ days: 30 })
      .then(setUsage, (e: unknown) => setError(humanError(e)));
  }, [client]);
  const day = today();
  const rows = (usage?.users ?? [])
    .map((u) => {
      const t = u.days.find((d) => d.date === day);
      const sum = u.days.reduce((a, d) => ({ answers: a.answers + d.answers, tokens: a.tokens + d.inputTokens + d.outputTokens }), { answers: 0, tokens: 0 });
      return { ...u, todayAnswers: t?.answers ?? 0, todayTokens: t ? t.inputTokens + t.outputTokens : 0, ...sum };
    })
    .sort((a, b) => b.tokens - a.tokens);
  return (
    <Card id="admin-usage" title="Usage per person" description="Answers paid with the server's keys, today and over the last 30 days.">
      {rows.length > 0 && (
        <div className="table-wrap">
          <table className="admin-table">
            <thead>
              <tr>
                <th scope="col">Person</th>
                <th scope="col">Answers today</th>
                <th scope="col">Tokens today</th>
                <th scope="col">Answers, 30 days</th>
                <th scope="col">Tokens, 30 days</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.userId}>
                  <th scope="row">
                    {r.displayName} <span className="hint-inline">@{r.handle}</span>
                  </th>
                  <td>{numberFmt.format(r.todayAnswers)}</td>
                  <td>{numberFmt.format(r.todayTokens)}</td>
                  <td>{numberFmt.format(r.answers)}</td>
                  <td>{numberFmt.format(r.tokens)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ListState loading={usage === null && !error} error={error} empty={usage !== null && rows.length === 0} emptyText="No answers paid with the server's keys in the last 30 days." />
    </Card>
  );
}
