import { Readable } from "node:stream";
import { AUDIT_EVENT_TYPES, AUDIT_LIST_MAX_LIMIT, isAuditEventType } from "@pkiserver/contract";
import { AppError, type Logger } from "@pkiserver/kit";
import type { auditV1 } from "@pkiserver/proto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Authenticator, Credentials } from "../auth/authenticate";
import type { ServiceClients } from "../clients";
import { auditEventView } from "../rpc/methods";
import type { HttpAdmission } from "./rate-limit";

export const AUDIT_EXPORT_PATH = "/audit/export";
const MAX_QUERY_TIME = Number.MAX_SAFE_INTEGER;
/**
 * An export is one long request: a page may take the store longer than an
 * interactive call may (the first page of a large export on a server without
 * range indexes sorts every match), so its calls get more time than the default.
 */
const EXPORT_PAGE_TIMEOUT_MS = 120_000;

export interface AuditExportDeps {
  /** Counts the export in the `audit` tier; none in tests that do not count. */
  admission?: HttpAdmission;
  authenticator: Authenticator;
  clients: ServiceClients;
  credentialsOf: (req: FastifyRequest, signed?: Credentials["signed"]) => Credentials;
  clientIpOf: (req: FastifyRequest) => string;
  logger: Logger;
}

interface ExportQuery {
  from?: number;
  to?: number;
  types: string[];
}

function parseTime(name: string, v: unknown): number | undefined {
  if (v === undefined || v === "") return undefined;
  if (typeof v !== "string" || !/^[0-9]{1,16}$/.test(v) || Number(v) > MAX_QUERY_TIME) {
    throw new Error(`${name}: expected ms since the epoch`);
  }
  return Number(v);
}

function parseQuery(q: Record<string, unknown>): ExportQuery {
  const from = parseTime("from", q.from);
  const to = parseTime("to", q.to);
  if (from !== undefined && to !== undefined && from > to) throw new Error("from: expected from <= to");
  const raw = q.types;
  if (raw !== undefined && typeof raw !== "string") throw new Error("types: expected one comma-separated list");
  const types = (raw ?? "")
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
  if (types.length > AUDIT_EVENT_TYPES.length) throw new Error("types: too many");
  for (const t of types) if (!isAuditEventType(t)) throw new Error("types: unknown event type");
  return { ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}), types };
}

/**
 * `GET /audit/export`: every matching event, oldest first, one JSON object per
 * line. Pages are fetched one at a time and only when the response has taken
 * the previous one (a pull-driven stream), so memory stays flat however many
 * events match and a slow reader slows the reads.
 */
export function registerAuditExport(app: FastifyInstance, deps: AuditExportDeps): void {
  app.get(AUDIT_EXPORT_PATH, async (req, reply) => {
    const json = (status: number, error: string) =>
      reply.code(status).type("application/json").send(JSON.stringify({ error }));
    let query: ExportQuery;
    try {
      query = parseQuery(req.query as Record<string, unknown>);
    } catch (err) {
      return json(400, (err as Error).message);
    }
    const clientIp = deps.clientIpOf(req);
    try {
      const caller = await deps.authenticator.authenticate(
        deps.credentialsOf(req, { method: req.method, uri: req.raw.url ?? req.url, body: Buffer.alloc(0) }),
        clientIp,
        req.id,
      );
      if (!caller.scopes.includes("audit:read")) return json(403, "Insufficient scope");
      // The export counts in the `audit` tier (API.md section 9), as audit/* calls do.
      if (deps.admission !== undefined && !(await deps.admission.admit("audit", caller, clientIp, reply))) {
        return reply.type("application/json").send(JSON.stringify({ error: "Too many requests" }));
      }
      const call = { requestId: req.id, callerKeyId: caller.apiKeyId, caller, timeoutMs: EXPORT_PAGE_TIMEOUT_MS };
      // The first page is read before the status is sent, so an unavailable service is a clean 503.
      let page: auditV1.ExportEventsResponse = await deps.clients.audit.exportEvents(
        { ...query, limit: AUDIT_LIST_MAX_LIMIT },
        call,
      );
      const clients = deps.clients;
      const logger = deps.logger;
      async function* lines(): AsyncGenerator<string> {
        for (;;) {
          for (const e of page.events) yield `${JSON.stringify(auditEventView(e))}\n`;
          if (page.nextCursor === undefined) return;
          try {
            page = await clients.audit.exportEvents(
              { ...query, limit: AUDIT_LIST_MAX_LIMIT, cursor: page.nextCursor },
              call,
            );
          } catch (err) {
            // The status is sent already: the stream ends early, and the log says why.
            logger.error(
              { requestId: req.id, err: AppError.from(err).internal ?? String(err) },
              "audit export cut short",
            );
            throw err;
          }
        }
      }
      return reply
        .type("application/x-ndjson")
        .header("cache-control", "no-store")
        .send(Readable.from(lines(), { objectMode: false, highWaterMark: 64 * 1024 }));
    } catch (err) {
      const e = AppError.from(err);
      if (e.code === "rpc.internal" || e.code === "rpc.unavailable") {
        if (e.code === "rpc.internal") deps.logger.error({ requestId: req.id, err: e.internal }, "audit export failed");
        return json(503, "Service unavailable");
      }
      return json(401, "Unauthorized");
    }
  });
}
