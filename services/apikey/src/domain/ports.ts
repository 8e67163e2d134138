import type { ApiKeyRecord } from "./entities";

export interface ApiKeyPatch {
  name?: string;
  enabled?: boolean;
  maxScope?: ApiKeyRecord["maxScope"];
  /** The key's own rate limits; null removes them. */
  rateLimits?: NonNullable<ApiKeyRecord["rateLimits"]> | null;
}

/**
 * What a change of a key is conditional on: the key's maxScope as the caller
 * checked it. A change made since (a concurrent widening) makes the write miss.
 */
export interface ApiKeyGuard {
  maxScope: ApiKeyRecord["maxScope"];
}

/**
 * A key's new credential. The newest credential becomes the previous one and
 * an older previous one is dropped; the caller passes both as it read them,
 * and the write is conditional on the generation it read, so of concurrent
 * rotations one wins and the others miss.
 */
export interface CredentialRotation {
  /** The key's credentialGeneration as read; the new credential gets the next one. */
  fromGeneration: number;
  sealedSecret?: string | undefined;
  clientPublicKey?: string | undefined;
  previousSealedSecret?: string | undefined;
  previousClientPublicKey?: string | undefined;
  previousCredentialExpiresAt: number;
}

/**
 * Where keys live. Adapters make the limits race-safe on their own: callers
 * never count first and write after.
 */
export interface ApiKeyStore {
  /**
   * Stores the first key. `apikey.first_key_exists` when any key exists, and
   * for every loser when several calls race.
   */
  insertFirst(record: ApiKeyRecord): Promise<void>;
  /** Stores a key; `apikey.too_many` when `limit` keys exist, also under concurrent inserts. */
  insert(record: ApiKeyRecord, limit: number): Promise<void>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  /** Every key, oldest first. */
  list(): Promise<ApiKeyRecord[]>;
  /**
   * Applies the patch in one atomic step; undefined when there is no such key,
   * or when `guard` is given and the key's maxScope no longer equals it.
   */
  update(
    id: string,
    patch: ApiKeyPatch,
    guard?: ApiKeyGuard,
  ): Promise<{ before: ApiKeyRecord; after: ApiKeyRecord } | undefined>;
  /**
   * Replaces the key's credentials in one atomic step; undefined when there is
   * no such key, its generation is no longer `rotation.fromGeneration`, or
   * `guard` no longer holds.
   */
  rotateCredential(
    id: string,
    rotation: CredentialRotation,
    guard: ApiKeyGuard,
  ): Promise<{ before: ApiKeyRecord; after: ApiKeyRecord } | undefined>;
  /** Removes the key in one atomic step; false when there was none, or `guard` no longer holds. */
  delete(id: string, guard?: ApiKeyGuard): Promise<boolean>;
  ping(): Promise<boolean>;
}

/** The replay cache of signature nonces, shared by every replica. */
export interface NonceStore {
  /**
   * Records the nonce for the key until `expiresAt`. False when it is already
   * recorded and not yet expired: a replay. Of concurrent calls with the same
   * nonce exactly one gets true.
   */
  consume(apiKeyId: string, nonce: string, now: number, expiresAt: number): Promise<boolean>;
  /** Forgets nonces expired at `now`; returns how many. */
  purgeExpired(now: number): Promise<number>;
}

/** Announces key changes after they are stored (auth revokes sessions, the gateway refuses tokens). */
export interface ApiKeyEvents {
  /** `first`: the installation's first key, for the audit log. */
  created(key: ApiKeyRecord, at: number, first?: boolean): Promise<void>;
  updated(before: ApiKeyRecord, after: ApiKeyRecord, at: number): Promise<void>;
  deleted(apiKeyId: string, at: number): Promise<void>;
  /** The key got a new credential; `after` carries its generation and the previous one's expiry. */
  rotated(after: ApiKeyRecord, at: number): Promise<void>;
  /**
   * A credential was refused, with the verdict the caller is not told (for the
   * audit log). Returns at once and never throws: a failed publish is the
   * adapter's to log, never the refusal's.
   */
  credentialRefused(refusal: CredentialRefusal): void;
}

/** Who presented a credential, as the calling component saw it. */
export interface AuthAttempt {
  /** The credential scheme or grant: basic, signature, client_credentials, client_signature. */
  readonly method: string;
  readonly clientIp?: string | undefined;
  readonly requestId?: string | undefined;
}

/** Why a credential was refused (the `auth.failed` reasons of the audit log that apikey decides). */
export type RefusalReason =
  | "unknown_key"
  | "wrong_secret"
  | "bad_signature"
  | "replayed_nonce"
  | "stale_timestamp"
  | "disabled_key"
  | "expired_key";

export interface CredentialRefusal extends AuthAttempt {
  readonly reason: RefusalReason;
  /** The key the credential named (bounded: ids longer than a key id's are cut). */
  readonly apiKeyId: string;
  readonly at: number;
}

export interface Clock {
  now(): number;
}

/** Authenticated encryption of secrets at rest (the kit's SecretBox fits). */
export interface SecretSealer {
  seal(plain: string, associatedData: string): string;
  open(sealed: string, associatedData: string): string;
  /** Whether `candidate` is the sealed value, in constant time. */
  matches(sealed: string, candidate: string, associatedData: string): boolean;
}

/** Everything the use cases need, wired once by the composition root. */
export interface ApiKeyDeps {
  readonly store: ApiKeyStore;
  readonly nonces: NonceStore;
  readonly events: ApiKeyEvents;
  readonly clock: Clock;
  readonly secrets: SecretSealer;
  /** PMX_INITIALIZATION_TOKEN; unset or empty means the first key cannot be created. */
  readonly initializationToken: string | undefined;
}

export const systemClock: Clock = { now: () => Date.now() };
