import { createHmac, createPrivateKey, createPublicKey, sign, timingSafeEqual, verify } from "node:crypto";
import { decodeCanonicalBase64 } from "./base64";

/*
 * Request signing (API.md section 3) and the client_signature grant use one
 * signature scheme: HMAC-SHA256 truncated to 20 bytes for secret keys, Ed25519
 * for public-key keys, both in canonical base64 (padded, no stray bits).
 */

const HMAC_SIGNATURE_BYTES = 20;
const ED25519_SIGNATURE_BYTES = 64;

export const SIGNATURE_WINDOW_MS = 10 * 60_000;
export const NONCE_TTL_MS = 20 * 60_000;
/** The Authorization scheme of a signed request (lower case, as schemes are compared). */
export const SIGNATURE_SCHEME = "pmx-hmac-sha256";

export const NONCE_MAX_LENGTH = 64;
/**
 * A nonce is 1..64 characters of the base64 and base64url alphabets (API.md
 * section 3). Neither `;` nor a line break can occur in it, so a signed string
 * `<ts>;<nonce>;…` splits into nonce and data one way only: a signature cannot
 * be replayed under another nonce by moving characters between the two.
 */
export const NONCE_PATTERN = /^[A-Za-z0-9+/=_-]{1,64}$/;

/**
 * Why `value` is no nonce, in the words of a `-32602` message (its path is
 * left to the caller), or undefined for a valid nonce. The one definition of
 * the rule: the gateway's params schema, auth and apikey all use it.
 */
export function nonceProblem(value: string): string | undefined {
  if (value.length < 1) return "Invalid length! Expected min 1, get 0";
  if (value.length > NONCE_MAX_LENGTH) return `Invalid length! Expected max ${NONCE_MAX_LENGTH}, get ${value.length}`;
  if (!NONCE_PATTERN.test(value)) return "Invalid characters! Expected only A-Z a-z 0-9 + / = _ -";
  return undefined;
}

/** `<ts>;<nonce>;METHOD\nURI\nBODY\n` for a signed HTTP request. */
export function requestSigningPayload(
  timestamp: number,
  nonce: string,
  method: string,
  uri: string,
  body: Buffer | string,
): Buffer {
  return Buffer.concat([
    Buffer.from(`${timestamp};${nonce};${method.toUpperCase()}\n${uri}\n`, "utf8"),
    typeof body === "string" ? Buffer.from(body, "utf8") : body,
    Buffer.from("\n", "utf8"),
  ]);
}

/** `<ts>;<nonce>;\n\n<data>\n` for the client_signature grant. */
export function grantSigningPayload(timestamp: number, nonce: string, data: string | undefined): Buffer {
  return Buffer.from(`${timestamp};${nonce};\n\n${data ?? ""}\n`, "utf8");
}

function hmacBytes(secret: string, payload: Buffer): Buffer {
  return createHmac("sha256", Buffer.from(secret, "utf8")).update(payload).digest().subarray(0, HMAC_SIGNATURE_BYTES);
}

export function hmacSignature(secret: string, payload: Buffer): string {
  return hmacBytes(secret, payload).toString("base64");
}

/** Constant-time comparison of two strings (lengths are not secret). */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  if (x.length !== y.length) {
    // Still spend the comparison so the timing does not depend on where they differ.
    timingSafeEqual(x, x);
    return false;
  }
  return timingSafeEqual(x, y);
}

export function verifyHmac(secret: string, payload: Buffer, signature: string): boolean {
  const expected = hmacBytes(secret, payload);
  const given = decodeCanonicalBase64(signature, "base64");
  if (given === undefined || given.length !== HMAC_SIGNATURE_BYTES) {
    // Still spend the comparison so a malformed signature is not told apart by timing.
    timingSafeEqual(expected, expected);
    return false;
  }
  return timingSafeEqual(expected, given);
}

export function ed25519Sign(privateKeyPem: string, payload: Buffer): string {
  return sign(null, payload, createPrivateKey(privateKeyPem)).toString("base64");
}

export function verifyEd25519(publicKeyPem: string, payload: Buffer, signature: string): boolean {
  const given = decodeCanonicalBase64(signature, "base64");
  if (given === undefined || given.length !== ED25519_SIGNATURE_BYTES) return false;
  try {
    return verify(null, payload, createPublicKey(publicKeyPem), given);
  } catch {
    return false;
  }
}

/**
 * Checks that `pem` is an Ed25519 public key in SPKI PEM and returns it
 * normalised; undefined for anything else (private keys, other key types).
 */
export function normaliseEd25519PublicKey(pem: string): string | undefined {
  if (!/^-----BEGIN PUBLIC KEY-----/.test(pem.trim())) return undefined;
  try {
    const key = createPublicKey({ key: pem, format: "pem" });
    if (key.asymmetricKeyType !== "ed25519") return undefined;
    return key.export({ type: "spki", format: "pem" }).toString();
  } catch {
    return undefined;
  }
}

export interface SignatureHeader {
  apiKeyId: string;
  version: string;
  timestamp: number;
  nonce: string;
  signature: string;
}

/** Parses `pmx-hmac-sha256 <id>;1;<ts>;<nonce>;<sig>` (the scheme already stripped). */
export function parseSignatureCredentials(value: string): SignatureHeader | undefined {
  const parts = value.split(";");
  if (parts.length !== 5) return undefined;
  const [apiKeyId, version, ts, nonce, signature] = parts as [string, string, string, string, string];
  if (version !== "1" || !/^\d{1,16}$/.test(ts)) return undefined;
  if (apiKeyId.length < 1 || apiKeyId.length > 128 || nonceProblem(nonce) !== undefined) return undefined;
  if (signature.length < 1 || signature.length > 4096) return undefined;
  return { apiKeyId, version, timestamp: Number(ts), nonce, signature };
}
