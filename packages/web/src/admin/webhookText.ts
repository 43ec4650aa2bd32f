import { ConfabError } from '@confab/client';
import type { Webhook, WebhookEventType } from '@confab/protocol';
import { humanError } from '../lib/errors.ts';

/** Every event of the contract (API.md, "Outgoing webhooks"), in words, in the contract's order. */
export const EVENT_LABELS: Record<WebhookEventType, string> = {
  'message.created': 'A message is sent',
  'message.updated': 'A message is edited',
  'message.deleted': 'A message is deleted',
  'reaction.changed': 'A reaction is added or removed',
  'conversation.created': 'A conversation is created',
  'conversation.updated': 'A conversation is changed',
  'conversation.deleted': 'A conversation is deleted',
  'member.added': 'Someone joins a conversation',
  'member.removed': 'Someone leaves a conversation',
  'ai.answer.completed': 'An AI answer is finished',
  'user.created': 'An account is created',
};
export const EVENTS = Object.keys(EVENT_LABELS) as WebhookEventType[];

/**
 * Turned off by the server because every delivery failed for a day (webhooks/deliverer.ts): its
 * `disabledReason` then says "every delivery failed since …"; an admin's switch says "disabled by
 * an admin" and keeps `failingSince` as it was.
 */
export function turnedOffByFailures(w: Webhook): boolean {
  return !w.enabled && /fail/i.test(w.disabledReason ?? '');
}

/** The server's refusals of a webhook URL (operations/webhooks.ts, checkWebhookUrl) in words a person understands. */
export function webhookError(error: unknown): string {
  if (error instanceof ConfabError && error.code === 'VALIDATION_ERROR') {
    const m = error.message;
    if (/private|loopback|link-local/i.test(m))
      return 'That address is on a private or local network (such as localhost, 10.x.x.x or 192.168.x.x). Confab does not send webhooks there, so that nobody can use them to reach into the server’s own network. Use an address that is reachable from the internet.';
    if (/https/i.test(m)) return 'Use an address that starts with https://: webhooks are sent only over an encrypted connection.';
    if (/credentials/i.test(m)) return 'Take the user name and password out of the address. To check that a request comes from Confab, verify its signature with the signing secret instead.';
    const host = /^url: (.+) does not resolve$/.exec(m)?.[1];
    if (host) return `No server called ${host} was found. Check the address for typos.`;
    if (/not a URL/i.test(m)) return 'That is not a web address. It should look like https://example.com/webhooks/confab.';
    if (/^secret/i.test(m)) return 'A signing secret of your own needs 16 to 200 characters. Leave it empty to have one made for you.';
    if (/^events/i.test(m)) return 'Tick at least one event to send.';
  }
  return humanError(error);
}

/** "HTTP 200 in 35 ms", "No answer after 3000 ms: connect ECONNREFUSED …": one attempt of a delivery. */
export function attemptText(a: { statusCode: number | null; error: string | null; durationMs: number }): string {
  // The deliverer's error for a non-2xx answer ("the endpoint answered 500") only repeats the code.
  const error = a.error && !/^the endpoint answered \d+$/.test(a.error) ? a.error : null;
  if (a.statusCode !== null) return `HTTP ${a.statusCode} in ${a.durationMs} ms${error ? `: ${error}` : ''}`;
  return `No answer after ${a.durationMs} ms${error ? `: ${error}` : ''}`;
}
