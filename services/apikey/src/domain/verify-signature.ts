import {
  AppError,
  NONCE_TTL_MS,
  nonceProblem,
  SIGNATURE_WINDOW_MS,
  verifyEd25519,
  verifyHmac,
} from "@pkiserver/kit/core";
import { type ApiKeyRecord, type ApiKeyView, toView } from "./api-key";
import { findApiKey } from "./get-api-key";
import type { ApiKeyDeps } from "./ports";

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
export async function verifySignature(deps: ApiKeyDeps, input: VerifySignatureInput): Promise<ApiKeyView> {
  const key = await findApiKey(deps, input.apiKeyId);
  const now = deps.clock.now();
  const fresh = Number.isFinite(input.timestamp) && Math.abs(now - input.timestamp) <= SIGNATURE_WINDOW_MS;
  const wellFormed =
    nonceProblem(input.nonce) === undefined &&
    input.signature.length > 0 &&
    input.signature.length <= SIGNATURE_MAX_LENGTH &&
    coversTimestampAndNonce(input);
  if (!key.enabled || !fresh || !wellFormed || !signatureMatches(deps, key, input)) {
    throw new AppError("auth.invalid_credentials");
  }
  if (!(await deps.nonces.consume(key.id, input.nonce, now, now + NONCE_TTL_MS))) {
    throw new AppError("auth.invalid_credentials");
  }
  return toView(key);
}

/**
 * Both signed strings start with `<timestamp>;<nonce>;`. Requiring it ties the
 * checked timestamp and nonce to what was signed, whoever built the payload.
 */
function coversTimestampAndNonce(input: VerifySignatureInput): boolean {
  const prefix = Buffer.from(`${input.timestamp};${input.nonce};`, "utf8");
  return input.payload.length >= prefix.length && prefix.equals(input.payload.subarray(0, prefix.length));
}

function signatureMatches(deps: ApiKeyDeps, key: ApiKeyRecord, input: VerifySignatureInput): boolean {
  const payload = Buffer.from(input.payload.buffer, input.payload.byteOffset, input.payload.byteLength);
  if (key.type === "secret" && key.sealedSecret !== undefined) {
    return verifyHmac(deps.secrets.open(key.sealedSecret, key.id), payload, input.signature);
  }
  if (key.type === "pubKey" && key.clientPublicKey !== undefined) {
    return verifyEd25519(key.clientPublicKey, payload, input.signature);
  }
  return false;
}
