import { accessTokensExpireAt, type CapMark, maxAccessLifetime } from "./entities";
import type { AuthDeps } from "./ports";

export interface Revocations {
  revoked: { sessionId: string; apiKeyId: string; revokedAt: number; tokensExpireAt: number }[];
  generations: { sessionId: string; apiKeyId: string; generation: number; tokensExpireAt: number }[];
  maxAccessTokenLifetimeMs: number;
  capMarks: CapMark[];
}

/**
 * What a starting gateway must know to refuse every access token that still
 * looks valid: sessions revoked, and the generation of sessions rotated, since
 * the oldest instant an unexpired access token can have been issued; each
 * with the time its last token expires, after which it can be forgotten. And
 * the longest an access token lives, for how long a key change matters.
 * Sessions the per-key cap closed are not listed one by one: each key's cap
 * mark covers every session of it the cap closed.
 */
export async function listRevocations(deps: AuthDeps): Promise<Revocations> {
  const now = deps.clock.now();
  const since = now - maxAccessLifetime(deps.settings);
  const [revoked, rotated, capMarks] = await Promise.all([
    deps.sessions.listRevokedSince(since),
    deps.sessions.listRotatedSince(since),
    deps.sessions.listCapMarks(now),
  ]);
  return {
    revoked: revoked
      .filter((s) => accessTokensExpireAt(s) > now)
      .map((s) => ({
        sessionId: s.id,
        apiKeyId: s.apiKeyId,
        revokedAt: s.revokedAt ?? 0,
        tokensExpireAt: accessTokensExpireAt(s),
      })),
    generations: rotated
      .filter((s) => accessTokensExpireAt(s) > now)
      .map((s) => ({
        sessionId: s.id,
        apiKeyId: s.apiKeyId,
        generation: s.generation,
        tokensExpireAt: accessTokensExpireAt(s),
      })),
    maxAccessTokenLifetimeMs: maxAccessLifetime(deps.settings),
    capMarks,
  };
}
