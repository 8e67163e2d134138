import { createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes } from "node:crypto";
import type { PublicSigningKey, SigningMaterial } from "@pkiserver/contract";
import type { AuthEvents, Clock, Sealer, SigningKeyStore, StoredSigningKey } from "./ports";

export interface SigningKeyOptions {
  rotationMs: number;
  /** The longest access-token lifetime: a key verifies for this long after its period ends. */
  maxAccessLifetimeMs: number;
}

/**
 * Signing keys, one per rotation period. Time is cut into periods of
 * `rotationMs`; the key of period p signs only during p and verifies until the
 * end of p plus the longest access lifetime. Every replica derives the same
 * period from its clock, and the store keeps one key per period (a unique
 * slot), so replicas racing to create a period's key end up using the same one.
 * The next period's key is created ahead of time so verifiers learn it before
 * the first token it signs.
 */
export class SigningKeyManager {
  private cache: StoredSigningKey[] = [];
  private readonly privateKeys = new Map<string, KeyObject>();
  private cacheLoadedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly store: SigningKeyStore,
    private readonly sealer: Sealer,
    private readonly clock: Clock,
    private readonly events: AuthEvents,
    private readonly opts: SigningKeyOptions,
  ) {}

  private period(at: number): number {
    return Math.floor(at / this.opts.rotationMs);
  }

  private slot(period: number): string {
    // The rotation length is part of the slot so a changed setting starts a fresh series.
    return `${this.opts.rotationMs}:${period}`;
  }

  /** How long before a period starts its key is created. */
  private get leadMs(): number {
    return Math.min(Math.floor(this.opts.rotationMs / 4), 10 * 60_000);
  }

  private async ensure(period: number, now: number): Promise<StoredSigningKey> {
    const slot = this.slot(period);
    const cached = this.cache.find((k) => k.slot === slot);
    if (cached) return cached;
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    const kid = randomBytes(12).toString("base64url");
    const pub = publicKey.export({ format: "jwk" });
    const publicJwk = JSON.stringify({ kty: "OKP", crv: "Ed25519", x: pub.x, kid, alg: "EdDSA", use: "sig" });
    const candidate: StoredSigningKey = {
      kid,
      slot,
      publicJwk,
      sealedPrivateJwk: this.sealer.seal(JSON.stringify(privateKey.export({ format: "jwk" })), kid),
      createdAt: now,
      verifyUntil: (period + 1) * this.opts.rotationMs + this.opts.maxAccessLifetimeMs,
    };
    const { inserted, key } = await this.store.insertIfAbsent(candidate);
    if (inserted) {
      this.privateKeys.set(kid, privateKey);
      await this.events.signingKeyRotated(toPublic(key), now);
    }
    this.cache = [...this.cache.filter((k) => k.kid !== key.kid), key].sort((a, b) => a.createdAt - b.createdAt);
    return key;
  }

  /** Makes sure the current period's key exists, and the next one's when it is near. */
  async tick(): Promise<void> {
    const now = this.clock.now();
    await this.refresh(now, true);
    const p = this.period(now);
    await this.ensure(p, now);
    if (now >= (p + 1) * this.opts.rotationMs - this.leadMs) await this.ensure(p + 1, now);
  }

  private async refresh(now: number, force: boolean): Promise<void> {
    if (!force && now - this.cacheLoadedAt < 30_000) return;
    this.cache = await this.store.listVerifying(now);
    this.cacheLoadedAt = now;
  }

  /** The key that signs now. */
  async signer(): Promise<SigningMaterial> {
    const now = this.clock.now();
    const key = await this.ensure(this.period(now), now);
    let privateKey = this.privateKeys.get(key.kid);
    if (!privateKey) {
      const jwk = JSON.parse(this.sealer.open(key.sealedPrivateJwk, key.kid)) as Record<string, string>;
      privateKey = createPrivateKey({ key: { kty: "OKP", crv: "Ed25519", x: jwk.x, d: jwk.d }, format: "jwk" });
      this.privateKeys.set(key.kid, privateKey);
    }
    return { kid: key.kid, privateKey };
  }

  /** Every key still verifying, oldest first, read fresh from the store. */
  async publicKeys(): Promise<PublicSigningKey[]> {
    const now = this.clock.now();
    await this.refresh(now, true);
    for (const kid of this.privateKeys.keys()) {
      if (!this.cache.some((k) => k.kid === kid)) this.privateKeys.delete(kid);
    }
    return this.cache.filter((k) => k.verifyUntil > now).map(toPublic);
  }

  async purge(): Promise<number> {
    return this.store.purgeExpired(this.clock.now());
  }
}

function toPublic(k: StoredSigningKey): PublicSigningKey {
  return { kid: k.kid, publicJwk: k.publicJwk, createdAt: k.createdAt, verifyUntil: k.verifyUntil };
}
