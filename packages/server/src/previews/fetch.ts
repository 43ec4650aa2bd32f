import { promises as dns, type LookupAddress } from 'node:dns';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import zlib from 'node:zlib';

/**
 * The one way a link preview reaches the outside: a GET that
 *
 * - resolves the host name once, refuses it unless EVERY address it resolves to is public
 *   (address.ts), and connects to that checked address (the socket's `lookup` hands back the
 *   address already resolved, so no second DNS answer can rebind the name to a private one); an
 *   IP address written in the URL is checked as it is;
 * - follows at most `maxRedirects` redirects, each checked the same way (a public site that
 *   redirects to 127.0.0.1 or 169.254.169.254 is refused at that hop, before connecting);
 * - reads at most `maxBytes` of the body (decoded, when a server compresses anyway) within
 *   `timeoutMs` for the whole exchange, redirects included: a longer body is cut, a server that
 *   drips is cut at the deadline, and what arrived until then is what the caller gets;
 * - reads the body only when `accept(contentType)` says yes (only HTML for a page, only raster
 *   images for a preview image); else it stops at the headers.
 *
 * `allowPrivate` (CONFAB_PREVIEWS_ALLOW_PRIVATE=true) lifts the address check, for intranets.
 */
export interface FetchPolicy {
  allowPrivate: boolean;
  maxBytes: number;
  timeoutMs: number;
  maxRedirects: number;
  userAgent: string;
  /** The resolver: every address of a host name (dns.lookup with `all: true` by default). */
  lookup: (hostname: string) => Promise<LookupAddress[]>;
  /** The address check (address.ts by default; tests may count a loopback address as public). */
  isPublic: (address: string) => boolean;
}

export const systemLookup = (hostname: string): Promise<LookupAddress[]> => dns.lookup(hostname, { all: true, verbatim: true });

export type FetchFailure = 'bad_url' | 'private_address' | 'dns' | 'too_many_redirects' | 'status' | 'type' | 'timeout' | 'network' | 'aborted';

export class PreviewFetchError extends Error {
  override readonly name = 'PreviewFetchError';
  constructor(
    readonly reason: FetchFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface Fetched {
  /** Where the body came from, after redirects. */
  url: URL;
  contentType: string;
  body: Buffer;
  /** Why the body may be incomplete: cut at maxBytes, or at the deadline. */
  cut: 'size' | 'time' | null;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** The URL as a preview may fetch it: http(s), no credentials; throws bad_url. */
export function checkUrl(raw: string | URL, base?: URL): URL {
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch {
    throw new PreviewFetchError('bad_url', 'not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new PreviewFetchError('bad_url', 'only http and https links are fetched');
  if (url.username || url.password) throw new PreviewFetchError('bad_url', 'links with credentials are not fetched');
  url.hash = '';
  return url;
}

/** The checked address to connect to for `url`'s host; throws private_address or dns. */
async function resolveChecked(url: URL, policy: FetchPolicy): Promise<LookupAddress> {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const family = isIP(host);
  if (family !== 0) {
    if (!policy.allowPrivate && !policy.isPublic(host)) throw new PreviewFetchError('private_address', 'the link points at a private address');
    return { address: host, family };
  }
  let addresses: LookupAddress[];
  try {
    addresses = await policy.lookup(host);
  } catch {
    throw new PreviewFetchError('dns', 'the host name does not resolve');
  }
  if (addresses.length === 0) throw new PreviewFetchError('dns', 'the host name does not resolve');
  // All of them, not only the one used: a name that also answers with a private address is refused.
  if (!policy.allowPrivate && addresses.some((a) => !policy.isPublic(a.address))) {
    throw new PreviewFetchError('private_address', 'the host name resolves to a private address');
  }
  return addresses[0]!;
}

/** A socket `lookup` that answers with the address resolved and checked before: no second DNS query. */
function pinnedLookup(pinned: LookupAddress): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  }) as unknown as LookupFunction;
}

interface Exchange {
  response: IncomingMessage;
  destroy: () => void;
}

function request(url: URL, pinned: LookupAddress, policy: FetchPolicy, accept: string, signal: AbortSignal): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    const req = client.request(url, {
      method: 'GET',
      // A fresh connection per request: a pooled one could have been opened to another address.
      agent: false,
      lookup: pinnedLookup(pinned),
      headers: { 'user-agent': policy.userAgent, accept, 'accept-encoding': 'identity', 'accept-language': 'en;q=0.9, *;q=0.5' },
      signal,
    });
    req.once('response', (response) => resolve({ response, destroy: () => req.destroy() }));
    // `on`, not `once`: a request destroyed after its answer may report more than one error.
    req.on('error', (error) => reject(signal.aborted ? new PreviewFetchError('timeout', 'no answer in time') : new PreviewFetchError('network', error.message)));
    req.end();
  });
}

/** Reads at most maxBytes of the (decoded) body until the signal fires; never throws. */
function readBody(exchange: Exchange, maxBytes: number, signal: AbortSignal): Promise<{ body: Buffer; cut: Fetched['cut'] }> {
  const { response } = exchange;
  const encoding = String(response.headers['content-encoding'] ?? 'identity').toLowerCase();
  // Asked for identity; a server that compresses anyway is decoded, and the limit counts decoded bytes.
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? zlib.createGunzip()
      : encoding === 'deflate'
        ? zlib.createInflate()
        : encoding === 'br'
          ? zlib.createBrotliDecompress()
          : undefined;
  const source = decoder ? response.pipe(decoder) : response;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (cut: Fetched['cut']) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      exchange.destroy();
      decoder?.destroy();
      resolve({ body: Buffer.concat(chunks, size), cut });
    };
    const onAbort = () => finish('time');
    if (signal.aborted) return finish('time');
    signal.addEventListener('abort', onAbort, { once: true });
    source.on('data', (chunk: Buffer) => {
      if (settled) return;
      const room = maxBytes - size;
      if (chunk.length >= room) {
        chunks.push(chunk.subarray(0, room));
        size += room;
        finish(chunk.length > room ? 'size' : null);
        return;
      }
      chunks.push(chunk);
      size += chunk.length;
    });
    source.once('end', () => finish(null));
    // A connection that breaks mid-body (or a corrupt compressed stream) ends what is read.
    source.on('error', () => finish(signal.aborted ? 'time' : null));
    if (decoder) response.on('error', () => finish(signal.aborted ? 'time' : null));
    response.once('aborted', () => finish(signal.aborted ? 'time' : null));
  });
}

/**
 * GETs `url` under `policy` (see FetchPolicy); `accept` decides from the Content-Type whether the
 * body is read. `outer` aborts from outside (the server stopping).
 */
export async function fetchLimited(
  raw: string | URL,
  policy: FetchPolicy,
  opts: { accept: string; acceptType: (contentType: string) => boolean; signal?: AbortSignal | undefined },
): Promise<Fetched> {
  const deadline = AbortSignal.timeout(policy.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([deadline, opts.signal]) : deadline;
  let url = checkUrl(raw);
  for (let hop = 0; ; hop++) {
    if (signal.aborted) throw new PreviewFetchError(opts.signal?.aborted ? 'aborted' : 'timeout', 'no answer in time');
    const pinned = await resolveChecked(url, policy);
    const exchange = await request(url, pinned, policy, opts.accept, signal);
    const { response } = exchange;
    const status = response.statusCode ?? 0;
    if (REDIRECTS.has(status) && response.headers.location) {
      exchange.destroy();
      if (hop >= policy.maxRedirects) throw new PreviewFetchError('too_many_redirects', `more than ${policy.maxRedirects} redirects`);
      url = checkUrl(response.headers.location, url);
      continue;
    }
    if (status < 200 || status > 299) {
      exchange.destroy();
      throw new PreviewFetchError('status', `the site answered ${status}`);
    }
    const contentType = String(response.headers['content-type'] ?? '').toLowerCase();
    if (!opts.acceptType(contentType)) {
      exchange.destroy();
      throw new PreviewFetchError('type', 'not a type that is previewed');
    }
    const { body, cut } = await readBody(exchange, policy.maxBytes, signal);
    return { url, contentType, body, cut };
  }
}
