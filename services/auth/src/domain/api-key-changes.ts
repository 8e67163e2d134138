import { scopesWithin } from "@pkiserver/kit/core";
import { credentialGenerationOf, type KeySessionSelection, RevokeReason, type Session } from "./entities";
import type { AuthDeps } from "./ports";
import { revokeSession } from "./sessions";

/**
 * How far past an event's timestamp a session still counts as opened before
 * it: apikey and auth run on different clocks.
 */
export const CLOCK_SKEW_MS = 5000;

async function revokeMany(
  deps: AuthDeps,
  apiKeyId: string,
  reason: string,
  which: KeySessionSelection,
): Promise<Session[]> {
  const now = deps.clock.now();
  const revoked = await deps.sessions.revokeForKey(apiKeyId, reason, now, which);
  for (const s of revoked) await deps.events.sessionRevoked(s, reason, now);
  return revoked;
}

/** A deleted key's sessions all end; a key id is never reused, so no session outlives it. */
export function onApiKeyDeleted(deps: AuthDeps, e: { apiKeyId: string }): Promise<Session[]> {
  return revokeMany(deps, e.apiKeyId, RevokeReason.apiKeyDeleted, { createdUpTo: Number.POSITIVE_INFINITY });
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
  if (!e.enabled) return revokeMany(deps, e.apiKeyId, RevokeReason.apiKeyDisabled, { createdUpTo });
  return revokeMany(deps, e.apiKeyId, RevokeReason.scopeNarrowed, {
    createdUpTo,
    select: (s) => !scopesWithin(s.scope, e.maxScope),
  });
}

/**
 * A rotation (API.md section 10). Sessions opened with a credential older
 * than the one just replaced end at once; those opened with the replaced one
 * are given its expiry, stored on each session, and end when it passes (at
 * once for a grace period of 0): the sweep of any replica, or the next
 * refresh or fork, ends them, also after a restart. Sessions opened with the
 * new credential are untouched. Handling the event again, or an older one,
 * changes nothing further.
 */
export async function onApiKeyRotated(
  deps: AuthDeps,
  e: { apiKeyId: string; credentialGeneration: number; previousCredentialExpiresAt: number },
): Promise<Session[]> {
  const previous = e.credentialGeneration - 1;
  const dropped = await revokeMany(deps, e.apiKeyId, RevokeReason.keyRotated, {
    createdUpTo: Number.POSITIVE_INFINITY,
    select: (s) => credentialGenerationOf(s) < previous,
  });
  await deps.sessions.limitCredential(e.apiKeyId, previous, e.previousCredentialExpiresAt, deps.clock.now());
  return [...dropped, ...(await endExpiredCredentials(deps))];
}

const SWEEP_BATCH = 256;

/** How often auth looks for sessions whose credential's grace period ended. */
export const CREDENTIAL_SWEEP_INTERVAL_MS = 500;

/** Revokes every live session whose key credential stopped working; returns those this call revoked. */
export async function endExpiredCredentials(deps: AuthDeps): Promise<Session[]> {
  const out: Session[] = [];
  for (;;) {
    const batch = await deps.sessions.listCredentialExpired(deps.clock.now(), SWEEP_BATCH);
    for (const s of batch) {
      const revoked = await revokeSession(deps, s.id, RevokeReason.keyRotated);
      if (revoked) out.push(revoked);
    }
    if (batch.length < SWEEP_BATCH) return out;
  }
}
