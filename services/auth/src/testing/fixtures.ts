import { createAccessTokenVerifier, type PublicSigningKey } from "@pkiserver/contract";
import { AppError, constantTimeEqual, SecretBox, SIGNATURE_WINDOW_MS, verifyEd25519, verifyHmac } from "@pkiserver/kit";
import {
  type ApiKeyInfo,
  type AuthSettings,
  MAX_SESSIONS_PER_KEY,
  maxAccessLifetime,
  type Session,
  type VerifiedApiKey,
} from "../domain/entities";
import type { ApiKeyVerifier, AuthDeps, AuthEvents } from "../domain/ports";
import { SigningKeyManager } from "../domain/signing-keys";
import { MemorySessionStore } from "../storage/memory-sessions";
import { MemorySigningKeyStore } from "../storage/memory-signing-keys";

/*
 * Test doubles shared by this package's unit tests. The API-key fake checks
 * credentials with the kit's real signature helpers, as apikey does.
 */

export interface FakeKey {
  apiKeyId: string;
  enabled: boolean;
  maxScope: string[];
  secret?: string;
  publicKeyPem?: string;
  /** Generation of the newest credential (absent: 0). */
  generation?: number;
  /** The secret a rotation replaced, and when it stops working. */
  previousSecret?: string;
  previousExpiresAt?: number;
}

export class FakeApiKeys implements ApiKeyVerifier {
  readonly keys = new Map<string, FakeKey>();
  private readonly nonces = new Set<string>();

  constructor(private readonly now: () => number) {}

  add(key: FakeKey): FakeKey {
    this.keys.set(key.apiKeyId, key);
    return key;
  }

  /** Gives a secret key a new secret, as apikey's rotation does; the old one works for `graceMs`. */
  rotate(apiKeyId: string, secret: string, graceMs: number): void {
    const k = this.keys.get(apiKeyId);
    if (!k || k.secret === undefined) throw new Error(`no secret key ${apiKeyId}`);
    k.previousSecret = k.secret;
    k.previousExpiresAt = this.now() + graceMs;
    k.secret = secret;
    k.generation = (k.generation ?? 0) + 1;
  }

  private info(k: FakeKey): ApiKeyInfo {
    const previousWorks = k.previousExpiresAt !== undefined && this.now() < k.previousExpiresAt;
    return {
      apiKeyId: k.apiKeyId,
      enabled: k.enabled,
      maxScope: [...k.maxScope],
      credentialGeneration: k.generation ?? 0,
      ...(previousWorks ? { previousCredentialExpiresAt: k.previousExpiresAt } : {}),
    };
  }

  async verifySecret(apiKeyId: string, secret: string): Promise<VerifiedApiKey> {
    const k = this.keys.get(apiKeyId);
    if (!k) throw new AppError("apikey.not_found");
    const generation = k.generation ?? 0;
    if (k.enabled && k.secret !== undefined && constantTimeEqual(k.secret, secret)) {
      return { ...this.info(k), matchedGeneration: generation };
    }
    const previousWorks = k.previousExpiresAt !== undefined && this.now() < k.previousExpiresAt;
    if (k.enabled && previousWorks && k.previousSecret !== undefined && constantTimeEqual(k.previousSecret, secret)) {
      return { ...this.info(k), matchedGeneration: generation - 1 };
    }
    throw new AppError("auth.invalid_credentials");
  }

  async verifySignature(input: {
    apiKeyId: string;
    timestamp: number;
    nonce: string;
    payload: Uint8Array;
    signature: string;
  }): Promise<VerifiedApiKey> {
    const k = this.keys.get(input.apiKeyId);
    if (!k) throw new AppError("apikey.not_found");
    const payload = Buffer.from(input.payload);
    const ok =
      k.publicKeyPem !== undefined
        ? verifyEd25519(k.publicKeyPem, payload, input.signature)
        : k.secret !== undefined && verifyHmac(k.secret, payload, input.signature);
    const fresh = Math.abs(this.now() - input.timestamp) <= SIGNATURE_WINDOW_MS;
    const nonceKey = `${k.apiKeyId}\n${input.nonce}`;
    if (!k.enabled || !ok || !fresh || this.nonces.has(nonceKey)) throw new AppError("auth.invalid_credentials");
    this.nonces.add(nonceKey);
    return { ...this.info(k), matchedGeneration: k.generation ?? 0 };
  }

  async getApiKey(apiKeyId: string): Promise<ApiKeyInfo | undefined> {
    const k = this.keys.get(apiKeyId);
    return k && this.info(k);
  }
}

export type RecordedEvent =
  | { type: "opened"; session: Session }
  | { type: "rotated"; session: Session }
  | { type: "revoked"; session: Session; reason: string }
  | { type: "signingKey"; key: PublicSigningKey };

export class RecordingEvents implements AuthEvents {
  readonly log: RecordedEvent[] = [];
  async sessionOpened(session: Session): Promise<void> {
    this.log.push({ type: "opened", session });
  }
  async sessionRotated(session: Session): Promise<void> {
    this.log.push({ type: "rotated", session });
  }
  async sessionRevoked(session: Session, reason: string): Promise<void> {
    this.log.push({ type: "revoked", session, reason });
  }
  async signingKeyRotated(key: PublicSigningKey): Promise<void> {
    this.log.push({ type: "signingKey", key });
  }
  revoked(): { id: string; reason: string }[] {
    return this.log.flatMap((e) => (e.type === "revoked" ? [{ id: e.session.id, reason: e.reason }] : []));
  }
}

export class ManualClock {
  constructor(public t = 1_750_000_000_000) {}
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export const SECRET = "myverylongandsecuresecretforapikey";
export const ALL = ["user:read", "user:write", "pki:read", "pki:write", "pkiadmin:read", "pkiadmin:write"];

export interface Harness {
  deps: AuthDeps;
  clock: ManualClock;
  apikeys: FakeApiKeys;
  events: RecordingEvents;
  sessions: MemorySessionStore;
}

/** Use-case dependencies over memory stores, a manual clock and a fake apikey. */
export async function harness(over: Partial<AuthSettings> = {}): Promise<Harness> {
  const clock = new ManualClock();
  const settings: AuthSettings = {
    accessTokenLifetimeMs: 900_000,
    refreshTokenLifetimeMs: 604_800_000,
    signingKeyRotationMs: 86_400_000,
    maxSessionsPerKey: MAX_SESSIONS_PER_KEY,
    ...over,
  };
  const events = new RecordingEvents();
  const sessions = new MemorySessionStore();
  const keys = new SigningKeyManager(new MemorySigningKeyStore(), SecretBox.ephemeral(), clock, events, {
    rotationMs: settings.signingKeyRotationMs,
    maxAccessLifetimeMs: maxAccessLifetime(settings),
  });
  const verifier = createAccessTokenVerifier({
    now: clock.now,
    fetchKeys: () => keys.publicKeys(),
    refetchIntervalMs: 0,
  });
  const apikeys = new FakeApiKeys(clock.now);
  apikeys.add({ apiKeyId: "key-one", enabled: true, maxScope: [...ALL], secret: SECRET });
  return { deps: { sessions, keys, verifier, apikeys, events, clock, settings }, clock, apikeys, events, sessions };
}
