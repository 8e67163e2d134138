import { normaliseIp } from "@pkiserver/kit/core";
import ipaddr from "ipaddr.js";

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * clientKey's answers for recent addresses: it runs for every request (rate limits), a client sends
 * many from one address, and parsing one costs more than the rest of its rate-limit check.
 */
const recentKeys = new Map<string, string>();
const RECENT_KEYS = 4096;

/**
 * The key a client is counted under (rate limits, connection caps): its
 * address for IPv4, its /64 for IPv6, since one subscriber usually holds a
 * whole /64 and can rotate through it at will.
 */
export function clientKey(ip: string): string {
  const known = recentKeys.get(ip);
  if (known !== undefined) return known;
  const key = keyOf(ip);
  // Bounded: emptied when full (clients that keep coming back fill it again at once).
  if (recentKeys.size >= RECENT_KEYS) recentKeys.clear();
  recentKeys.set(ip, key);
  return key;
}

function keyOf(ip: string): string {
  const normal = normaliseIp(ip);
  if (normal === undefined) return ip;
  const addr = ipaddr.parse(normal);
  if (addr.kind() === "ipv4") return normal;
  const prefix = (addr as ipaddr.IPv6).parts.slice(0, 4);
  return `${new ipaddr.IPv6([...prefix, 0, 0, 0, 0]).toNormalizedString()}/64`;
}

const BRACKETED = /^\[([^\]]+)\](?::(\d{1,5}))?$/;
const IPV4_WITH_PORT = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/;

/** An X-Forwarded-For entry, which proxies may write with a port: `1.2.3.4:5678`, `[::1]:80`. */
function parseHop(entry: string): string | undefined {
  const withPort = BRACKETED.exec(entry) ?? IPV4_WITH_PORT.exec(entry);
  if (withPort === null) return normaliseIp(entry);
  const port = withPort[2];
  if (port !== undefined && Number(port) > 65535) return undefined;
  return normaliseIp(withPort[1]);
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
  /** Each connection's peer, normalised once: every request on a keep-alive connection asks again. */
  private readonly peers = new WeakMap<object, string>();

  constructor(trustedProxies: readonly string[]) {
    this.ranges = trustedProxies.map(toRange);
  }

  /** True when `ip` (a normalised address) is one of the configured proxies. */
  trusted(ip: string): boolean {
    if (this.ranges.length === 0) return false;
    const addr = ipaddr.process(ip);
    return this.ranges.some(([net, bits]) => net.kind() === addr.kind() && addr.match([net, bits] as never));
  }

  /**
   * The normalised address of a connection's peer (undefined if it has none,
   * e.g. closed already), worked out once per connection: every request on a
   * keep-alive connection asks again.
   */
  peerOf(socket: { readonly remoteAddress?: string | undefined }): string | undefined {
    let peer = this.peers.get(socket);
    if (peer === undefined) {
      peer = normaliseIp(socket.remoteAddress);
      if (peer !== undefined) this.peers.set(socket, peer);
    }
    return peer;
  }

  /** The normalised client address of a request on `socket` carrying X-Forwarded-For `forwardedFor`. */
  resolveFor(
    socket: { readonly remoteAddress?: string | undefined },
    forwardedFor: string | string[] | undefined,
  ): string {
    return this.fromPeer(this.peerOf(socket) ?? "0.0.0.0", forwardedFor);
  }

  private fromPeer(peerIp: string, forwardedFor: string | string[] | undefined): string {
    if (forwardedFor === undefined || !this.trusted(peerIp)) return peerIp;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor)
      .split(",")
      .map((h) => h.trim())
      .filter((h) => h.length > 0);
    let client = peerIp;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = parseHop(hops[i] as string);
      // A malformed entry ends the chain: what lies left of it cannot be trusted.
      if (hop === undefined) break;
      client = hop;
      if (!this.trusted(hop)) break;
    }
    return client;
  }
}
