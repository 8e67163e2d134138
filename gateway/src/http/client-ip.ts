import ipaddr from "ipaddr.js";

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Canonical text of an address: IPv4-mapped IPv6 becomes plain IPv4; undefined if not an IP. */
export function normaliseIp(addr: string | undefined): string | undefined {
  if (addr === undefined) return undefined;
  const bare = addr.trim().replace(/^\[(.*)\]$/, "$1");
  // Zone ids (fe80::1%eth0) carry no identity of the peer.
  const noZone = bare.replace(/%.*$/, "");
  if (!ipaddr.isValid(noZone)) return undefined;
  try {
    return ipaddr.process(noZone).toNormalizedString();
  } catch {
    return undefined;
  }
}

function toRange(entry: string): Range {
  if (entry.includes("/")) {
    const [addr, bits] = ipaddr.parseCIDR(entry);
    if (addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
      return [(addr as ipaddr.IPv6).toIPv4Address(), Math.max(0, bits - 96)];
    }
    return [addr, bits];
  }
  const addr = ipaddr.process(entry);
  return [addr, addr.kind() === "ipv4" ? 32 : 128];
}

/**
 * Works out the client address of a request: the socket peer, unless the peer
 * is a trusted proxy, in which case X-Forwarded-For is read from the right,
 * skipping trusted proxies, and the first untrusted hop is the client.
 */
export class ClientIpResolver {
  private readonly ranges: Range[];

  constructor(trustedProxies: readonly string[]) {
    this.ranges = trustedProxies.map(toRange);
  }

  private trusted(ip: string): boolean {
    if (this.ranges.length === 0) return false;
    const addr = ipaddr.process(ip);
    return this.ranges.some(([net, bits]) => net.kind() === addr.kind() && addr.match([net, bits] as never));
  }

  resolve(peer: string | undefined, forwardedFor: string | string[] | undefined): string {
    const peerIp = normaliseIp(peer) ?? "0.0.0.0";
    if (!this.trusted(peerIp) || forwardedFor === undefined) return peerIp;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor)
      .split(",")
      .map((h) => h.trim())
      .filter((h) => h.length > 0);
    let client = peerIp;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normaliseIp(hops[i]);
      // A malformed entry ends the chain: what lies left of it cannot be trusted.
      if (hop === undefined) break;
      client = hop;
      if (!this.trusted(hop)) break;
    }
    return client;
  }
}
