import { AppError, constantTimeEqual, normaliseIp, type Scope, scopesWithin } from "@pkiserver/kit/core";
import { credentialGenerationOf, isLive, RevokeReason, type Session, type TokenPair } from "./entities";
import type { AuthDeps } from "./ports";
import { newRefreshToken, newSessionId, parseRefreshToken } from "./refresh-token";

export interface SessionSpec {
  apiKeyId: string;
  name?: string | undefined;
  scope: Scope[];
  ipAddr?: string | undefined;
  accessLifetime: number;
  /** The family a fork joins; a grant's session starts a family of its own. */
  familyId?: string | undefined;
  /** Generation of the key credential the session was opened with (a fork: its source's). */
  credentialGeneration?: number | undefined;
  /** When that credential stops working, if it was already rotated away. */
  credentialExpiresAt?: number | undefined;
}

/** Tries to open a session above the key's cap mark this many times before giving up. */
const OPEN_ATTEMPTS = 4;

/** Opens a session (closing what it replaces or pushes over the cap) and issues its first pair. */
export async function openSession(deps: AuthDeps, spec: SessionSpec): Promise<TokenPair> {
  for (let attempt = 1; ; attempt++) {
    const now = deps.clock.now();
    const opened = await tryOpen(deps, spec, now);
    if (opened) return issuePair(deps, opened.session, opened.refreshToken, now);
    // Another replica's cap raised the mark past the new session first: open another above it.
    if (attempt >= OPEN_ATTEMPTS) {
      throw new AppError("rpc.unavailable", { internal: "could not open a session above the key's cap mark" });
    }
  }
}

/**
 * Stores a new session; undefined when the store closed it at once because it
 * fell at or before the key's cap mark (its tokens were never issued).
 */
async function tryOpen(
  deps: AuthDeps,
  spec: SessionSpec,
  now: number,
): Promise<{ session: Session; refreshToken: string } | undefined> {
  const id = newSessionId();
  const refresh = newRefreshToken(id);
  // The store closes the oldest sessions by createdAt. A session opened after
  // another, within its millisecond or on a replica whose clock is behind, must
  // still count as the newer one, or it would be the one its name or the cap
  // closes; and it must be above the key's cap mark (every session at or
  // before it is closed), even when every session of the key has been closed.
  const [newest, mark] = await Promise.all([
    deps.sessions.newestCreatedAt(spec.apiKeyId, now),
    deps.sessions.capMark(spec.apiKeyId),
  ]);
  const session: Session = {
    id,
    apiKeyId: spec.apiKeyId,
    familyId: spec.familyId ?? id,
    ...(spec.name === undefined ? {} : { name: spec.name }),
    scope: spec.scope,
    ...(spec.ipAddr === undefined ? {} : { ipAddr: spec.ipAddr }),
    accessLifetime: spec.accessLifetime,
    createdAt: Math.max(
      now,
      (newest ?? Number.NEGATIVE_INFINITY) + 1,
      (mark?.createdAt ?? Number.NEGATIVE_INFINITY) + 1,
    ),
    expiresAt: now + deps.settings.refreshTokenLifetimeMs,
    generation: 0,
    refreshHash: refresh.hash,
    ...(spec.credentialGeneration === undefined ? {} : { credentialGeneration: spec.credentialGeneration }),
    ...(spec.credentialExpiresAt === undefined ? {} : { credentialExpiresAt: spec.credentialExpiresAt }),
  };
  const closed = await deps.sessions.open(session, deps.settings.maxSessionsPerKey, now);
  const refused = closed.some((c) => c.id === id);
  // Published together: an outbox stores events accepted at once in one write.
  await Promise.all([
    ...(refused ? [] : [deps.events.sessionOpened(session, now)]),
    ...closed
      .filter((c) => c.id !== id)
      .map((c) => deps.events.sessionRevoked(c, c.revokeReason ?? RevokeReason.sessionLimit, now)),
  ]);
  return refused ? undefined : { session, refreshToken: refresh.token };
}

/** Signs an access token for the session's current generation and pairs it with `refreshToken`. */
export async function issuePair(
  deps: AuthDeps,
  session: Session,
  refreshToken: string,
  now: number,
): Promise<TokenPair> {
  const accessToken = await deps.signer.sign(
    {
      apiKeyId: session.apiKeyId,
      sessionId: session.id,
      generation: session.generation,
      scope: session.scope,
      ...(session.ipAddr === undefined ? {} : { ipAddr: session.ipAddr }),
      issuedAt: now,
      expiresAt: now + session.accessLifetime,
      sessionCreatedAt: session.createdAt,
    },
    await deps.keys.signer(),
    deps.settings.tokenIdentity,
  );
  return {
    accessToken,
    accessTokenExpiresIn: session.accessLifetime,
    refreshToken,
    refreshTokenExpiresIn: Math.max(0, session.expiresAt - now),
    tokenType: "Bearer",
    scope: session.scope,
    ...(session.name === undefined ? {} : { sessionName: session.name }),
    sessionId: session.id,
    apiKeyId: session.apiKeyId,
    generation: session.generation,
  };
}

/** Revokes a session and reports it when this call is the one that revoked it. */
export async function revokeSession(deps: AuthDeps, id: string, reason: string): Promise<Session | undefined> {
  const now = deps.clock.now();
  const revoked = await deps.sessions.revoke(id, reason, now);
  if (revoked) await deps.events.sessionRevoked(revoked, reason, now);
  return revoked;
}

/** Revokes every live session of a family and reports each one this call revoked. */
export async function revokeFamily(deps: AuthDeps, familyId: string, reason: string): Promise<Session[]> {
  const now = deps.clock.now();
  const revoked = await deps.sessions.revokeFamily(familyId, reason, now);
  for (const s of revoked) await deps.events.sessionRevoked(s, reason, now);
  return revoked;
}

/**
 * Finds the live session a presented refresh token belongs to. A token that is
 * not ours (bad format, unknown session, unknown hash) is `76`; one of a
 * revoked or expired session is `75`; one already rotated away is theft: the
 * session's whole family (the grant's session and every fork, at any depth)
 * is revoked and the answer is `75`. A session bound to an IP accepts its
 * token only from that IP (`76` otherwise).
 */
export async function presentedSession(
  deps: AuthDeps,
  refreshToken: string,
  clientIp: string,
): Promise<{ session: Session; hash: string }> {
  const parsed = parseRefreshToken(refreshToken);
  if (!parsed) throw new AppError("auth.token_invalid");
  const session = await deps.sessions.get(parsed.sessionId);
  if (!session) throw new AppError("auth.token_invalid");
  if (!constantTimeEqual(session.refreshHash, parsed.hash)) {
    if (!(await deps.sessions.wasSpent(session.id, parsed.hash))) throw new AppError("auth.token_invalid");
    await revokeFamily(deps, session.familyId, RevokeReason.reuse);
    throw new AppError("auth.token_expired");
  }
  if (!isLive(session, deps.clock.now())) throw new AppError("auth.token_expired");
  if (session.ipAddr !== undefined && normaliseIp(clientIp) !== session.ipAddr) {
    throw new AppError("auth.token_invalid", { internal: "refresh token presented from another IP" });
  }
  return { session, hash: parsed.hash };
}

/** What of a session the key is checked against. */
type SessionCredential = Pick<Session, "apiKeyId" | "scope" | "credentialGeneration" | "credentialExpiresAt">;

/**
 * Why the key no longer allows the session; undefined when it does. A session
 * opened with the credential a rotation replaced lives while that credential
 * works: it is given the credential's expiry here when it does not have it
 * yet (it was opened while the rotation's event was being handled).
 */
async function keyRefusal(deps: AuthDeps, session: SessionCredential): Promise<RevokeReason | undefined> {
  const now = deps.clock.now();
  if (session.credentialExpiresAt !== undefined && session.credentialExpiresAt <= now) return RevokeReason.keyRotated;
  const key = await deps.apikeys.getApiKey(session.apiKeyId);
  if (!key) return RevokeReason.apiKeyDeleted;
  if (!key.enabled) return RevokeReason.apiKeyDisabled;
  if (!scopesWithin(session.scope, key.maxScope)) return RevokeReason.scopeNarrowed;
  const opened = credentialGenerationOf(session);
  const newest = key.credentialGeneration ?? 0;
  if (opened < newest) {
    const until = key.previousCredentialExpiresAt;
    if (opened < newest - 1 || until === undefined || until <= now) return RevokeReason.keyRotated;
    if (session.credentialExpiresAt === undefined || session.credentialExpiresAt > until) {
      await deps.sessions.limitCredential(session.apiKeyId, opened, until, now);
    }
  }
  return undefined;
}

/**
 * Checks that the session's key still exists, is enabled, still covers the
 * session's scope and still accepts the credential that opened it; otherwise
 * the session is revoked and the answer is `75`. (The apikey events and the
 * credential sweep do the same asynchronously; this closes the gap.)
 */
export async function recheckApiKey(deps: AuthDeps, session: Session): Promise<void> {
  const reason = await keyRefusal(deps, session);
  if (reason !== undefined) {
    await revokeSession(deps, session.id, reason);
    throw new AppError("auth.token_expired");
  }
}

/**
 * Reads the key again once a new session is stored, and revokes the session
 * when the key no longer allows it; returns why, or undefined. A change made
 * after the key was checked may have had its event handled before the session
 * existed, so that event revoked nothing, and the gateway accepts tokens issued
 * after a change. Read after the store write, the key either shows the change
 * or the change's event has yet to run and will find the session.
 */
export async function revokeIfKeyChanged(
  deps: AuthDeps,
  pair: TokenPair,
  credential: Pick<Session, "credentialGeneration" | "credentialExpiresAt"> = {},
): Promise<RevokeReason | undefined> {
  const reason = await keyRefusal(deps, { apiKeyId: pair.apiKeyId, scope: pair.scope, ...credential });
  if (reason !== undefined) await revokeSession(deps, pair.sessionId, reason);
  return reason;
}
