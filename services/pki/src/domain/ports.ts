import type { Host, KeyEntry, KeyRecord, KeyRef } from "./entities";

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * Host identities. A URL belongs to at most one host; adapters enforce it with
 * the store's own uniqueness, never by reading first, and report conflicts as
 * AppErrors with the pki codes named below.
 */
export interface HostStore {
  /** `pki.host_already_exists` when the key is registered, `pki.host_url_reserved` when the URL is used. */
  create(hostPubKey: string, url: string): Promise<Host>;
  /** `pki.host_not_found`, `pki.host_url_exists` (on this host), `pki.host_url_reserved` (on another). */
  addUrl(instanceId: string, url: string): Promise<Host>;
  /** `pki.host_not_found`, `pki.host_url_not_found`. */
  removeUrl(instanceId: string, url: string): Promise<Host>;
  /** Returns the host as it was; `pki.host_not_found`. */
  delete(instanceId: string): Promise<Host>;
  get(instanceId: string): Promise<Host | undefined>;
  findByUrl(url: string): Promise<Host | undefined>;
  list(): Promise<Host[]>;
}

/**
 * Append-only user-key histories. `append` decides the next entry from the
 * newest record and writes it as seq = last.seq + 1 with
 * createDate = max(now, last.createDate + 1); when another writer took that
 * seq first it reads again and asks `next` again, so `next` always judges the
 * record its entry will follow. `next` throws to refuse the write.
 */
export interface KeyHistoryStore {
  append(ref: KeyRef, next: (last: KeyRecord | undefined) => KeyEntry, clock: Clock): Promise<KeyRecord>;
  latest(ref: KeyRef): Promise<KeyRecord | undefined>;
  /** The newest record with createDate <= date. */
  at(ref: KeyRef, date: number): Promise<KeyRecord | undefined>;
  /** Newest first. */
  history(ref: KeyRef): Promise<KeyRecord[]>;
}

/** Change notifications, sent after the write they report has succeeded. */
export interface PkiEvents {
  hostRegistered(host: Host, at: number): Promise<void>;
  /** `change` says which address was added or removed (for the audit log). */
  hostChanged(host: Host, at: number, change?: { kind: "url_added" | "url_removed"; url: string }): Promise<void>;
  hostDeleted(host: Host, at: number): Promise<void>;
  userKeySet(record: KeyRecord): Promise<void>;
  userKeyDeleted(record: KeyRecord): Promise<void>;
}

/** Everything the use cases need. */
export interface PkiDeps {
  readonly hosts: HostStore;
  readonly keys: KeyHistoryStore;
  readonly events: PkiEvents;
  readonly clock: Clock;
}
