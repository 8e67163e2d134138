import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { ParseArgsConfig } from "node:util";
import { auditLog, httpFetcher, readAuditState, VerificationError, writeAuditState } from "@pkiserver/log";
import type { GatewayClient } from "./rpc";

/** A wrong command line: printed with the usage, exit 2. */
export class UsageError extends Error {}

export type Values = Record<string, string | boolean | undefined>;

/** What a command prints: `json` with --json, `lines` otherwise. */
export interface Output {
  readonly json: unknown;
  readonly lines: readonly string[];
}

export interface CommandContext {
  readonly values: Values;
  readonly args: readonly string[];
  /** The gateway client (signs in on its first call). */
  client(): GatewayClient;
  /** Writes one line to stdout at once (for commands that stream). */
  emit(line: string): void;
  readonly json: boolean;
  readonly logKey: string | undefined;
  readonly serverEnv: () => Record<string, string | undefined>;
}

export interface Command {
  readonly words: readonly [string, string];
  readonly usage: string;
  readonly summary: string;
  /** Names of the positional arguments, all required. */
  readonly args: readonly string[];
  readonly options: NonNullable<ParseArgsConfig["options"]>;
  run(ctx: CommandContext): Promise<Output | undefined>;
}

interface ApiKeyView {
  apiKeyId: string;
  name: string;
  enabled: boolean;
  maxScope: string[];
  createDate: number;
  clientPublicKey?: string;
  previousCredentialExpiresAt?: number;
}

interface SessionView {
  sessionId: string;
  apiKeyId: string;
  name?: string;
  scope: string[];
  ipAddr?: string;
  createdAt: number;
  expiresAt: number;
}

interface AuditEvent {
  id: string;
  time: number;
  type: string;
  outcome: string;
  actor: { apiKeyId?: string; sessionId?: string; ip?: string };
  target: string;
  requestId?: string;
  details: Record<string, unknown>;
}

const iso = (ms: number) => new Date(ms).toISOString();

function text(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" && v !== "" ? v : undefined;
}

function list(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function nonNegativeInt(values: Values, name: string, max: number): number | undefined {
  const v = text(values, name);
  if (v === undefined) return undefined;
  if (!/^\d{1,16}$/.test(v) || Number(v) > max) throw new UsageError(`--${name} must be an integer 0..${max}`);
  return Number(v);
}

/** Rows as left-aligned columns under a header. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** The credential options of keys create / rotate: a secret (generated when absent) or a public key file. */
function credential(values: Values): { clientSecret: string; generated: boolean } | { clientPubKey: string } {
  const secret = text(values, "secret");
  const file = text(values, "pubkey-file");
  if (secret !== undefined && file !== undefined) throw new UsageError("give --secret or --pubkey-file, not both");
  if (file !== undefined) return { clientPubKey: readFileSync(file, "utf8").trim() };
  if (secret !== undefined) return { clientSecret: secret, generated: false };
  return { clientSecret: randomBytes(32).toString("base64url"), generated: true };
}

function auditLine(e: AuditEvent): string {
  const actor = [
    e.actor.apiKeyId ? `key=${e.actor.apiKeyId}` : "",
    e.actor.sessionId ? `session=${e.actor.sessionId}` : "",
    e.actor.ip ? `ip=${e.actor.ip}` : "",
  ].filter(Boolean);
  const details = Object.keys(e.details ?? {}).length > 0 ? ` ${JSON.stringify(e.details)}` : "";
  return `${iso(e.time)}  ${e.type}  ${e.outcome}  ${[...actor, `target=${e.target}`].join(" ")}${details}`;
}

async function setEnabled(ctx: CommandContext, enabled: boolean): Promise<Output> {
  const apiKeyId = ctx.args[0] as string;
  await ctx.client().call("user/updateApiKey", { apiKeyId, enabled });
  return { json: { apiKeyId, enabled }, lines: [`${enabled ? "enabled" : "disabled"} ${apiKeyId}`] };
}

/** Flattens the effective configuration to `component.setting = value` lines. */
function flatten(prefix: string, value: unknown, out: string[]): void {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(prefix ? `${prefix}.${k}` : k, v, out);
    return;
  }
  out.push(`${prefix} = ${value === undefined ? "(unset)" : Array.isArray(value) ? value.join(",") : String(value)}`);
}

const GRACE_MAX_MS = 2_592_000_000;
const AUDIT_MAX_LIMIT = 1000;

export const COMMANDS: readonly Command[] = [
  {
    words: ["keys", "list"],
    usage: "keys list",
    summary: "list the API keys",
    args: [],
    options: {},
    run: async (ctx) => {
      const { list: keys } = await ctx.client().call<{ list: ApiKeyView[] }>("user/listApiKeys");
      return {
        json: keys,
        lines: table(
          ["ID", "NAME", "ENABLED", "CREATED", "SCOPE"],
          keys.map((k) => [k.apiKeyId, k.name, k.enabled ? "yes" : "no", iso(k.createDate), k.maxScope.join(",")]),
        ),
      };
    },
  },
  {
    words: ["keys", "create"],
    usage: "keys create --name NAME --scope SCOPE[,SCOPE...] [--secret SECRET | --pubkey-file FILE]",
    summary: "add an API key (a generated secret is printed once)",
    args: [],
    options: {
      name: { type: "string" },
      scope: { type: "string" },
      secret: { type: "string" },
      "pubkey-file": { type: "string" },
    },
    run: async (ctx) => {
      const name = text(ctx.values, "name");
      const maxScope = list(text(ctx.values, "scope"));
      if (name === undefined || maxScope.length === 0) throw new UsageError("keys create needs --name and --scope");
      const cred = credential(ctx.values);
      const params =
        "clientPubKey" in cred
          ? { type: "pubKey", name, maxScope, clientPubKey: cred.clientPubKey }
          : { type: "secret", name, maxScope, clientSecret: cred.clientSecret };
      const { apiKeyId } = await ctx.client().call<{ apiKeyId: string }>("user/addApiKey", params);
      const shown = "clientSecret" in cred && cred.generated ? cred.clientSecret : undefined;
      return {
        json: { apiKeyId, ...(shown !== undefined ? { clientSecret: shown } : {}) },
        lines: [
          `created ${apiKeyId}`,
          ...(shown !== undefined ? [`secret: ${shown}`, "(shown once: store it now)"] : []),
        ],
      };
    },
  },
  {
    words: ["keys", "rotate"],
    usage: "keys rotate API_KEY_ID [--secret SECRET | --pubkey-file FILE] [--grace MS]",
    summary: "give a key a new credential; the previous one works for the grace period",
    args: ["API_KEY_ID"],
    options: { secret: { type: "string" }, "pubkey-file": { type: "string" }, grace: { type: "string" } },
    run: async (ctx) => {
      const apiKeyId = ctx.args[0] as string;
      const gracePeriod = nonNegativeInt(ctx.values, "grace", GRACE_MAX_MS);
      const file = text(ctx.values, "pubkey-file");
      const secret = text(ctx.values, "secret");
      if (secret !== undefined && file !== undefined) throw new UsageError("give --secret or --pubkey-file, not both");
      const res = await ctx.client().call<{
        apiKeyId: string;
        previousCredentialExpiresAt: number;
        clientSecret?: string;
      }>("user/rotateApiKey", {
        apiKeyId,
        ...(file !== undefined ? { clientPubKey: readFileSync(file, "utf8").trim() } : {}),
        ...(secret !== undefined ? { clientSecret: secret } : {}),
        ...(gracePeriod !== undefined ? { gracePeriod } : {}),
      });
      return {
        json: res,
        lines: [
          `rotated ${res.apiKeyId}; the previous credential works until ${iso(res.previousCredentialExpiresAt)}`,
          ...(res.clientSecret !== undefined ? [`secret: ${res.clientSecret}`, "(shown once: store it now)"] : []),
        ],
      };
    },
  },
  {
    words: ["keys", "disable"],
    usage: "keys disable API_KEY_ID",
    summary: "disable a key (its sessions are revoked)",
    args: ["API_KEY_ID"],
    options: {},
    run: (ctx) => setEnabled(ctx, false),
  },
  {
    words: ["keys", "enable"],
    usage: "keys enable API_KEY_ID",
    summary: "enable a disabled key",
    args: ["API_KEY_ID"],
    options: {},
    run: (ctx) => setEnabled(ctx, true),
  },
  {
    words: ["keys", "delete"],
    usage: "keys delete API_KEY_ID",
    summary: "delete a key and revoke its sessions",
    args: ["API_KEY_ID"],
    options: {},
    run: async (ctx) => {
      const apiKeyId = ctx.args[0] as string;
      await ctx.client().call("user/deleteApiKey", { apiKeyId });
      return { json: { apiKeyId, deleted: true }, lines: [`deleted ${apiKeyId}`] };
    },
  },
  {
    words: ["sessions", "list"],
    usage: "sessions list API_KEY_ID",
    summary: "list a key's live sessions",
    args: ["API_KEY_ID"],
    options: {},
    run: async (ctx) => {
      const { list: sessions } = await ctx
        .client()
        .call<{ list: SessionView[] }>("user/listSessions", { apiKeyId: ctx.args[0] });
      return {
        json: sessions,
        lines: table(
          ["SESSION", "NAME", "CREATED", "EXPIRES", "IP", "SCOPE"],
          sessions.map((s) => [
            s.sessionId,
            s.name ?? "-",
            iso(s.createdAt),
            iso(s.expiresAt),
            s.ipAddr ?? "-",
            s.scope.join(","),
          ]),
        ),
      };
    },
  },
  {
    words: ["sessions", "revoke"],
    usage: "sessions revoke API_KEY_ID SESSION_ID",
    summary: "revoke one session of a key",
    args: ["API_KEY_ID", "SESSION_ID"],
    options: {},
    run: async (ctx) => {
      const [apiKeyId, sessionId] = ctx.args as [string, string];
      await ctx.client().call("user/revokeSession", { apiKeyId, sessionId });
      return { json: { apiKeyId, sessionId, revoked: true }, lines: [`revoked session ${sessionId}`] };
    },
  },
  {
    words: ["audit", "tail"],
    usage: "audit tail [--limit N] [--types TYPE[,TYPE...]] [--key API_KEY_ID] [--follow [--interval SECONDS]]",
    summary: "print the newest audit events, oldest first (--json: one event per line); --follow polls for more",
    args: [],
    options: {
      limit: { type: "string" },
      types: { type: "string" },
      key: { type: "string" },
      follow: { type: "boolean" },
      interval: { type: "string" },
    },
    run: async (ctx) => {
      const limit = nonNegativeInt(ctx.values, "limit", AUDIT_MAX_LIMIT) ?? 20;
      if (limit < 1) throw new UsageError(`--limit must be 1..${AUDIT_MAX_LIMIT}`);
      const intervalS = nonNegativeInt(ctx.values, "interval", 3600) ?? 2;
      const types = list(text(ctx.values, "types"));
      const apiKeyId = text(ctx.values, "key");
      const filter = { ...(types.length > 0 ? { types } : {}), ...(apiKeyId !== undefined ? { apiKeyId } : {}) };
      const print = (e: AuditEvent) => ctx.emit(ctx.json ? JSON.stringify(e) : auditLine(e));
      type Page = { events: AuditEvent[]; nextCursor?: string };
      const listEvents = (params: Record<string, unknown>) =>
        ctx.client().call<Page>("audit/listEvents", { ...filter, ...params });
      /** The newest `limit` events, oldest first. */
      const newest = async () => (await listEvents({ limit })).events.reverse();
      /** Every event at or after `from` (all pages), oldest first. */
      const since = async (from: number) => {
        const all: AuditEvent[] = [];
        let cursor: string | undefined;
        do {
          const page = await listEvents({ from, limit: AUDIT_MAX_LIMIT, ...(cursor !== undefined ? { cursor } : {}) });
          all.push(...page.events);
          cursor = page.nextCursor;
        } while (cursor !== undefined);
        return all.reverse();
      };
      // Events of the newest millisecond seen, so a poll from that time prints each event once.
      let last = 0;
      let seenAtLast = new Set<string>();
      const show = (events: AuditEvent[]) => {
        for (const e of events) {
          if (e.time < last || (e.time === last && seenAtLast.has(e.id))) continue;
          if (e.time > last) {
            last = e.time;
            seenAtLast = new Set();
          }
          seenAtLast.add(e.id);
          print(e);
        }
      };
      show(await newest());
      if (ctx.values.follow !== true) return undefined;
      for (;;) {
        await sleep(Math.max(1, intervalS) * 1000);
        show(await since(last));
      }
    },
  },
  {
    words: ["log", "verify"],
    usage: "log verify --key VERIFIER_KEY [--state FILE]   (or PMX_CLI_LOG_KEY)",
    summary:
      "check the transparency log against a pinned verifier key (and, with --state, that it extends the last run's)",
    args: [],
    options: { key: { type: "string" }, state: { type: "string" } },
    run: async (ctx) => {
      const key = text(ctx.values, "key") ?? ctx.logKey;
      if (key === undefined) throw new UsageError("log verify needs --key VERIFIER_KEY (or PMX_CLI_LOG_KEY)");
      const state = text(ctx.values, "state");
      const previous = state !== undefined ? readAuditState(state) : undefined;
      const client = ctx.client();
      const authorization = await client.authorization();
      // A key that does not parse, a signature that does not verify, a file the server will not give: all fail the check.
      const r = await auditLog(httpFetcher(client.url, authorization), key, previous).catch((err: unknown) => {
        throw err instanceof VerificationError ? err : new VerificationError((err as Error).message);
      });
      if (state !== undefined) writeAuditState(state, r.checkpoint);
      const { origin, size } = r.checkpoint;
      return {
        json: { ok: true, origin, size, ...(previous ? { previousSize: previous.size } : {}) },
        lines: [`OK: ${origin} size ${size}${previous ? `, extends size ${previous.size}` : ""}`],
      };
    },
  },
  {
    words: ["config", "print"],
    usage: "config print",
    summary: "print the effective server configuration from this environment, secrets masked",
    args: [],
    options: {},
    run: async (ctx) => {
      // Loaded only here: the other commands need none of the server's configuration.
      const { effectiveConfig }: typeof import("@pkiserver/server/config") = require("@pkiserver/server/config");
      const shown = effectiveConfig(ctx.serverEnv());
      const lines: string[] = [];
      flatten("", shown, lines);
      return { json: shown, lines };
    },
  },
];
