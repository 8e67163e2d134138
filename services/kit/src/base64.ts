/*
 * Strict base64 and base64url. Node's decoders, and the `atob` that jose falls
 * back to on Node 20, skip what they cannot use: padding added or left out,
 * characters outside the alphabet, and the unused low bits of the last
 * character. Many strings then decode to one value, so a credential would stay
 * valid under other spellings. A string is accepted here only in the one form
 * the encoder itself produces for its bytes.
 */

export type Base64Alphabet = "base64" | "base64url";

/** Padded base64 with `+/`; unpadded base64url with `-_` (RFC 4648 sections 4 and 5, as JWS uses them). */
const SHAPE: Record<Base64Alphabet, RegExp> = {
  base64: /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/,
  base64url: /^[A-Za-z0-9_-]*$/,
};

/**
 * The bytes of `value` when it is their canonical encoding in `alphabet`;
 * undefined for anything else (wrong padding, foreign characters, non-zero
 * trailing bits). Only the presented string is examined, so no secret is
 * involved in the timing.
 */
export function decodeCanonicalBase64(value: string, alphabet: Base64Alphabet): Buffer | undefined {
  if (!SHAPE[alphabet].test(value)) return undefined;
  const bytes = Buffer.from(value, alphabet);
  // Re-encoding gives the one canonical spelling; trailing bits that are not zero do not survive it.
  return bytes.toString(alphabet) === value ? bytes : undefined;
}
