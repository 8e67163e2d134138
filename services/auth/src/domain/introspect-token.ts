import type { AccessTokenClaims } from "@pkiserver/contract";
import { AppError } from "@pkiserver/kit/core";
import type { AuthDeps } from "./ports";

/** Verifies an access token and checks its session is neither revoked nor rotated past it. */
export async function introspectToken(deps: AuthDeps, accessToken: string): Promise<AccessTokenClaims> {
  const claims = await deps.verifier.verify(accessToken);
  const session = await deps.sessions.get(claims.sessionId);
  if (!session || session.apiKeyId !== claims.apiKeyId) throw new AppError("auth.token_expired");
  if (session.revokedAt !== undefined || session.generation !== claims.generation) {
    throw new AppError("auth.token_expired");
  }
  return claims;
}
