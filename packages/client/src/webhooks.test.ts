import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyWebhookSignature } from './webhooks.ts';

const sign = (secret: string, t: number, body: string) => `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;

describe('verifyWebhookSignature', () => {
  const body = JSON.stringify({ id: 'evt', type: 'message.created', createdAt: '2026-01-01T00:00:00.000Z', data: {} });
  const now = 1_800_000_000_000;
  const t = now / 1000;
  it('accepts what the server signs, within the tolerance', async () => {
    expect(await verifyWebhookSignature('s3cret', sign('s3cret', t, body), body, 300, now)).toBe(true);
    expect(await verifyWebhookSignature('s3cret', `v1=00,${sign('s3cret', t - 100, body)}`, body, 300, now)).toBe(true);
  });
  it('refuses another secret, a changed body, an old timestamp and garbage', async () => {
    expect(await verifyWebhookSignature('other', sign('s3cret', t, body), body, 300, now)).toBe(false);
    expect(await verifyWebhookSignature('s3cret', sign('s3cret', t, body), `${body} `, 300, now)).toBe(false);
    expect(await verifyWebhookSignature('s3cret', sign('s3cret', t - 301, body), body, 300, now)).toBe(false);
    expect(await verifyWebhookSignature('s3cret', 'nonsense', body, 300, now)).toBe(false);
  });
});
