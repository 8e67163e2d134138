import type { AuthDeps } from "./deps";
import { maxAccessLifetime } from "./model";

export interface Revocations {
  revoked: { sessionId: string; apiKeyId: string; revokedAt: number }[];
  generations: { sessionId: string; generation: number }[];
}

/**
 * What a starting gateway must know to refuse every access token that still
 * looks valid: sessions revoked, and the generation of sessions rotated, since
 * the oldest instant an unexpired access token can have been issued.
 */
export async function listRevocations(deps: AuthDeps): Promise<Revocations> {
  const since = deps.clock.now() - maxAccessLifetime(deps.settings);
  const [revoked, rotated] = await Promise.all([
    deps.sessions.listRevokedSince(since),
    deps.sessions.listRotatedSince(since),
  ]);
  return {
    revoked: revoked.map((s) => ({ sessionId: s.id, apiKeyId: s.apiKeyId, revokedAt: s.revokedAt ?? 0 })),
    generations: rotated.map((s) => ({ sessionId: s.id, generation: s.generation })),
  };
}
