import type { NonceStore } from "../domain/ports";

export class MemoryNonceStore implements NonceStore {
  private readonly seen = new Map<string, number>();

  async consume(apiKeyId: string, nonce: string, now: number, expiresAt: number): Promise<boolean> {
    const id = nonceId(apiKeyId, nonce);
    const until = this.seen.get(id);
    if (until !== undefined && until > now) return false;
    this.seen.set(id, expiresAt);
    return true;
  }

  async purgeExpired(now: number): Promise<number> {
    let purged = 0;
    for (const [id, until] of this.seen) {
      if (until <= now) {
        this.seen.delete(id);
        purged++;
      }
    }
    return purged;
  }
}

/** Key ids hold no `:`, so the pair maps to one string unambiguously. */
export function nonceId(apiKeyId: string, nonce: string): string {
  return `${apiKeyId}:${nonce}`;
}
