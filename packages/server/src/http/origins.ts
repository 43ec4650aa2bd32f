import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import type { Logger } from 'pino';

/**
 * Which browser pages may open sockets and call the API: a defence against other sites and against
 * DNS rebinding, used by the Socket.IO handshake and the REST routes alike.
 *
 * A rebinding page lives at a host name the attacker controls (evil.example), which resolves to
 * this server: the browser then sends `Origin: http://evil.example` and `Host: evil.example`, so
 * "Origin matches Host" is exactly what such a page passes. What the attacker cannot produce is a
 * page whose origin is one of ours, a loopback name (browsers resolve `localhost` themselves) or an
 * IP address (a page served from an IP literal came from that address, not from a name they own).
 *
 * - With `CONFAB_PUBLIC_URL` and/or `CONFAB_ORIGINS`: exactly those origins.
 * - With neither: loopback origins (`localhost`, `*.localhost`, 127.0.0.0/8, `[::1]`, any port), and
 *   an IP-literal origin that equals the Host the request was sent to. `npm start` works at
 *   http://localhost:3000 and at http://<address>:3000; a host name needs `CONFAB_PUBLIC_URL`.
 * - Without `Origin`: a client that is not a browser (the SDK in Node, bots, curl) is let through;
 *   the check protects browsers, it authenticates nothing. Browsers leave `Origin` off same-origin
 *   GETs but send `Sec-Fetch-Site` (which a page cannot forge): such a request's page origin is the
 *   Host it was sent to, so that Host must be one of ours, a loopback name or an IP address
 *   (a proxy that rewrites Host to 127.0.0.1 keeps working).
 */
export interface OriginPolicy {
  /** The configured origins, normalized; empty means "the default" above. */
  readonly configured: readonly string[];
  allows(headers: IncomingHttpHeaders): boolean;
}

export function createOriginPolicy(publicUrl: string | undefined, origins: readonly string[], log?: Logger): OriginPolicy {
  const configured = [...new Set([...(publicUrl ? [publicUrl] : []), ...origins].map(normalizeOrigin))];
  const allowedOrigins = new Set(configured);
  const allowedHosts = new Set(configured.map((o) => new URL(o).host));

  const hostAllowed = (hostHeader: string | undefined): boolean => {
    const host = parseHost(hostHeader);
    if (!host) return false;
    return isLoopbackName(host.hostname) || isIpLiteral(host.hostname) || allowedHosts.has(host.host);
  };

  // An operator whose users are refused needs to hear why, once per page origin, not per request.
  const told = new Set<string>();
  const refuse = (headers: IncomingHttpHeaders): false => {
    const key = `${headers.origin ?? ''} ${headers.host ?? ''}`.slice(0, 300);
    if (log && told.size < 100 && !told.has(key)) {
      told.add(key);
      log.warn(
        { origin: headers.origin?.slice(0, 200), host: headers.host?.slice(0, 200) },
        configured.length > 0 ? 'browser origin refused: not in CONFAB_PUBLIC_URL or CONFAB_ORIGINS' : 'browser origin refused: set CONFAB_PUBLIC_URL to the address users open',
      );
    }
    return false;
  };
  const allows = (headers: IncomingHttpHeaders): boolean => {
    const origin = headers.origin;
    if (origin === undefined) {
      const site = headers['sec-fetch-site'];
      // No Sec-Fetch-Site: not a browser. `none`: the user typed the address or opened a bookmark.
      if (site === undefined || site === 'none') return true;
      return hostAllowed(headers.host);
    }
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false; // "null" (sandboxed frames, file://) and garbage
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    if (configured.length > 0) return allowedOrigins.has(url.origin);
    if (isLoopbackName(url.hostname)) return true;
    return isIpLiteral(url.hostname) && url.host === parseHost(headers.host)?.host;
  };
  return { configured, allows: (headers) => allows(headers) || refuse(headers) };
}

/** `https://Chat.Example.com/` → `https://chat.example.com`; throws on anything but an http(s) origin. */
export function normalizeOrigin(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`not a URL: ${value}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`not an http(s) URL: ${value}`);
  return url.origin;
}

function parseHost(host: string | undefined): URL | undefined {
  if (!host) return undefined;
  try {
    const url = new URL(`http://${host}`);
    // Nothing but host[:port]: "evil.example@127.0.0.1" or "a/b" are not Host headers.
    return url.username === '' && url.pathname === '/' && `${url.host}` === host.toLowerCase().replace(/:80$/, '') ? url : undefined;
  } catch {
    return undefined;
  }
}

function isLoopbackName(hostname: string): boolean {
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) return true;
  if (hostname === '[::1]') return true;
  return isIP(hostname) === 4 && hostname.startsWith('127.');
}

function isIpLiteral(hostname: string): boolean {
  return isIP(hostname.replace(/^\[(.*)\]$/, '$1')) !== 0;
}
