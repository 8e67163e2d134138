import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

/**
 * Canonical text of an IP address, so that one address is written one way
 * wherever it is compared (a key's `ipAddr:` restriction, the client address
 * the gateway resolves, rate-limit keys): IPv4 in dotted decimal, IPv6
 * compressed and lower-cased (RFC 5952: `::1`), IPv4-mapped IPv6
 * (`::ffff:1.2.3.4`) as IPv4. Brackets (`[::1]`) and a zone id (`fe80::1%eth0`,
 * which says nothing about the peer) are dropped. Undefined when `raw` is not
 * an IP address; IPv4 only in its four-part decimal form (not `127.1`).
 */
export function normaliseIp(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const value = raw
    .trim()
    .replace(/^\[(.*)\]$/, "$1")
    .replace(/%.*$/, "");
  const kind = isIP(value);
  if (kind === 4) return value;
  if (kind !== 6) return undefined;
  const addr = ipaddr.IPv6.parse(value);
  return addr.isIPv4MappedAddress() ? addr.toIPv4Address().toString() : addr.toRFC5952String();
}
