import { atOrBeforeMark, type CapMark, type TokenIdentity } from "@pkiserver/contract";
import type { Scope } from "@pkiserver/kit/core";

/** A session: one chain of refresh tokens and the access tokens issued along it. */
export interface Session {
  id: string;
  apiKeyId: string;
  /**
   * The session a grant opened and every session forked from it, at any
   * depth, share one family id (the grant's session id). Reuse of a spent
   * refresh token of any of them revokes them all.
   */
  familyId: string;
  name?: string | undefined;
  /** Expanded base scopes granted to the session. */
  scope: Scope[];
  /** Normalised client IP the session's tokens are bound to. */
  ipAddr?: string | undefined;
  /** Lifetime of each access token issued for the session, ms. */
  accessLifetime: number;
  createdAt: number;
  /** Slides to now + refresh lifetime on each rotation. */
  expiresAt: number;
  /** Incremented on each rotation; access tokens of older generations are refused. */
  generation: number;
  /**
   * SHA-256 (base64url) of the one refresh token that may rotate the session
   * now. Tokens rotated away are kept apart (the store's spent hashes), so a
   * session does not grow with its number of rotations.
   */
  refreshHash: string;
  rotatedAt?: number | undefined;
  revokedAt?: number | undefined;
  revokeReason?: string | undefined;
  /**
   * Generation of the API-key credential that opened the session (forks
   * inherit it); absent reads as 0, the credential of a key never rotated.
   */
  credentialGeneration?: number | undefined;
  /**
   * When that credential stops working because the key was rotated: the
   * session is revoked then. Absent while it is the key's newest credential.
   */
  credentialExpiresAt?: number | undefined;
}

export function credentialGenerationOf(s: Pick<Session, "credentialGeneration">): number {
  return s.credentialGeneration ?? 0;
}

/** Which live sessions of a key a revocation takes: those opened at or before `createdUpTo` that `select` picks (all when absent). */
export interface KeySessionSelection {
  readonly createdUpTo: number;
  readonly select?: ((s: Session) => boolean) | undefined;
}

/** Whether a revocation of `which` sessions of its key takes `s` (`select` may read `s`, never change it). */
export function isSelected(s: Session, which: KeySessionSelection): boolean {
  return s.createdAt <= which.createdUpTo && (which.select === undefined || which.select(s));
}

/**
 * Whether limiting the credentials of generation `upToGeneration` or older to
 * `expiresAt` shortens the life of `s` (one that already expires earlier is left).
 */
export function credentialLimitShortens(s: Session, upToGeneration: number, expiresAt: number): boolean {
  return (
    credentialGenerationOf(s) <= upToGeneration &&
    (s.credentialExpiresAt === undefined || s.credentialExpiresAt > expiresAt)
  );
}

/** What auth needs to know about an API key. */
export interface ApiKeyInfo {
  apiKeyId: string;
  enabled: boolean;
  maxScope: string[];
  /** Generation of the key's newest credential (absent: 0). */
  credentialGeneration?: number | undefined;
  /** While the previous credential (generation - 1) still works: when it stops. */
  previousCredentialExpiresAt?: number | undefined;
}

/** A key whose credential was just checked, and which of its credentials matched. */
export interface VerifiedApiKey extends ApiKeyInfo {
  matchedGeneration: number;
}

/** A freshly issued token pair, as the transports return it. */
export interface TokenPair {
  accessToken: string;
  accessTokenExpiresIn: number;
  refreshToken: string;
  refreshTokenExpiresIn: number;
  tokenType: "Bearer";
  scope: Scope[];
  sessionName?: string | undefined;
  sessionId: string;
  apiKeyId: string;
  generation: number;
}

export interface AuthSettings {
  accessTokenLifetimeMs: number;
  refreshTokenLifetimeMs: number;
  signingKeyRotationMs: number;
  /** Live sessions one API key may hold; opening one more closes the oldest. */
  maxSessionsPerKey: number;
  /** `iss` and `aud` of access tokens; the codec's defaults when absent. */
  tokenIdentity?: TokenIdentity | undefined;
}

/**
 * The longest an access token can live: `expiresIn:` may ask for up to the
 * refresh lifetime. Signing keys keep verifying, and revocations are listed,
 * for this long.
 */
export function maxAccessLifetime(s: AuthSettings): number {
  return Math.max(s.accessTokenLifetimeMs, s.refreshTokenLifetimeMs);
}

export const MAX_SESSIONS_PER_KEY = 16;

/** Reasons recorded on revoked sessions and carried by `sessionRevoked` events. */
export const RevokeReason = {
  replaced: "replaced_by_named_session",
  sessionLimit: "session_limit",
  reuse: "refresh_token_reused",
  apiKeyDeleted: "api_key_deleted",
  apiKeyDisabled: "api_key_disabled",
  scopeNarrowed: "api_key_scope_narrowed",
  requested: "revoked_by_request",
  /** The credential that opened the session was rotated away and its grace period is over. */
  keyRotated: "key_rotated",
} as const;
export type RevokeReason = (typeof RevokeReason)[keyof typeof RevokeReason];

export function isLive(s: Session, now: number): boolean {
  return s.revokedAt === undefined && s.expiresAt > now;
}

/**
 * When the last access token issued for the session (any generation) expires:
 * tokens are issued when it opens (at or before createdAt) and at each
 * rotation (at rotatedAt), each living accessLifetime.
 */
export function accessTokensExpireAt(s: Session): number {
  return Math.max(s.createdAt, s.rotatedAt ?? s.createdAt) + s.accessLifetime;
}

/**
 * A key's cap mark (the contract's, as verifiers keep it): the newest session
 * the per-key cap of live sessions closed. The cap closes a key's oldest
 * sessions, so every session of the key at or before the mark is closed, and
 * a store keeps no live session there.
 */
export type { CapMark };

/** Whether session `s` is at or before the mark: createdAt, then id (string order). */
export function coveredByMark(s: Pick<Session, "createdAt" | "id">, mark: Pick<CapMark, "createdAt" | "sessionId">) {
  return atOrBeforeMark(s.createdAt, s.id, mark);
}

/** Newest first: createdAt, then id, so every replica orders sessions alike. */
export function newestFirst(a: Session, b: Session): number {
  if (a.createdAt !== b.createdAt) return b.createdAt - a.createdAt;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}
