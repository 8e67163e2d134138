import { randomUUID } from "node:crypto";
import type { Logger } from "@pkiserver/kit";
import type { WebSocket } from "ws";
import type { Authenticator, Credentials } from "../auth/authenticate";
import type { Dispatcher } from "../rpc/dispatch";

/** Messages a connection may have waiting; at this many the connection stops reading until some are answered. */
const MAX_PENDING = 64;

const warned = new WeakSet<WebSocket>();

/**
 * Logs a hostile or malformed frame: once per connection, at warn, without a
 * stack (API.md section 8), so a client cannot flood the log.
 */
export function warnFrameOnce(logger: Logger, socket: WebSocket, fields: Record<string, unknown>): void {
  if (warned.has(socket)) return;
  warned.add(socket);
  logger.warn(fields, "websocket closed: frame refused");
}

/** Close code for a binary frame: this protocol carries text only (RFC 6455 section 7.4.1). */
const UNSUPPORTED_DATA = 1003;

interface Tracked {
  missedPongs: number;
}

/**
 * Keeps the WebSocket connections alive: a ping every `intervalMs`, and a
 * peer that has not answered the last two pings is terminated.
 */
export class Heartbeat {
  private readonly sockets = new Map<WebSocket, Tracked>();
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs: number) {
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
  }

  add(socket: WebSocket): void {
    const t: Tracked = { missedPongs: 0 };
    this.sockets.set(socket, t);
    socket.on("pong", () => {
      t.missedPongs = 0;
    });
    socket.once("close", () => this.sockets.delete(socket));
  }

  private tick(): void {
    for (const [socket, t] of this.sockets) {
      // A paused connection is not being read, so its pongs cannot arrive; it resumes once its requests are answered.
      if (socket.isPaused) {
        t.missedPongs = 0;
        continue;
      }
      if (t.missedPongs >= 2) {
        socket.terminate();
        this.sockets.delete(socket);
        continue;
      }
      t.missedPongs++;
      try {
        socket.ping();
      } catch {
        // Closing already; the close event removes it.
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Drops every connection at once (a shutdown whose grace has run out). */
  terminateAll(): void {
    for (const socket of this.sockets.keys()) socket.terminate();
    this.sockets.clear();
  }
}

/**
 * Serves one WebSocket connection: each text message is a JSON-RPC request or
 * batch, handled in arrival order (so a binding applies to the messages after
 * it), replies sent back as text messages.
 */
export function serveConnection(opts: {
  socket: WebSocket;
  dispatcher: Pick<Dispatcher, "handle">;
  /** False once the gateway is shutting down: messages still queued are dropped, not handled. */
  accepting: () => boolean;
  authenticator: Authenticator;
  clientIp: string;
  /** The upgrade request's own credential headers. */
  headers: { authorization?: string | undefined; userToken?: string | undefined };
  logger: Logger;
  onClose: () => void;
}): void {
  const { socket, dispatcher, authenticator, clientIp, logger } = opts;
  let boundToken: string | undefined;
  let pending = 0;
  let chain: Promise<void> = Promise.resolve();

  socket.on("message", (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    // Frames that arrive while the connection closes are not requests any more.
    if (socket.readyState !== socket.OPEN) return;
    if (isBinary) {
      warnFrameOnce(logger, socket, { clientIp, closeCode: UNSUPPORTED_DATA, reason: "binary frame" });
      socket.close(UNSUPPORTED_DATA, "Text frames only");
      return;
    }
    pending++;
    // Backpressure rather than refusal: a peer that sends faster than it is answered waits.
    if (pending >= MAX_PENDING) socket.pause();
    const raw = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    chain = chain.then(async () => {
      try {
        if (!opts.accepting()) return;
        const credentials: Credentials = {
          authorization: opts.headers.authorization,
          userToken: opts.headers.userToken,
          boundToken,
        };
        // A refused token leaves the earlier binding in place.
        const bindToken = async (token: string) => {
          await authenticator.verifyToken(token, clientIp);
          boundToken = token;
          credentials.boundToken = token;
        };
        const result = await dispatcher.handle(raw, {
          requestId: randomUUID(),
          transport: "ws",
          clientIp,
          credentials,
          bindToken,
        });
        if (result.body !== undefined && socket.readyState === socket.OPEN) socket.send(JSON.stringify(result.body));
      } catch (err) {
        logger.error({ err: err instanceof Error ? err.message : String(err) }, "websocket message failed");
      } finally {
        pending--;
        if (pending < MAX_PENDING && socket.isPaused) socket.resume();
      }
    });
  });
  socket.once("close", () => {
    boundToken = undefined;
    opts.onClose();
  });
}
