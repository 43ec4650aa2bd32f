import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { ConfabError } from '@confab/protocol';

/**
 * Who may read GET /metrics (it tells an outsider how busy the server is, its routes, versions
 * and memory).
 *
 * - With CONFAB_METRICS_TOKEN: a request bearing it, from anywhere (Prometheus' `authorization`).
 * - Without: a caller on a loopback address or one in CONFAB_METRICS_ALLOW (addresses and CIDRs).
 *
 * The address check uses the TCP peer and every address a proxy says the request passed through
 * (X-Forwarded-For, X-Real-IP, Forwarded), never Fastify's `request.ip`: with CONFAB_TRUST_PROXY
 * that is the left-most X-Forwarded-For entry, which the caller writes. Behind a proxy on the same
 * host every peer is loopback; the proxy's forwarding header names the real client, and a caller
 * who prepends "127.0.0.1" to it still has their own address appended by the proxy.
 */
export function createMetricsAccess(token: string | undefined, allow: readonly string[]): (headers: IncomingHttpHeaders, peer: string | undefined) => void {
  if (token) {
    const expected = digest(token);
    return (headers) => {
      const match = /^Bearer\s+(\S+)$/i.exec(headers.authorization ?? '');
      // Digests, so the comparison takes the same time whatever the length of what was sent.
      if (!match || !timingSafeEqual(digest(match[1]!), expected)) throw new ConfabError('UNAUTHENTICATED', 'metrics need "Authorization: Bearer <CONFAB_METRICS_TOKEN>"');
    };
  }
  const allowed = new BlockList();
  allowed.addSubnet('127.0.0.0', 8, 'ipv4');
  allowed.addAddress('::1', 'ipv6');
  for (const entry of allow) addEntry(allowed, entry);
  const ok = (address: string): boolean => {
    const plain = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
    const family = isIP(plain);
    return family !== 0 && allowed.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  };
  return (headers, peer) => {
    const addresses = [peer ?? '', ...forwardedAddresses(headers)];
    if (!addresses.every(ok)) throw new ConfabError('FORBIDDEN', 'metrics are served to loopback and CONFAB_METRICS_ALLOW addresses, or with CONFAB_METRICS_TOKEN');
  };
}

const digest = (value: string) => createHash('sha256').update(value).digest();

function addEntry(list: BlockList, entry: string): void {
  const parsed = parseAllowEntry(entry);
  if (!parsed) throw new Error(`CONFAB_METRICS_ALLOW: not an address or CIDR range: ${entry}`);
  if (parsed.prefix === undefined) list.addAddress(parsed.address, parsed.type);
  else list.addSubnet(parsed.address, parsed.prefix, parsed.type);
}

/** `10.0.0.7`, `10.0.0.0/8`, `fd00::/8`; undefined for anything else. */
export function parseAllowEntry(entry: string): { address: string; prefix: number | undefined; type: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', bits, extra] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return undefined;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (bits === undefined) return { address, prefix: undefined, type };
  if (!/^\d+$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128)) return undefined;
  return { address, prefix: Number(bits), type };
}

/** Every client address named by forwarding headers; an unreadable one counts as not allowed. */
function forwardedAddresses(headers: IncomingHttpHeaders): string[] {
  const found: string[] = [];
  const add = (value: string | string[] | undefined, split: (v: string) => string[]) => {
    for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) found.push(...split(v));
  };
  add(headers['x-forwarded-for'], (v) => v.split(',').map((s) => s.trim()));
  add(headers['x-real-ip'], (v) => [v.trim()]);
  // RFC 7239: for=192.0.2.1, for="[2001:db8::1]:4711", for=unknown
  add(headers.forwarded, (v) =>
    [...v.matchAll(/for=("?)([^";,]*)\1/gi)].map((m) => {
      const node = m[2]!;
      const v6 = /^\[([^\]]+)\]/.exec(node);
      return v6 ? v6[1]! : node.replace(/^(\d+\.\d+\.\d+\.\d+):\d+$/, '$1');
    }),
  );
  return found;
}
