import type { AccessTokenClaims, PublicSigningKey } from "@pkiserver/contract";
import type { authV1 } from "@pkiserver/proto";
import type { Session, TokenPair } from "../../domain/entities";

export function tokenPairToProto(t: TokenPair): authV1.TokenPair {
  return {
    accessToken: t.accessToken,
    accessTokenExpiresIn: t.accessTokenExpiresIn,
    refreshToken: t.refreshToken,
    refreshTokenExpiresIn: t.refreshTokenExpiresIn,
    tokenType: t.tokenType,
    scope: t.scope,
    ...(t.sessionName === undefined ? {} : { sessionName: t.sessionName }),
    sessionId: t.sessionId,
    apiKeyId: t.apiKeyId,
    generation: t.generation,
  };
}

export function sessionToProto(s: Session): authV1.Session {
  return {
    sessionId: s.id,
    apiKeyId: s.apiKeyId,
    ...(s.name === undefined ? {} : { name: s.name }),
    scope: s.scope,
    ...(s.ipAddr === undefined ? {} : { ipAddr: s.ipAddr }),
    createdAt: s.createdAt,
    expiresAt: s.expiresAt,
    generation: s.generation,
  };
}

export function claimsToProto(c: AccessTokenClaims): authV1.AccessTokenClaims {
  return {
    apiKeyId: c.apiKeyId,
    sessionId: c.sessionId,
    generation: c.generation,
    scope: c.scope,
    ...(c.ipAddr === undefined ? {} : { ipAddr: c.ipAddr }),
    expiresAt: c.expiresAt,
    issuedAt: c.issuedAt,
  };
}

export function signingKeyToProto(k: PublicSigningKey): authV1.SigningKey {
  return { kid: k.kid, publicJwk: k.publicJwk, createdAt: k.createdAt, verifyUntil: k.verifyUntil };
}
