import type { SigningKeyStore, StoredSigningKey } from "../domain/ports";

export class MemorySigningKeyStore implements SigningKeyStore {
  private readonly keys: StoredSigningKey[] = [];

  async insertIfAbsent(key: StoredSigningKey): Promise<{ inserted: boolean; key: StoredSigningKey }> {
    const existing = this.keys.find((k) => k.slot === key.slot);
    if (existing) return { inserted: false, key: { ...existing } };
    this.keys.push({ ...key });
    return { inserted: true, key: { ...key } };
  }

  async listVerifying(now: number): Promise<StoredSigningKey[]> {
    return this.keys
      .filter((k) => k.verifyUntil > now)
      .sort((a, b) => a.createdAt - b.createdAt)
      .map((k) => ({ ...k }));
  }

  async purgeExpired(now: number): Promise<number> {
    const before = this.keys.length;
    for (let i = this.keys.length - 1; i >= 0; i--) {
      if ((this.keys[i] as StoredSigningKey).verifyUntil <= now) this.keys.splice(i, 1);
    }
    return before - this.keys.length;
  }
}
