import { AppError } from "@pkiserver/kit";
import { type ApiKeyRecord, credentialGenerationOf } from "../domain/entities";
import type { ApiKeyGuard, ApiKeyPatch, ApiKeyStore, CredentialRotation } from "../domain/ports";

/**
 * Keys in a map. Every method checks and writes without awaiting in between,
 * so on one event loop the limits hold under concurrent calls.
 */
export class MemoryApiKeyStore implements ApiKeyStore {
  private readonly keys = new Map<string, ApiKeyRecord>();

  async insertFirst(record: ApiKeyRecord): Promise<void> {
    if (this.keys.size > 0) throw new AppError("apikey.first_key_exists");
    this.keys.set(record.id, copy(record));
  }

  async insert(record: ApiKeyRecord, limit: number): Promise<void> {
    if (this.keys.size >= limit) throw new AppError("apikey.too_many");
    if (this.keys.has(record.id)) throw new Error("api key id collision");
    this.keys.set(record.id, copy(record));
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const r = this.keys.get(id);
    return r && copy(r);
  }

  async list(): Promise<ApiKeyRecord[]> {
    return [...this.keys.values()].sort((a, b) => a.createDate - b.createDate || compare(a.id, b.id)).map(copy);
  }

  async update(
    id: string,
    patch: ApiKeyPatch,
    guard?: ApiKeyGuard,
  ): Promise<{ before: ApiKeyRecord; after: ApiKeyRecord } | undefined> {
    const before = this.keys.get(id);
    if (!before || !holds(before, guard)) return undefined;
    const after: ApiKeyRecord = {
      ...before,
      ...(patch.name === undefined ? {} : { name: patch.name }),
      ...(patch.enabled === undefined ? {} : { enabled: patch.enabled }),
      ...(patch.maxScope === undefined ? {} : { maxScope: [...patch.maxScope] }),
      ...(patch.rateLimits ? { rateLimits: { ...patch.rateLimits } } : {}),
    };
    if (patch.rateLimits === null) delete (after as { rateLimits?: unknown }).rateLimits;
    this.keys.set(id, after);
    return { before: copy(before), after: copy(after) };
  }

  async rotateCredential(
    id: string,
    rotation: CredentialRotation,
    guard: ApiKeyGuard,
  ): Promise<{ before: ApiKeyRecord; after: ApiKeyRecord } | undefined> {
    const before = this.keys.get(id);
    if (!before || !holds(before, guard) || credentialGenerationOf(before) !== rotation.fromGeneration) {
      return undefined;
    }
    const {
      sealedSecret: _s,
      clientPublicKey: _p,
      previousSealedSecret: _ps,
      previousClientPublicKey: _pp,
      previousCredentialExpiresAt: _pe,
      ...rest
    } = before;
    const after: ApiKeyRecord = {
      ...rest,
      ...definedOnly({
        sealedSecret: rotation.sealedSecret,
        clientPublicKey: rotation.clientPublicKey,
        previousSealedSecret: rotation.previousSealedSecret,
        previousClientPublicKey: rotation.previousClientPublicKey,
      }),
      previousCredentialExpiresAt: rotation.previousCredentialExpiresAt,
      credentialGeneration: rotation.fromGeneration + 1,
    };
    this.keys.set(id, after);
    return { before: copy(before), after: copy(after) };
  }

  async delete(id: string, guard?: ApiKeyGuard): Promise<boolean> {
    const current = this.keys.get(id);
    if (!current || !holds(current, guard)) return false;
    return this.keys.delete(id);
  }

  async ping(): Promise<boolean> {
    return true;
  }
}

function holds(r: ApiKeyRecord, guard: ApiKeyGuard | undefined): boolean {
  return (
    guard === undefined ||
    (r.maxScope.length === guard.maxScope.length && r.maxScope.every((s, i) => s === guard.maxScope[i]))
  );
}

function definedOnly<T extends Record<string, string | undefined>>(o: T): Partial<Record<keyof T, string>> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<Record<keyof T, string>>;
}

function copy(r: ApiKeyRecord): ApiKeyRecord {
  return {
    ...r,
    maxScope: [...r.maxScope],
    ...(r.rateLimits === undefined ? {} : { rateLimits: { ...r.rateLimits } }),
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
