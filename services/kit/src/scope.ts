import { isIP } from "node:net";
import { AppError, invalidParams } from "./errors";

/*
 * The scope grammar of the public contract (API.md section 4). It lives in the
 * kit because the gateway (method scopes), apikey (maxScope) and auth (token
 * requests) must read scope strings identically.
 */

export const SCOPE_AREAS = ["user", "pki", "pkiadmin", "audit"] as const;
export type ScopeArea = (typeof SCOPE_AREAS)[number];
export type Scope = `${ScopeArea}:${"read" | "write"}`;

export const ALL_SCOPES: readonly Scope[] = SCOPE_AREAS.flatMap((a) => [`${a}:read`, `${a}:write`] as Scope[]);

export interface ScopeRequest {
  /** Expanded base scopes, in catalogue order. */
  scopes: Scope[];
  sessionName?: string;
  ipAddr?: string;
  expiresIn?: number;
}

const AREA_RE = /^(user|pki|pkiadmin|audit):(read|write|read_write)$/;

/** Expands one base scope string (`user:read_write` → both); undefined if not one. */
export function expandScope(s: string): Scope[] | undefined {
  const m = AREA_RE.exec(s);
  if (!m) return undefined;
  const area = m[1] as ScopeArea;
  return m[2] === "read_write" ? [`${area}:read`, `${area}:write`] : [`${area}:${m[2] as "read" | "write"}`];
}

function sortScopes(set: Set<Scope>): Scope[] {
  return ALL_SCOPES.filter((s) => set.has(s));
}

/**
 * Parses a scope list. Modifiers (`session:`, `ipAddr:`, `expiresIn:`) are
 * accepted only when `allowModifiers`; anything unknown is `-32602` naming
 * the field and index.
 */
export function parseScopes(list: readonly string[], field: string, allowModifiers: boolean): ScopeRequest {
  const scopes = new Set<Scope>();
  const out: ScopeRequest = { scopes: [] };
  list.forEach((raw, i) => {
    const where = `${field} -> ${i} -> `;
    const base = expandScope(raw);
    if (base) {
      for (const s of base) scopes.add(s);
      return;
    }
    const colon = raw.indexOf(":");
    const name = colon < 0 ? raw : raw.slice(0, colon);
    const value = colon < 0 ? "" : raw.slice(colon + 1);
    if (name === "session" || name === "ipAddr" || name === "expiresIn") {
      if (!allowModifiers) throw invalidParams(`${where}Modifier '${name}' is not allowed here`);
      if (name === "session") {
        if (out.sessionName !== undefined) throw invalidParams(`${where}Duplicated modifier 'session'`);
        if (value.length < 1 || value.length > 128) throw invalidParams(`${where}Invalid session name`);
        out.sessionName = value;
      } else if (name === "ipAddr") {
        if (out.ipAddr !== undefined) throw invalidParams(`${where}Duplicated modifier 'ipAddr'`);
        if (isIP(value) === 0) throw invalidParams(`${where}Invalid IP address`);
        out.ipAddr = value;
      } else {
        if (out.expiresIn !== undefined) throw invalidParams(`${where}Duplicated modifier 'expiresIn'`);
        if (!/^[1-9][0-9]{0,15}$/.test(value)) throw invalidParams(`${where}Invalid expiresIn value`);
        out.expiresIn = Number(value);
      }
      return;
    }
    throw invalidParams(`${where}Unknown scope '${raw.length > 64 ? `${raw.slice(0, 64)}…` : raw}'`);
  });
  out.scopes = sortScopes(scopes);
  return out;
}

/** Expanded, de-duplicated base scopes of a list already known to be valid. */
export function normaliseScopes(list: readonly string[]): Scope[] {
  const set = new Set<Scope>();
  for (const s of list) for (const x of expandScope(s) ?? []) set.add(x);
  return sortScopes(set);
}

/** True when every scope of `requested` is held by `held` (both may use read_write). */
export function scopesWithin(requested: readonly string[], held: readonly string[]): boolean {
  const h = new Set(normaliseScopes(held));
  return normaliseScopes(requested).every((s) => h.has(s));
}

/** Throws `73` unless `requested` is within `held`. */
export function assertScopesWithin(requested: readonly string[], held: readonly string[]): void {
  if (!scopesWithin(requested, held)) throw new AppError("auth.insufficient_scope");
}
