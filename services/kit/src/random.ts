import { randomBytes, randomFillSync } from "node:crypto";

/*
 * Random bytes from node's CSPRNG, drawn from a pool refilled 4 KiB at a time.
 * Each call into the generator costs several microseconds whatever its size,
 * and a token grant draws three values (session id, refresh token, jti): one
 * call per 4 KiB instead of one per value. Bytes handed out are copied and then
 * erased from the pool, so no value stays behind in it.
 */

const POOL_SIZE = 4096;
/** Draws larger than this go to the generator directly. */
const MAX_POOLED = 256;

const pool = Buffer.allocUnsafeSlow(POOL_SIZE);
let next = POOL_SIZE;

/** `size` random bytes, from the pool. */
export function randomBytesPooled(size: number): Buffer {
  if (!Number.isInteger(size) || size < 0) throw new RangeError(`invalid size ${size}`);
  if (size > MAX_POOLED) return randomBytes(size);
  if (next + size > POOL_SIZE) {
    randomFillSync(pool);
    next = 0;
  }
  const out = Buffer.from(pool.subarray(next, next + size));
  pool.fill(0, next, next + size);
  next += size;
  return out;
}

/** `size` random bytes as base64url (no padding). */
export function randomBase64url(size: number): string {
  return randomBytesPooled(size).toString("base64url");
}

/** `size` random bytes as lower-case hex. */
export function randomHex(size: number): string {
  return randomBytesPooled(size).toString("hex");
}
