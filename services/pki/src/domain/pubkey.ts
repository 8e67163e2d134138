import { secp256k1 } from "@noble/curves/secp256k1.js";
import bs58check from "bs58check";

const COMPRESSED_POINT_BYTES = 33;
// base58check of 33 bytes plus a 4-byte checksum is about 50 characters; the
// bound keeps decoding of hostile input cheap.
const MAX_ENCODED_LENGTH = 64;

/*
 * Also the package entry `@pkiserver/pki/pubkey`: the gateway validates
 * params with this same function, without loading the service's store code.
 */

/**
 * Whether `s` is a base58check string of a compressed secp256k1 public key:
 * 33 bytes, prefix 02 or 03, and a point on the curve.
 */
export function isValidPubKey(s: string): boolean {
  if (typeof s !== "string" || s.length === 0 || s.length > MAX_ENCODED_LENGTH) return false;
  const bytes = bs58check.decodeUnsafe(s);
  if (bytes === undefined || bytes.length !== COMPRESSED_POINT_BYTES) return false;
  if (bytes[0] !== 0x02 && bytes[0] !== 0x03) return false;
  try {
    secp256k1.Point.fromBytes(bytes).assertValidity();
    return true;
  } catch {
    return false;
  }
}

/** A fresh valid public key in the wire form, for tests and fixtures. */
export function randomPubKey(): string {
  return bs58check.encode(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true));
}
