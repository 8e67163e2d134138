import { createCipheriv, createDecipheriv, hash, randomBytes, timingSafeEqual } from "node:crypto";
import { LRUCache } from "lru-cache";
import { randomBytesPooled } from "./random";

const TAG_BYTES = 16;
/** Sealed values whose digest `matches` keeps. */
const MAX_DIGESTS = 10_000;

/**
 * AES-256-GCM encryption of values at rest under keys from configuration.
 * `PMX_SECRET_KEY` holds one or more `kid:base64key` entries separated by
 * commas; the first encrypts, all decrypt, so a key can be rotated by putting
 * the new one first and keeping the old one until re-encryption is done.
 * Sealed format: `v1.<kid>.<iv b64url>.<tag b64url>.<ciphertext b64url>`.
 */
export class SecretBox {
  private readonly keys: Map<string, Buffer>;
  private readonly currentKid: string;
  /** Key of the digests below (hashed in front of the value): random, and never leaves this object. */
  private readonly digestKey = randomBytes(32).toString("hex");
  /** Digest of the opened value, by associated data and sealed value. */
  private readonly digests = new LRUCache<string, Buffer>({ max: MAX_DIGESTS });

  constructor(keys: readonly { kid: string; key: Buffer }[]) {
    const first = keys[0];
    if (!first) throw new Error("SecretBox needs at least one key");
    const seen = new Set<string>();
    for (const k of keys) {
      if (k.key.length !== 32) throw new Error(`secret key '${k.kid}' must be 32 bytes`);
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(k.kid)) throw new Error(`secret key id '${k.kid}' is invalid`);
      if (seen.has(k.kid)) throw new Error(`secret key id '${k.kid}' appears twice`);
      seen.add(k.kid);
    }
    this.keys = new Map(keys.map((k) => [k.kid, k.key]));
    this.currentKid = first.kid;
  }

  /** Parses the `PMX_SECRET_KEY` format; throws a message naming the problem (never the key). */
  static fromConfig(value: string): SecretBox {
    const entries = value.split(",").map((part, i) => {
      const colon = part.indexOf(":");
      if (colon <= 0) throw new Error(`entry ${i + 1} must be kid:base64key`);
      const key = Buffer.from(part.slice(colon + 1).trim(), "base64");
      return { kid: part.slice(0, colon).trim(), key };
    });
    return new SecretBox(entries);
  }

  /** A box with a fresh random key, for processes whose stores die with them. */
  static ephemeral(): SecretBox {
    return new SecretBox([{ kid: "ephemeral", key: randomBytes(32) }]);
  }

  seal(plain: string, associatedData = ""): string {
    const key = this.keys.get(this.currentKid) as Buffer;
    const iv = randomBytesPooled(12);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    cipher.setAAD(Buffer.from(associatedData, "utf8"));
    const ct = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    const tag = cipher.getAuthTag();
    return ["v1", this.currentKid, iv.toString("base64url"), tag.toString("base64url"), ct.toString("base64url")].join(
      ".",
    );
  }

  /** Decrypts; throws when the key id is unknown or the value was tampered with. */
  open(sealed: string, associatedData = ""): string {
    const [version, kid, iv, tag, ct] = sealed.split(".");
    if (version !== "v1" || !kid || iv === undefined || tag === undefined || ct === undefined) {
      throw new Error("sealed value is malformed");
    }
    const key = this.keys.get(kid);
    if (!key) throw new Error(`no secret key with id '${kid}'`);
    const tagBytes = Buffer.from(tag, "base64url");
    // GCM would accept a shortened tag (a prefix of the real one), which weakens forgery resistance.
    if (tagBytes.length !== TAG_BYTES) throw new Error("sealed value is malformed");
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(associatedData, "utf8"));
    decipher.setAuthTag(tagBytes);
    return Buffer.concat([decipher.update(Buffer.from(ct, "base64url")), decipher.final()]).toString("utf8");
  }

  /**
   * Whether `candidate` is the value sealed in `sealed`, compared in constant
   * time. The opened value is remembered only as a keyed digest (SHA-256 of a
   * random key of this object followed by the value), so checking the same
   * sealed value again costs one hash instead of a decryption and keeps no
   * plaintext. Throws as `open` does.
   */
  matches(sealed: string, candidate: string, associatedData = ""): boolean {
    const id = `${associatedData}\u0000${sealed}`;
    let expected = this.digests.get(id);
    if (expected === undefined) {
      expected = this.digest(this.open(sealed, associatedData));
      this.digests.set(id, expected);
    }
    return timingSafeEqual(expected, this.digest(candidate));
  }

  private digest(value: string): Buffer {
    // One-shot hashing: no Hash or Hmac object per check (those cost a few times more here).
    return hash("sha256", this.digestKey + value, "buffer");
  }

  /** The key id a sealed value was made with (to find values needing re-encryption). */
  static kidOf(sealed: string): string | undefined {
    return sealed.split(".")[1];
  }

  get currentKeyId(): string {
    return this.currentKid;
  }
}
