import { AppError, type AsyncClient, type CallOptions } from "@pkiserver/kit";
import { parseTilePath } from "@pkiserver/log";
import type { pkiV1 } from "@pkiserver/proto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Authenticator, Caller } from "../auth/authenticate";
import type { HttpAdmission } from "./rate-limit";

export interface LogRoutesDeps {
  readonly pki: AsyncClient<pkiV1.PkiServiceServer>;
  readonly authenticator: Authenticator;
  /** pki/* reads need no credentials: the log's files neither. */
  readonly pkiPublicRead: boolean;
  readonly clientIpOf: (req: FastifyRequest) => string;
  /** The log's files count in the `pki` tier (API.md section 9), per key or, anonymous, per address. */
  readonly admission?: HttpAdmission;
}

// c2sp.org/tlog-tiles: checkpoints are text, tiles and bundles bytes. A tile's bytes never change
// (every hash in it is final once it exists), so it may be kept as long as caches keep anything;
// the checkpoint changes with every sequencing.
const CHECKPOINT_TYPE = "text/plain; charset=utf-8";
const TILE_TYPE = "application/octet-stream";
const IMMUTABLE = "private, max-age=31536000, immutable";

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The transparency log's read-only HTTP layout (API.md section 11): `GET /log/checkpoint`,
 * `/log/tile/<L>/<N>[.p/<W>]` and `/log/tile/entries/<N>[.p/<W>]`, with the scope of pki/*.
 */
export function registerLogRoutes(app: FastifyInstance, deps: LogRoutesDeps): void {
  /** Sends the refusal and returns undefined unless the caller may read the log; else the options of its calls. */
  const allowed = async (req: FastifyRequest, reply: FastifyReply): Promise<CallOptions | undefined> => {
    const clientIp = deps.clientIpOf(req);
    const limited = async (caller: Caller | undefined) => {
      if (deps.admission === undefined || (await deps.admission.admit("pki", caller, clientIp, reply))) return false;
      await reply.type(CHECKPOINT_TYPE).send("too many requests\n");
      return true;
    };
    // Public reads are anonymous: counted per address, as pki/* calls without credentials are.
    if (deps.pkiPublicRead) return (await limited(undefined)) ? undefined : { requestId: req.id };
    try {
      const caller = await deps.authenticator.authenticate(
        {
          authorization: header(req, "authorization"),
          userToken: header(req, "x-user-token"),
          signed: { method: req.method, uri: req.raw.url ?? req.url, body: Buffer.alloc(0) },
        },
        clientIp,
        req.id,
      );
      if (caller.scopes.includes("pki:read")) {
        if (await limited(caller)) return undefined;
        return { requestId: req.id, callerKeyId: caller.apiKeyId, caller };
      }
      await reply.code(403).type(CHECKPOINT_TYPE).send("insufficient scope\n");
      return undefined;
    } catch (err) {
      const e = AppError.from(err);
      if (e.code.startsWith("auth.")) {
        await reply.code(401).header("www-authenticate", "Bearer").type(CHECKPOINT_TYPE).send("unauthorized\n");
      } else {
        req.log.error({ requestId: req.id, err: e.internal ?? e.message }, "log route authentication failed");
        await reply.code(503).type(CHECKPOINT_TYPE).send("unavailable\n");
      }
      return undefined;
    }
  };

  /** A failed service call is this route's problem, never a JSON-RPC reply. */
  const failed = (req: FastifyRequest, reply: FastifyReply, err: unknown) => {
    const e = AppError.from(err);
    req.log.error({ requestId: req.id, err: e.internal ?? e.message }, "log route failed");
    return reply.code(503).type(CHECKPOINT_TYPE).send("unavailable\n");
  };

  app.get("/log/checkpoint", async (req, reply) => {
    const call = await allowed(req, reply);
    if (call === undefined) return reply;
    try {
      const res = await deps.pki.getCheckpoint({}, call);
      return reply.type(CHECKPOINT_TYPE).header("cache-control", "no-cache").send(res.checkpoint);
    } catch (err) {
      return failed(req, reply, err);
    }
  });

  app.get("/log/tile/*", async (req, reply) => {
    const call = await allowed(req, reply);
    if (call === undefined) return reply;
    const tile = parseTilePath(`tile/${(req.params as { "*": string })["*"]}`);
    if (tile === undefined) return reply.code(404).type(CHECKPOINT_TYPE).send("not found\n");
    try {
      const res = await deps.pki.getLogTile(
        { level: tile.level === "entries" ? -1 : tile.level, index: tile.index, width: tile.width },
        call,
      );
      if (!res.found) return reply.code(404).type(CHECKPOINT_TYPE).send("not found\n");
      return reply.type(TILE_TYPE).header("cache-control", IMMUTABLE).send(res.data);
    } catch (err) {
      return failed(req, reply, err);
    }
  });
}
