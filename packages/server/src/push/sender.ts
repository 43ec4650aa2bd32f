import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP } from 'node:net';
import { ConfabError } from '@confab/protocol';
import type { RequestDetails } from 'web-push';
import type { VapidKeys } from './vapid.ts';

/**
 * Sends Web Push messages (RFC 8030) with VAPID (RFC 8292) and aes128gcm payload encryption
 * (RFC 8291). `web-push` builds the request (encryption, VAPID JWT); we send it ourselves so
 * that the push service's address is checked (see below), timeouts hold, and tests can play the
 * push service over plain HTTP.
 *
 * A subscription endpoint is a URL a client chose, so sending to it is a server-side request on
 * that client's behalf (SSRF): by default only https endpoints on public addresses are used; the
 * address is checked after DNS resolution, so a name that resolves to 127.0.0.1 or 10.x is
 * refused too. CONFAB_PUSH_ALLOW_INSECURE=true lifts this (tests, development).
 */
export interface PushOptions {
  /** The VAPID subject: how the push service can reach the operator (mailto: or https: URL). */
  subject: string;
  /** How long a push service keeps a message for an offline device. */
  ttlSeconds: number;
  timeoutMs: number;
  /** Tries per push (and device) before it is dead-lettered; the waits double from the queue's base. */
  maxAttempts: number;
  allowInsecureEndpoints: boolean;
}

export const DEFAULT_PUSH_OPTIONS: PushOptions = {
  subject: 'mailto:admin@confab.invalid',
  ttlSeconds: 24 * 60 * 60,
  timeoutMs: 10_000,
  // With the queue's default 5 s base: retries over about 40 minutes.
  maxAttempts: 10,
  allowInsecureEndpoints: false,
};

export interface PushTarget {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface SendOptions {
  ttlSeconds?: number;
  urgency?: 'very-low' | 'low' | 'normal' | 'high';
  /** Messages with the same topic replace each other while waiting at the push service. */
  topic?: string;
}

export type PushResult =
  | { outcome: 'delivered'; status: number }
  /** 404/410: the subscription is gone for good; forget it. */
  | { outcome: 'gone'; status: number }
  /** 429, 5xx, network trouble: try again later. */
  | { outcome: 'retry'; status?: number; retryAfterMs?: number; message: string }
  /** Any other refusal (bad request, bad VAPID, payload too large): trying again will not help. */
  | { outcome: 'rejected'; status: number; message: string };

export interface PushSender {
  readonly publicKey: string;
  readonly options: PushOptions;
  /** Throws VALIDATION_ERROR for an endpoint or keys this server will not use. */
  validateSubscription(target: PushTarget): void;
  send(target: PushTarget, payload: string, opts?: SendOptions): Promise<PushResult>;
  /** Closes kept-alive connections to push services. */
  close(): void;
}

const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) PRIVATE.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96]] as const) PRIVATE.addSubnet(net, bits, 'ipv6');

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return PRIVATE.check(address, 'ipv4');
  if (family !== 6) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return PRIVATE.check(mapped[1]!, 'ipv4');
  return PRIVATE.check(address, 'ipv6');
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

type Resolver = (hostname: string, options: { all: true }, callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

/** dns.lookup that refuses private addresses (used as the request's `lookup`). */
const publicOnlyLookup = (resolve: Resolver) => (hostname: string, options: { all?: boolean; family?: number }, callback: LookupCallback): void => {
  resolve(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const list = addresses as LookupAddress[];
    if (list.length === 0 || list.some((a) => isPrivateAddress(a.address))) {
      const refused: NodeJS.ErrnoException = new Error(`push endpoint ${hostname} resolves to a private address`);
      refused.code = 'EPUSHPRIVATE';
      return callback(refused, []);
    }
    if (options.all) return callback(null, list);
    return callback(null, list[0]!.address, list[0]!.family);
  });
};

function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** `resolve` replaces DNS (tests). */
export function createPushSender(vapid: VapidKeys, options: PushOptions, deps: { resolve?: Resolver } = {}): PushSender {
  const lookup = publicOnlyLookup(deps.resolve ?? (dnsLookup as unknown as Resolver));
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  function checkEndpoint(endpoint: string): URL {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new ConfabError('VALIDATION_ERROR', 'endpoint: not a URL');
    }
    if (url.protocol !== 'https:' && !(options.allowInsecureEndpoints && url.protocol === 'http:')) {
      throw new ConfabError('VALIDATION_ERROR', 'endpoint: push services are reached over https');
    }
    if (url.username || url.password) throw new ConfabError('VALIDATION_ERROR', 'endpoint: must not carry credentials');
    const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
    if (!options.allowInsecureEndpoints && (host === 'localhost' || host.endsWith('.localhost') || (isIP(host) !== 0 && isPrivateAddress(host)))) {
      throw new ConfabError('VALIDATION_ERROR', 'endpoint: not a public address');
    }
    return url;
  }
  return {
    publicKey: vapid.publicKey,
    options,
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
    validateSubscription(target) {
      checkEndpoint(target.endpoint);
      const p256dh = Buffer.from(target.keys.p256dh, 'base64url');
      if (p256dh.length !== 65 || p256dh[0] !== 0x04) throw new ConfabError('VALIDATION_ERROR', 'keys.p256dh: not an uncompressed P-256 public key');
      if (Buffer.from(target.keys.auth, 'base64url').length !== 16) throw new ConfabError('VALIDATION_ERROR', 'keys.auth: must be 16 bytes');
    },
    async send(target, payload, opts = {}) {
      let url: URL;
      let details: RequestDetails;
      try {
        url = checkEndpoint(target.endpoint);
        // Loaded on first use: it would otherwise lengthen every start-up (docs/benchmarks.md).
        const { default: webpush } = await import('web-push');
        details = webpush.generateRequestDetails(target, payload, {
          vapidDetails: { subject: options.subject, publicKey: vapid.publicKey, privateKey: vapid.privateKey },
          TTL: opts.ttlSeconds ?? options.ttlSeconds,
          contentEncoding: 'aes128gcm',
          urgency: opts.urgency ?? 'normal',
          ...(opts.topic ? { topic: opts.topic } : {}),
        });
      } catch (error) {
        return { outcome: 'rejected', status: 0, message: error instanceof Error ? error.message : String(error) };
      }
      const secure = url.protocol === 'https:';
      return new Promise<PushResult>((resolve) => {
        const request = (secure ? https : http).request(
          {
            method: 'POST',
            protocol: url.protocol,
            hostname: url.hostname.replace(/^\[|\]$/g, ''),
            port: url.port || (secure ? 443 : 80),
            path: url.pathname + url.search,
            headers: details.headers as http.OutgoingHttpHeaders,
            timeout: options.timeoutMs,
            agent: secure ? agents.https : agents.http,
            ...(options.allowInsecureEndpoints ? {} : { lookup: lookup as never }),
          },
          (response) => {
            let body = '';
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => {
              if (body.length < 2000) body += chunk;
            });
            response.on('end', () => {
              const status = response.statusCode ?? 0;
              const message = `push service answered ${status}${body ? `: ${body.slice(0, 200)}` : ''}`;
              if (status >= 200 && status < 300) resolve({ outcome: 'delivered', status });
              else if (status === 404 || status === 410) resolve({ outcome: 'gone', status });
              else if (status === 429 || status >= 500) {
                const after = retryAfterMs(response.headers['retry-after']);
                resolve({ outcome: 'retry', status, message, ...(after !== undefined ? { retryAfterMs: after } : {}) });
              } else resolve({ outcome: 'rejected', status, message });
            });
            response.on('error', (error) => resolve({ outcome: 'retry', message: error.message }));
          },
        );
        request.on('timeout', () => request.destroy(new Error(`push service did not answer within ${options.timeoutMs} ms`)));
        request.on('error', (error: NodeJS.ErrnoException) =>
          resolve(error.code === 'EPUSHPRIVATE' ? { outcome: 'rejected', status: 0, message: error.message } : { outcome: 'retry', message: error.message }),
        );
        request.end(details.body ?? undefined);
      });
    },
  };
}
