import type { Server } from "node:http";
import type { Socket } from "node:net";
import { type ClientIpResolver, clientKey } from "./client-ip";

/** How long a refused connection may take to send the request that is answered 429. */
const REFUSED_GRACE_MS = 1000;

/**
 * API.md section 8: at most `max` open connections (HTTP and WebSocket
 * together) per client, counted by `clientKey` (IPv6 per /64).
 *
 * A client that connects directly is counted per TCP connection, from its
 * accept to its close; one over the cap is answered HTTP 429 on its first
 * request and closed (or closed after a second if it sends none), so each
 * refusal holds a descriptor only briefly. Behind a trusted proxy the proxy's
 * connections are shared by many clients, so there each request or WebSocket
 * counts against the forwarded client while it lasts.
 */
export class ConnectionLimiter {
  private readonly open = new Map<string, number>();
  private readonly refused = new WeakSet<Socket>();

  constructor(
    private readonly opts: {
      max: number;
      resolver: ClientIpResolver;
      /** Called once per refused connection or request (a metric). */
      onRefused: () => void;
    },
  ) {}

  attach(server: Server): void {
    server.on("connection", (socket: Socket) => {
      const peer = this.opts.resolver.peerOf(socket);
      if (peer === undefined || this.opts.resolver.trusted(peer)) return;
      const release = this.acquire(clientKey(peer));
      if (release !== undefined) {
        socket.once("close", release);
        return;
      }
      this.refused.add(socket);
      this.opts.onRefused();
      const timer = setTimeout(() => socket.destroy(), REFUSED_GRACE_MS);
      timer.unref();
      socket.once("close", () => clearTimeout(timer));
    });
  }

  /**
   * Admits a request or refuses it with 429. On a direct connection the
   * connection itself was counted at accept; `close` says the refused
   * connection must be closed after the answer. A request through a trusted
   * proxy takes one of its client's connections until `release` is called.
   */
  admit(
    socket: Socket,
    clientIp: string,
  ): { refused: true; close: boolean } | { refused: false; release?: () => void } {
    if (this.refused.has(socket)) return { refused: true, close: true };
    const peer = this.opts.resolver.peerOf(socket);
    if (peer === undefined || !this.opts.resolver.trusted(peer)) return { refused: false };
    const release = this.acquire(clientKey(clientIp));
    if (release !== undefined) return { refused: false, release };
    this.opts.onRefused();
    return { refused: true, close: false };
  }

  private acquire(key: string): (() => void) | undefined {
    const count = this.open.get(key) ?? 0;
    if (count >= this.opts.max) return undefined;
    this.open.set(key, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(key) ?? 1) - 1;
      if (left <= 0) this.open.delete(key);
      else this.open.set(key, left);
    };
  }
}
