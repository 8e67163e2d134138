import { createECDH, ECDH } from "node:crypto";
import bs58check from "bs58check";
import { LRUCache } from "lru-cache";

/*
 * Also the package entry `@pkiserver/pki/pubkey`: the gateway validates
 * params with this same function, without loading the service's store code.
 */

const COMPRESSED_POINT_BYTES = 33;
// base58check of 33 bytes plus a 4-byte checksum is about 50 characters; the
// bound keeps decoding of hostile input cheap.
const MAX_ENCODED_LENGTH = 64;

// Decompressing a point is the costliest check on every lookup's path, and
// the same keys are asked about again and again (a client checks its peers'
// keys before each trust decision). A bounded memo of recent verdicts, valid
// and invalid alike, keeps repeated keys from paying it; at ~120 bytes an entry
// it stays under 2 MiB.
const verdicts = new LRUCache<string, boolean>({ max: 16_384 });

/**
 * Whether `s` is a base58check string of a compressed secp256k1 public key:
 * 33 bytes, prefix 02 or 03, and a point on the curve.
 */
export function isValidPubKey(s: string): boolean {
  if (typeof s !== "string" || s.length === 0 || s.length > MAX_ENCODED_LENGTH) return false;
  const known = verdicts.get(s);
  if (known !== undefined) return known;
  const verdict = checkPubKey(s);
  verdicts.set(s, verdict);
  return verdict;
}

function checkPubKey(s: string): boolean {
  const bytes = bs58check.decodeUnsafe(s);
  if (bytes === undefined || bytes.length !== COMPRESSED_POINT_BYTES) return false;
  if (bytes[0] !== 0x02 && bytes[0] !== 0x03) return false;
  try {
    // OpenSSL decompresses the point and refuses an x with no point on the
    // curve; this sits on every lookup's path, where it is the costliest check.
    ECDH.convertKey(Buffer.from(bytes), "secp256k1", undefined, undefined, "uncompressed");
    return true;
  } catch {
    return false;
  }
}

/** A fresh valid public key in the wire form, for tests and fixtures. */
export function randomPubKey(): string {
  const ecdh = createECDH("secp256k1");
  ecdh.generateKeys();
  return bs58check.encode(ecdh.getPublicKey(null, "compressed"));
}
