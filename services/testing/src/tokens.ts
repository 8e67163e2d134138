import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { signAccessToken, TOKEN_AUDIENCE, TOKEN_ISSUER, tokenChecks } from "@pkiserver/contract";
import type { Caller, CallOptions } from "@pkiserver/kit";

const IDENTITY = { issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE };

function ed25519(kid: string): { kid: string; privateKey: KeyObject; publicJwk: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { kid, privateKey, publicJwk: JSON.stringify(publicKey.export({ format: "jwk" })) };
}

/**
 * The service side of Bearer authentication as a service runs it (the
 * contract's verifier and revocation cache), on a signing key of the test's
 * own instead of auth's, and tokens signed with it (or with a key the service
 * does not know).
 */
export function testTokens() {
  const key = ed25519("test-key");
  const stranger = ed25519("test-key");
  const signingKey = { kid: key.kid, publicJwk: key.publicJwk, createdAt: 0, verifyUntil: 0 };
  const checks = tokenChecks(IDENTITY)({ getSigningKeys: async () => ({ keys: [signingKey] }) });
  checks.verifier.setKeys([signingKey]);
  checks.cache.loadSnapshot({ revoked: [], generations: [] });
  let sessions = 0;
  const sign = async (
    scope: readonly string[],
    opts: { lifetimeMs?: number; forged?: boolean; apiKeyId?: string } = {},
  ): Promise<{ token: string; sessionId: string; caller: Caller }> => {
    const now = Date.now();
    const sessionId = `session-${++sessions}`;
    const signer = opts.forged ? stranger : key;
    const token = await signAccessToken(
      {
        apiKeyId: opts.apiKeyId ?? "caller-key",
        sessionId,
        generation: 0,
        scope: [...scope],
        issuedAt: now - 1000,
        expiresAt: now + (opts.lifetimeMs ?? 60_000),
      },
      { kid: signer.kid, privateKey: signer.privateKey },
      IDENTITY,
    );
    return { token, sessionId, caller: { apiKeyId: opts.apiKeyId ?? "caller-key", scopes: [...scope], token } };
  };
  return { tokens: checks.bearer, revocations: checks.cache, sign };
}

/** A channel whose every call is made as `caller` (its token sent as a Bearer credential). */
export function callingAs<C extends { client: object }>(channel: C, caller: Caller): C {
  const client = new Proxy(channel.client, {
    get: (target, name) => {
      const method = Reflect.get(target, name) as unknown;
      if (typeof method !== "function") return method;
      return (req: unknown, opts: CallOptions = {}) =>
        (method as (req: unknown, opts: CallOptions) => Promise<unknown>).call(target, req, { caller, ...opts });
    },
  });
  return { ...channel, client };
}

/** Every scope a key can hold, for a test caller allowed everything. */
export const EVERY_SCOPE = ["user:read_write", "pki:read_write", "pkiadmin:read_write", "audit:read_write"];
