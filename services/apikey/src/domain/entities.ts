import { fields } from "@pkiserver/contract";
import { randomBase64url, randomHex, type Scope } from "@pkiserver/kit/core";

/** At most this many keys exist at once (API.md section 6, `user/`). */
export const MAX_API_KEYS = 10;

/** Ids are 3..128 characters on the wire; anything else cannot name a key, so stores are not asked. */
export function isPlausibleApiKeyId(id: string): boolean {
  return id.length >= 3 && id.length <= 128;
}

export type ApiKeyType = "secret" | "pubKey";

/** The gateway's rate-limit tiers (API.md section 9). */
export const RATE_LIMIT_TIERS = fields.RATE_LIMIT_TIERS;
export type RateLimitTier = (typeof RATE_LIMIT_TIERS)[number];
/** A key's own requests-per-minute limits; tiers left out follow the gateway's defaults. */
export type KeyRateLimits = Partial<Record<RateLimitTier, number>>;

/** A key as stored. The secret is only ever held sealed, bound to the key id. */
export interface ApiKeyRecord {
  readonly id: string;
  readonly name: string;
  readonly enabled: boolean;
  readonly maxScope: readonly Scope[];
  readonly type: ApiKeyType;
  /** SecretBox output with the key id as associated data; secret keys only. */
  readonly sealedSecret?: string;
  /** Normalised SPKI PEM of the Ed25519 public key; public-key keys only. */
  readonly clientPublicKey?: string;
  readonly createDate: number;
  /**
   * Counts the key's rotations: the generation of its newest credential
   * (absent on keys never rotated, which read as 0). Sessions remember the
   * generation of the credential that opened them.
   */
  readonly credentialGeneration?: number;
  /**
   * The credential a rotation replaced (generation - 1), sealed like the
   * newest one; it works until `previousCredentialExpiresAt` (exclusive).
   */
  readonly previousSealedSecret?: string;
  readonly previousClientPublicKey?: string;
  readonly previousCredentialExpiresAt?: number;
  /** The key's own rate limits; absent when it has none. */
  readonly rateLimits?: KeyRateLimits;
}

/** The generation of a key's newest credential. */
export function credentialGenerationOf(r: ApiKeyRecord): number {
  return r.credentialGeneration ?? 0;
}

/** Whether the key's previous credential still works at `now`. */
export function previousCredentialWorks(r: ApiKeyRecord, now: number): boolean {
  return r.previousCredentialExpiresAt !== undefined && now < r.previousCredentialExpiresAt;
}

/** What callers may see of a key: never the secret, sealed or not. */
export interface ApiKeyView {
  readonly apiKeyId: string;
  readonly name: string;
  readonly enabled: boolean;
  readonly maxScope: readonly Scope[];
  readonly type: ApiKeyType;
  readonly clientPublicKey?: string;
  readonly createDate: number;
  /** The generation of the newest credential, once the key has been rotated. */
  readonly credentialGeneration?: number;
  /** Present while the previous credential still works. */
  readonly previousCredentialExpiresAt?: number;
  readonly rateLimits?: KeyRateLimits;
}

/** The view at `now`: a previous credential's expiry shows only while it still works. */
export function toView(r: ApiKeyRecord, now: number): ApiKeyView {
  return {
    apiKeyId: r.id,
    name: r.name,
    enabled: r.enabled,
    maxScope: [...r.maxScope],
    type: r.type,
    ...(r.clientPublicKey === undefined ? {} : { clientPublicKey: r.clientPublicKey }),
    createDate: r.createDate,
    ...(r.credentialGeneration === undefined ? {} : { credentialGeneration: r.credentialGeneration }),
    ...(previousCredentialWorks(r, now) ? { previousCredentialExpiresAt: r.previousCredentialExpiresAt } : {}),
    ...(r.rateLimits === undefined ? {} : { rateLimits: { ...r.rateLimits } }),
  };
}

/** 96 random bits as 24 hex characters: the shape of the reference's ids, and unguessable. */
export function newApiKeyId(): string {
  return randomHex(12);
}

/** 256 random bits, base64url (43 characters, inside the 32..256 range a client secret must have). */
export function newApiKeySecret(): string {
  return randomBase64url(32);
}
