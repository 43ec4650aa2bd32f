import { useConfabClient } from '@confab/client/react';
import type { Usage } from '@confab/protocol';
import { useEffect, useState } from 'react';
import './account.css';

const numberFmt = new Intl.NumberFormat();

/** The caller's AI usage and what is left of today's allowance; fetched again when `refreshKey` changes. */
export function useUsage(refreshKey: unknown = null, days = 1): Usage | null {
  const client = useConfabClient();
  const [usage, setUsage] = useState<Usage | null>(null);
  useEffect(() => {
    let live = true;
    client.api
      .getUsage({ days })
      .then(
        (u) => live && setUsage(u),
        () => {},
      );
    return () => {
      live = false;
    };
  }, [client, refreshKey, days]);
  return usage;
}

/** "12 of 50 answers left today", or null where the allowance is unlimited. */
export function allowanceText(usage: Usage | null): { text: string; level: 'ok' | 'low' | 'none' } | null {
  if (!usage) return null;
  const { answersLeft, tokensLeft, quota } = usage.today;
  const parts: string[] = [];
  let ratio = 1;
  if (answersLeft !== null && quota.answersPerDay > 0) {
    parts.push(`${numberFmt.format(answersLeft)} of ${numberFmt.format(quota.answersPerDay)} answers`);
    ratio = Math.min(ratio, answersLeft / quota.answersPerDay);
  }
  if (tokensLeft !== null && quota.tokensPerDay > 0) {
    parts.push(`${numberFmt.format(tokensLeft)} of ${numberFmt.format(quota.tokensPerDay)} tokens`);
    ratio = Math.min(ratio, tokensLeft / quota.tokensPerDay);
  }
  if (parts.length === 0) return null;
  if (ratio <= 0) return { text: "You have used today's AI allowance on this server's keys. It renews at midnight (UTC); answers with your own API key still work.", level: 'none' };
  return { text: `${parts.join(' and ')} left today`, level: ratio < 0.2 ? 'low' : 'ok' };
}

/** Under the assistant's composer: what is left of today's allowance (nothing when unlimited). */
export function AiAllowance({ generating }: { generating: boolean }) {
  // Fetched again once an answer ends.
  const usage = useUsage(generating);
  const line = allowanceText(usage);
  if (!line) return null;
  return (
    <p className={`usage-left ${line.level}`} data-testid="ai-allowance">
      {line.text}
    </p>
  );
}
