import { AppError } from "@pkiserver/kit";
import type { ApiKeyRecord } from "../domain/api-key";
import type { ApiKeyGuard, ApiKeyPatch, ApiKeyStore } from "../domain/ports";

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

function copy(r: ApiKeyRecord): ApiKeyRecord {
  return { ...r, maxScope: [...r.maxScope] };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
