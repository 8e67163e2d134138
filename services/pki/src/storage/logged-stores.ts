import type { Host, KeyEntry, KeyRecord, KeyRef } from "../domain/entities";
import type { Clock, HostStore, KeyHistoryStore } from "../domain/ports";
import type { TransparencyLog } from "../domain/transparency";
import type { PkiStores } from "./stores";

/**
 * Wraps the stores so every committed change is appended to the transparency log before the
 * write returns: the use cases and the stores themselves stay unaware of the log.
 */
export function withTransparencyLog(stores: PkiStores, log: TransparencyLog, clock: Clock): PkiStores {
  return {
    hosts: new LoggedHostStore(stores.hosts, log, clock),
    // Without appendKeyRecord the key store writes each record's log intent with the record.
    keys: log.appendKeyRecord === undefined ? stores.keys : new LoggedKeyHistoryStore(stores.keys, log),
  };
}

class LoggedHostStore implements HostStore {
  constructor(
    private readonly inner: HostStore,
    private readonly log: TransparencyLog,
    private readonly clock: Clock,
  ) {}

  private readonly now = () => this.clock.now();

  create(hostPubKey: string, url: string): Promise<Host> {
    return this.log.logHostChange(false, hostPubKey, () => this.inner.create(hostPubKey, url), this.now);
  }
  addUrl(instanceId: string, url: string): Promise<Host> {
    return this.log.logHostChange(false, instanceId, () => this.inner.addUrl(instanceId, url), this.now);
  }
  removeUrl(instanceId: string, url: string): Promise<Host> {
    return this.log.logHostChange(false, instanceId, () => this.inner.removeUrl(instanceId, url), this.now);
  }
  delete(instanceId: string): Promise<Host> {
    return this.log.logHostChange(true, instanceId, () => this.inner.delete(instanceId), this.now);
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

  /**
   * Hands each record to the log as its write resolves: writes resolve in the order they
   * committed and a history's records in seq order, and nothing runs in between.
   */
  private readonly logRecord = (record: KeyRecord): KeyRecord => {
    this.log.appendKeyRecord!(record);
    return record;
  };

  append(ref: KeyRef, next: (last: KeyRecord | undefined) => KeyEntry, clock: Clock): Promise<KeyRecord> {
    return this.inner.append(ref, next, clock).then(this.logRecord);
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
