/**
 * For a service receiving Confab's outgoing webhooks: whether `header` (the `Confab-Signature`
 * header, `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`) signs `body` (the raw request
 * body, exactly as received) with `secret`, no more than `toleranceSeconds` ago (replays of older
 * deliveries are refused). Uses Web Crypto: Node 20+, browsers, edge runtimes.
 */
export async function verifyWebhookSignature(secret: string, header: string, body: string, toleranceSeconds = 300, nowMs = Date.now()): Promise<boolean> {
  const parts = new Map<string, string[]>();
  for (const piece of header.split(',')) {
    const at = piece.indexOf('=');
    if (at <= 0) continue;
    const key = piece.slice(0, at).trim();
    parts.set(key, [...(parts.get(key) ?? []), piece.slice(at + 1).trim()]);
  }
  const t = Number(parts.get('t')?.[0]);
  if (!Number.isInteger(t) || Math.abs(nowMs / 1000 - t) > toleranceSeconds) return false;
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(`${t}.${body}`)));
  const expected = Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join('');
  // Any v1 that matches (several while a secret is being changed), compared in constant time.
  return (parts.get('v1') ?? []).some((given) => {
    if (given.length !== expected.length) return false;
    let diff = 0;
    for (let i = 0; i < given.length; i++) diff |= given.charCodeAt(i) ^ expected.charCodeAt(i);
    return diff === 0;
  });
}
