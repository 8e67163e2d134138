import type { Host, KeyEntry, KeyRecord, KeyRef } from "../domain/entities";
import type { Clock, HostStore, KeyHistoryStore } from "../domain/ports";
import type { TransparencyLog } from "../domain/transparency";
import type { PkiStores } from "./stores";

/**
 * Wraps the stores so every committed change is appended to the transparency log before the
 * write returns: the use cases and the stores themselves stay unaware of the log.
 */
export function withTransparencyLog(stores: PkiStores, log: TransparencyLog, clock: Clock): PkiStores {
  return { hosts: new LoggedHostStore(stores.hosts, log, clock), keys: new LoggedKeyHistoryStore(stores.keys, log) };
}

class LoggedHostStore implements HostStore {
  constructor(
    private readonly inner: HostStore,
    private readonly log: TransparencyLog,
    private readonly clock: Clock,
  ) {}

  private async logged(host: Host, deleted = false): Promise<Host> {
    await this.log.appendHostChange(host, deleted, this.clock.now());
    return host;
  }

  async create(hostPubKey: string, url: string): Promise<Host> {
    return this.logged(await this.inner.create(hostPubKey, url));
  }
  async addUrl(instanceId: string, url: string): Promise<Host> {
    return this.logged(await this.inner.addUrl(instanceId, url));
  }
  async removeUrl(instanceId: string, url: string): Promise<Host> {
    return this.logged(await this.inner.removeUrl(instanceId, url));
  }
  async delete(instanceId: string): Promise<Host> {
    return this.logged(await this.inner.delete(instanceId), true);
  }
  get(instanceId: string): Promise<Host | undefined> {
    return this.inner.get(instanceId);
  }
  findByUrl(url: string): Promise<Host | undefined> {
    return this.inner.findByUrl(url);
  }
  list(): Promise<Host[]> {
    return this.inner.list();
  }
}

class LoggedKeyHistoryStore implements KeyHistoryStore {
  constructor(
    private readonly inner: KeyHistoryStore,
    private readonly log: TransparencyLog,
  ) {}

  async append(ref: KeyRef, next: (last: KeyRecord | undefined) => KeyEntry, clock: Clock): Promise<KeyRecord> {
    const record = await this.inner.append(ref, next, clock);
    await this.log.appendKeyRecord(record);
    return record;
  }
  latest(ref: KeyRef): Promise<KeyRecord | undefined> {
    return this.inner.latest(ref);
  }
  at(ref: KeyRef, date: number): Promise<KeyRecord | undefined> {
    return this.inner.at(ref, date);
  }
  history(ref: KeyRef): Promise<KeyRecord[]> {
    return this.inner.history(ref);
  }
}
