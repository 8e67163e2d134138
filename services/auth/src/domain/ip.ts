import { isIP } from "node:net";

/**
 * Canonical text of an IP address, so `ipAddr:` restrictions compare equal
 * however the address was written: IPv6 compressed and lower-cased (RFC 5952,
 * via the WHATWG URL parser), IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as IPv4.
 * Undefined when `raw` is not an IP address.
 */
export function normaliseIp(raw: string): string | undefined {
  const value = raw.trim();
  const kind = isIP(value);
  if (kind === 4) return value;
  if (kind !== 6) return undefined;
  const zone = value.indexOf("%");
  let host: string;
  try {
    host = new URL(`http://[${zone < 0 ? value : value.slice(0, zone)}]/`).hostname.slice(1, -1);
  } catch {
    return value.toLowerCase();
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (mapped) {
    const hi = Number.parseInt(mapped[1] as string, 16);
    const lo = Number.parseInt(mapped[2] as string, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return zone < 0 ? host : `${host}${value.slice(zone).toLowerCase()}`;
}
