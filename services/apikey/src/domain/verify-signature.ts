import {
  AppError,
  NONCE_TTL_MS,
  nonceProblem,
  SIGNATURE_WINDOW_MS,
  verifyEd25519,
  verifyHmac,
} from "@pkiserver/kit/core";
import { type ApiKeyRecord, credentialGenerationOf, previousCredentialWorks, toView } from "./entities";
import { findApiKey } from "./get-api-key";
import type { ApiKeyDeps } from "./ports";
import type { VerifiedKey } from "./verify-secret";

const SIGNATURE_MAX_LENGTH = 4096;

export interface VerifySignatureInput {
  apiKeyId: string;
  timestamp: number;
  nonce: string;
  /** The exact signed string, built by the caller from the request or grant. */
  payload: Uint8Array;
  signature: string;
}

/**
 * Request signing and the client_signature grant (API.md section 3). The
 * nonce is consumed only after the signature verified, so forged requests
 * cannot use up a client's nonces.
 */
export async function verifySignature(deps: ApiKeyDeps, input: VerifySignatureInput): Promise<VerifiedKey> {
  const key = await findApiKey(deps, input.apiKeyId);
  const now = deps.clock.now();
  const fresh = Number.isFinite(input.timestamp) && Math.abs(now - input.timestamp) <= SIGNATURE_WINDOW_MS;
  const wellFormed =
    nonceProblem(input.nonce) === undefined &&
    input.signature.length > 0 &&
    input.signature.length <= SIGNATURE_MAX_LENGTH &&
    coversTimestampAndNonce(input);
  const signedWith = key.enabled && fresh && wellFormed ? signingGeneration(deps, key, input, now) : undefined;
  if (signedWith === undefined) throw new AppError("auth.invalid_credentials");
  if (!(await deps.nonces.consume(key.id, input.nonce, now, now + NONCE_TTL_MS))) {
    throw new AppError("auth.invalid_credentials");
  }
  return { ...toView(key, now), matchedGeneration: signedWith };
}

/**
 * Which credential made the signature: the newest one's generation, the
 * previous one's while its grace period lasts, or undefined.
 */
function signingGeneration(
  deps: ApiKeyDeps,
  key: ApiKeyRecord,
  input: VerifySignatureInput,
  now: number,
): number | undefined {
  const generation = credentialGenerationOf(key);
  if (signatureMatches(deps, key, key, input)) return generation;
  const previous = { sealedSecret: key.previousSealedSecret, clientPublicKey: key.previousClientPublicKey };
  if (previousCredentialWorks(key, now) && signatureMatches(deps, key, previous, input)) return generation - 1;
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
