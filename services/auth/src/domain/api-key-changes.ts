import { scopesWithin } from "@pkiserver/kit/core";
import type { AuthDeps } from "./deps";
import { RevokeReason, type Session } from "./model";

/**
 * How far past an event's timestamp a session still counts as opened before
 * it: apikey and auth run on different clocks.
 */
export const CLOCK_SKEW_MS = 5000;

async function revokeMany(
  deps: AuthDeps,
  apiKeyId: string,
  reason: string,
  createdUpTo: number,
  select?: (s: Session) => boolean,
): Promise<Session[]> {
  const now = deps.clock.now();
  const revoked = await deps.sessions.revokeForKey(apiKeyId, reason, now, createdUpTo, select);
  for (const s of revoked) await deps.events.sessionRevoked(s, reason, now);
  return revoked;
}

/** A deleted key's sessions all end; a key id is never reused, so no session outlives it. */
export function onApiKeyDeleted(deps: AuthDeps, e: { apiKeyId: string }): Promise<Session[]> {
  return revokeMany(deps, e.apiKeyId, RevokeReason.apiKeyDeleted, Number.POSITIVE_INFINITY);
}

/**
 * A disabled key's sessions end; a narrowed key's sessions whose scope it no
 * longer covers end. Only sessions opened before the change are touched: ones
 * opened later were checked against the key as it was then, so replaying an
 * old event (a consumer starting from the beginning) revokes nothing it should
 * not. Nothing is ever revived. Handling an event twice is harmless.
 */
export function onApiKeyUpdated(
  deps: AuthDeps,
  e: { apiKeyId: string; enabled: boolean; maxScope: string[]; at: number },
): Promise<Session[]> {
  const createdUpTo = e.at + CLOCK_SKEW_MS;
  if (!e.enabled) return revokeMany(deps, e.apiKeyId, RevokeReason.apiKeyDisabled, createdUpTo);
  return revokeMany(
    deps,
    e.apiKeyId,
    RevokeReason.scopeNarrowed,
    createdUpTo,
    (s) => !scopesWithin(s.scope, e.maxScope),
  );
}
