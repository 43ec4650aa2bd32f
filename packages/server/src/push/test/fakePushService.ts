import { createDecipheriv, createECDH, createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local HTTP server that plays a push service (RFC 8030) for tests: records every request and
 * answers with scripted statuses per endpoint (201 when nothing is scripted).
 */
export interface RecordedPush {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

export class FakePushService {
  readonly requests: RecordedPush[] = [];
  private readonly scripts = new Map<string, number[]>();
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      this.requests.push({ path, headers: req.headers, body: Buffer.concat(chunks), at: Date.now() });
      const status = this.scripts.get(path)?.shift() ?? 201;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status >= 400 ? `status ${status}` : '');
    });
  });
  private port = 0;

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  endpoint(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** The next answers for one endpoint path, in order. */
  script(path: string, ...statuses: number[]): void {
    this.scripts.set(path, [...(this.scripts.get(path) ?? []), ...statuses]);
  }

  to(path: string): RecordedPush[] {
    return this.requests.filter((r) => r.path === path);
  }

  async waitFor(path: string, count = 1, timeoutMs = 5000): Promise<RecordedPush[]> {
    const until = Date.now() + timeoutMs;
    while (this.to(path).length < count) {
      if (Date.now() > until) throw new Error(`expected ${count} push(es) to ${path}, got ${this.to(path).length}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.to(path);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** What a browser holds for one push subscription: its ECDH key pair and auth secret. */
export interface BrowserSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
  decrypt(body: Buffer): string;
}

const hmac = (key: Buffer, data: Buffer) => createHmac('sha256', key).update(data).digest();

export function browserSubscription(endpoint: string): BrowserSubscription {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const uaPublic = ecdh.getPublicKey();
  const auth = randomBytes(16);
  return {
    endpoint,
    keys: { p256dh: uaPublic.toString('base64url'), auth: auth.toString('base64url') },
    /** RFC 8291 (aes128gcm, one record), as the browser does it. */
    decrypt(body) {
      const salt = body.subarray(0, 16);
      const idlen = body[20]!;
      const asPublic = body.subarray(21, 21 + idlen);
      const ciphertext = body.subarray(21 + idlen);
      const secret = ecdh.computeSecret(asPublic);
      const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic, Buffer.from([1])]);
      const ikm = hmac(hmac(auth, secret), keyInfo);
      const prk = hmac(salt, ikm);
      const cek = hmac(prk, Buffer.from('Content-Encoding: aes128gcm\0\x01')).subarray(0, 16);
      const nonce = hmac(prk, Buffer.from('Content-Encoding: nonce\0\x01')).subarray(0, 12);
      const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
      decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
      const padded = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
      let end = padded.length - 1;
      while (end >= 0 && padded[end] === 0) end--;
      if (padded[end] !== 2) throw new Error('not a last record');
      return padded.subarray(0, end).toString('utf8');
    },
  };
}
