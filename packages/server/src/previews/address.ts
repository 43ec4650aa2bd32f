import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Whether a link preview may connect to `address`: only ordinary public unicast addresses may.
 * An allow-list, by ipaddr.js's ranges: everything it names (private, loopback, link-local,
 * multicast, unspecified, broadcast, carrier-grade NAT, reserved and documentation blocks, unique
 * local IPv6, 6to4/Teredo/NAT64 prefixes that embed an IPv4 address…) is refused; only its
 * "unicast" range passes. An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) is judged as the IPv4
 * address it carries. Anything that does not parse is refused.
 */
export function isPublicAddress(address: string): boolean {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  // Only the canonical forms Node produces (a resolver's answer, a WHATWG URL's host); ipaddr.js
  // would also read legacy forms such as "0x7f.1", which never reach here from those.
  if (isIP(bare.split('%')[0]!) === 0) return false;
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.parse(bare);
  } catch {
    return false;
  }
  if (ip.kind() === 'ipv6') {
    const v6 = ip as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return isPublicAddress(v6.toIPv4Address().toString());
    return v6.range() === 'unicast';
  }
  return ip.range() === 'unicast';
}
