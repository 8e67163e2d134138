import { NONCE_TTL_MS, nonceProblem, SIGNATURE_WINDOW_MS, verifyEd25519, verifyHmac } from "@pkiserver/kit/core";
import { keyNamedBy, refuseCredential } from "./credential-refusal";
import { type ApiKeyRecord, credentialGenerationOf, previousCredentialWorks, toView } from "./entities";
import type { ApiKeyDeps, AuthAttempt } from "./ports";
import type { VerifiedKey } from "./verify-secret";

const SIGNATURE_MAX_LENGTH = 4096;

export interface VerifySignatureInput {
  apiKeyId: string;
  timestamp: number;
  nonce: string;
  /** The exact signed string, built by the caller from the request or grant. */
  payload: Uint8Array;
  signature: string;
  /** Who presented the signature, for the audit record of a refusal. */
  attempt?: AuthAttempt | undefined;
}

/**
 * Request signing and the client_signature grant (API.md section 3). The
 * nonce is consumed only after the signature verified, so forged requests
 * cannot use up a client's nonces. Every refusal is the same error; its
 * verdict (stale timestamp, bad signature, a rotated-away credential, a
 * disabled key, a replayed nonce) is reported.
 */
export async function verifySignature(deps: ApiKeyDeps, input: VerifySignatureInput): Promise<VerifiedKey> {
  const key = await keyNamedBy(deps, input.apiKeyId, input.attempt);
  const now = deps.clock.now();
  const wellFormed =
    nonceProblem(input.nonce) === undefined &&
    input.signature.length > 0 &&
    input.signature.length <= SIGNATURE_MAX_LENGTH &&
    coversTimestampAndNonce(input);
  if (!wellFormed) throw refuseCredential(deps, "bad_signature", key.id, input.attempt, now);
  // Outside the window nothing is verified: whatever the signature, the request is too old or too new.
  if (!(Number.isFinite(input.timestamp) && Math.abs(now - input.timestamp) <= SIGNATURE_WINDOW_MS)) {
    throw refuseCredential(deps, "stale_timestamp", key.id, input.attempt, now);
  }
  const signedWith = signingGeneration(deps, key, input, now);
  if (signedWith === undefined) throw refuseCredential(deps, "bad_signature", key.id, input.attempt, now);
  if (signedWith === "expired") throw refuseCredential(deps, "expired_key", key.id, input.attempt, now);
  // A disabled key's nonces are not spent: the holder may sign again once it is enabled.
  if (!key.enabled) throw refuseCredential(deps, "disabled_key", key.id, input.attempt, now);
  if (!(await deps.nonces.consume(key.id, input.nonce, now, now + NONCE_TTL_MS)))
    throw refuseCredential(deps, "replayed_nonce", key.id, input.attempt, now);
  return { matchedGeneration: signedWith, ...toView(key, now) };
}

/**
 * Which credential made the signature: the newest one's generation, the
 * previous one's while its grace period lasts, "expired" for a previous one
 * whose grace period is over, or undefined.
 */
function signingGeneration(
  deps: ApiKeyDeps,
  key: ApiKeyRecord,
  input: VerifySignatureInput,
  now: number,
): number | "expired" | undefined {
  const generation = credentialGenerationOf(key);
  if (signatureMatches(deps, key, key, input)) return generation;
  const previous = { sealedSecret: key.previousSealedSecret, clientPublicKey: key.previousClientPublicKey };
  if (signatureMatches(deps, key, previous, input))
    return previousCredentialWorks(key, now) ? generation - 1 : "expired";
  return undefined;
}

/**
 * Both signed strings start with `<timestamp>;<nonce>;`. Requiring it ties the
 * checked timestamp and nonce to what was signed, whoever built the payload.
 */
function coversTimestampAndNonce(input: VerifySignatureInput): boolean {
  const prefix = Buffer.from(`${input.timestamp};${input.nonce};`, "utf8");
  return input.payload.length >= prefix.length && prefix.equals(input.payload.subarray(0, prefix.length));
}

function signatureMatches(
  deps: ApiKeyDeps,
  key: ApiKeyRecord,
  credential: { sealedSecret?: string | undefined; clientPublicKey?: string | undefined },
  input: VerifySignatureInput,
): boolean {
  const payload = Buffer.from(input.payload.buffer, input.payload.byteOffset, input.payload.byteLength);
  if (key.type === "secret" && credential.sealedSecret !== undefined) {
    return verifyHmac(deps.secrets.open(credential.sealedSecret, key.id), payload, input.signature);
  }
  if (key.type === "pubKey" && credential.clientPublicKey !== undefined) {
    return verifyEd25519(credential.clientPublicKey, payload, input.signature);
  }
  return false;
}
