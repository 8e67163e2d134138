import type { AccessTokenSigner, AccessTokenVerifier, PublicSigningKey } from "@pkiserver/contract";
import type { ApiKeyInfo, AuthSettings, CapMark, KeySessionSelection, Session, VerifiedApiKey } from "./entities";
import type { SigningKeyManager } from "./signing-keys";

/** Everything the use cases work with; built once by the composition root. */
export interface AuthDeps {
  sessions: SessionStore;
  keys: SigningKeyManager;
  /** Signs access tokens with the key `keys` gives. */
  signer: AccessTokenSigner;
  /** Verifies access tokens against this service's own keys (for introspection). */
  verifier: AccessTokenVerifier;
  apikeys: ApiKeyVerifier;
  events: AuthEvents;
  clock: Clock;
  settings: AuthSettings;
}

export interface Clock {
  now(): number;
}

export type RotateResult =
  | { kind: "rotated"; session: Session }
  /** The presented hash was rotated away earlier: someone holds a stale copy. */
  | { kind: "reused"; session: Session }
  /** Unknown session or hash, or a revoked or expired session. */
  | { kind: "failed"; session: Session | undefined };

/*
 * Cost: every call that a grant, refresh or fork makes reads or writes only
 * the key's live sessions, the session at hand and its family, through
 * indexes, never every session a key ever had: sessions closed by the cap,
 * expired or revoked do not slow a grant.
 */
export interface SessionStore {
  /**
   * Inserts `session`, then closes (revokes with the given reasons) the other
   * live sessions of its key that carry the same name, and the oldest live
   * sessions beyond `maxLivePerKey`. Replicas racing here converge: each keeps
   * the newest (createdAt, then id). Returns the sessions this call revoked.
   *
   * The cap raises the key's cap mark to the newest session it closes before
   * closing it, and no live session of the key is ever at or before the mark
   * (`coveredByMark`): a session at or before it, `session` included (a clock
   * behind, or a race with another replica's cap), is closed with reason
   * `session_limit` and returned among the closed. The caller opens another
   * one above the mark then.
   */
  open(session: Session, maxLivePerKey: number, now: number): Promise<Session[]>;
  /** The key's cap mark, if the cap closed a session of it whose mark is still kept. */
  capMark(apiKeyId: string): Promise<CapMark | undefined>;
  /** Every key's cap mark that still covers an access token that can be valid (tokensExpireAt > now). */
  listCapMarks(now: number): Promise<CapMark[]>;
  /**
   * The session. A revoked one may come back without what nothing reads of it
   * any more (scope empty; name, address and credential fields absent). A
   * revoked one is kept until its refresh token would have expired, so that
   * token is answered as revoked (`75`); a store in memory may forget the
   * oldest beyond a bound once no token of it can be valid (or its key's cap
   * mark covers it) and its family has no unrevoked session left (then
   * undefined, as for an unknown id).
   */
  get(id: string): Promise<Session | undefined>;
  /**
   * Atomically replaces the refresh hash when `presentedHash` is still the
   * session's current one and the session is live; exactly one of any number
   * of concurrent callers with the same hash wins. The spent hash is kept
   * (until `next.expiresAt`, past which the token it stood for has expired
   * anyway), so presenting it again reads as reuse, after any number of
   * later rotations.
   */
  rotate(
    id: string,
    presentedHash: string,
    next: { refreshHash: string; expiresAt: number },
    now: number,
  ): Promise<RotateResult>;
  /** Whether `hash` is a refresh hash of session `id` that a rotation spent. */
  wasSpent(id: string, hash: string): Promise<boolean>;
  /** Revokes one session if not already revoked; returns it when this call revoked it. */
  revoke(id: string, reason: string, now: number): Promise<Session | undefined>;
  /**
   * Marks the family revoked, then revokes its live sessions; returns those
   * this call revoked. A session of the family opened concurrently (a fork)
   * is either among them or finds the mark with `isFamilyRevoked` once
   * stored, because the mark is written before the sessions are looked up.
   */
  revokeFamily(familyId: string, reason: string, now: number): Promise<Session[]>;
  isFamilyRevoked(familyId: string): Promise<boolean>;
  /** Revokes the live sessions of `apiKeyId` that `which` takes; returns those this call revoked. */
  revokeForKey(apiKeyId: string, reason: string, now: number, which: KeySessionSelection): Promise<Session[]>;
  /**
   * Sets `credentialExpiresAt` to `expiresAt` on the live sessions of the key
   * opened with a credential of generation `upToGeneration` or older, unless
   * they already expire earlier.
   */
  limitCredential(apiKeyId: string, upToGeneration: number, expiresAt: number, now: number): Promise<void>;
  /** Up to `limit` live sessions whose credential stopped working at or before `now`. */
  listCredentialExpired(now: number, limit: number): Promise<Session[]>;
  /** Live sessions of a key, newest first. */
  listLive(apiKeyId: string, now: number): Promise<Session[]>;
  /** `createdAt` of the key's newest live session, if it has one (what a grant places its session after). */
  newestCreatedAt(apiKeyId: string, now: number): Promise<number | undefined>;
  /**
   * Sessions revoked at or after `since`, except those the cap closed: their
   * key's cap mark covers them.
   */
  listRevokedSince(since: number): Promise<Session[]>;
  /** Unrevoked sessions rotated at or after `since`. */
  listRotatedSince(since: number): Promise<Session[]>;
  /**
   * Deletes sessions that expired before `before`, and spent hashes, family
   * marks and cap marks kept until before then; returns how many sessions. Servers
   * with TTL indexes do this on their own as well.
   */
  purgeExpired(before: number): Promise<number>;
  isReady(): Promise<boolean>;
}

/** A signing key as stored: the private half sealed. */
export interface StoredSigningKey {
  kid: string;
  /** Which rotation period the key signs for; unique, so racing replicas agree on one key. */
  slot: string;
  /** JSON of the public JWK. */
  publicJwk: string;
  sealedPrivateJwk: string;
  createdAt: number;
  verifyUntil: number;
}

export interface SigningKeyStore {
  /** Inserts unless a key for `key.slot` exists; returns the slot's key either way. */
  insertIfAbsent(key: StoredSigningKey): Promise<{ inserted: boolean; key: StoredSigningKey }>;
  /** Keys still verifying at `now` (verifyUntil > now), oldest first. */
  listVerifying(now: number): Promise<StoredSigningKey[]>;
  purgeExpired(now: number): Promise<number>;
}

/** Encrypts values at rest (the kit's SecretBox has this shape). */
export interface Sealer {
  seal(plain: string, associatedData?: string): string;
  open(sealed: string, associatedData?: string): string;
}

/** A grant's credential as auth received it: the grant type and the client's address. */
export interface CredentialAttempt {
  method: "client_credentials" | "client_signature";
  clientIp?: string | undefined;
}

/**
 * The apikey service as auth sees it. Errors it reports (`apikey.not_found`,
 * `auth.invalid_credentials`) pass through unchanged.
 */
export interface ApiKeyVerifier {
  /** `attempt`: who presented the credential, for apikey's audit record of a refusal. */
  verifySecret(apiKeyId: string, secret: string, attempt?: CredentialAttempt): Promise<VerifiedApiKey>;
  verifySignature(input: {
    apiKeyId: string;
    timestamp: number;
    nonce: string;
    payload: Uint8Array;
    signature: string;
    attempt?: CredentialAttempt | undefined;
  }): Promise<VerifiedApiKey>;
  /** The key now, or undefined when it does not exist. */
  getApiKey(apiKeyId: string): Promise<ApiKeyInfo | undefined>;
}

/**
 * Publishes auth events after the write they report. Never throws: an
 * adapter that cannot publish logs the failure (the write stands).
 */
export interface AuthEvents {
  sessionOpened(s: Session, at: number): Promise<void>;
  sessionRotated(s: Session, at: number): Promise<void>;
  sessionRevoked(s: Session, reason: string, at: number): Promise<void>;
  signingKeyRotated(key: PublicSigningKey, at: number): Promise<void>;
}
