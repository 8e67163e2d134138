import { randomUUID } from "node:crypto";
import { AppError, isDuplicateKeyError } from "@pkiserver/kit";
import type { Collection, Db } from "mongodb";
import type { Host } from "../domain/entities";
import type { HostStore } from "../domain/ports";

/**
 * `gen` names one registration of a key: a key deleted and registered again
 * gets a new one, so URL documents left behind by the old registration are
 * recognisably stale rather than silently inherited.
 */
interface HostDoc {
  _id: string;
  gen: string;
  createdAt: number;
  /**
   * The position handed to the registration's latest URL, counted up
   * atomically on each add: URL order cannot rest on wall clocks, which
   * repeat a millisecond and differ between replicas. Absent on documents
   * written before it existed; the first add sets it to 1.
   */
  urlSeq?: number;
}

/** One document per URL: `_id` is the URL, so the unique _id index is what keeps a URL on one host. */
interface HostUrlDoc {
  _id: string;
  instanceId: string;
  gen: string;
  addedAt: number;
  /** The registration's urlSeq when the URL was added; absent on older documents, which sort first. */
  order?: number;
}

export const HOSTS_COLLECTION = "hosts";
export const HOST_URLS_COLLECTION = "host_urls";

/** URLs of a registration in the order they were added. */
const URL_ORDER = { order: 1, addedAt: 1, _id: 1 } as const;

// A stale URL document is cleared before retrying; racing writers can each
// clear one, so a few rounds settle it.
const MAX_RESERVE_ATTEMPTS = 8;

/**
 * Hosts in MongoDB without multi-document transactions. The host document is
 * always written before its URL documents and removed before them, so a URL
 * document whose host registration no longer exists is left over from a
 * deletion (or an abandoned registration) and may be reclaimed.
 */
export class MongoHostStore implements HostStore {
  private readonly hosts: Collection<HostDoc>;
  private readonly urls: Collection<HostUrlDoc>;

  constructor(db: Db) {
    this.hosts = db.collection<HostDoc>(HOSTS_COLLECTION);
    this.urls = db.collection<HostUrlDoc>(HOST_URLS_COLLECTION);
  }

  static async ensureIndexes(db: Db): Promise<void> {
    await db
      .collection<HostUrlDoc>(HOST_URLS_COLLECTION)
      .createIndex({ instanceId: 1, gen: 1, addedAt: 1 }, { name: "host_urls_by_host" });
  }

  async create(hostPubKey: string, url: string): Promise<Host> {
    const doc: HostDoc = { _id: hostPubKey, gen: randomUUID(), createdAt: Date.now(), urlSeq: 1 };
    try {
      await this.hosts.insertOne(doc);
    } catch (err) {
      if (isDuplicateKeyError(err)) throw new AppError("pki.host_already_exists");
      throw err;
    }
    try {
      await this.reserve(url, doc, 1);
    } catch (err) {
      // Undo the registration; if even that fails the host merely stays without
      // a URL, and the caller should learn why the URL was refused.
      await this.hosts.deleteOne({ _id: doc._id, gen: doc.gen }).catch(() => undefined);
      throw err;
    }
    return { instanceId: hostPubKey, hostPubKey, addresses: [url] };
  }

  async addUrl(instanceId: string, url: string): Promise<Host> {
    // Takes the URL's position and finds the registration in one write.
    const doc = await this.hosts.findOneAndUpdate(
      { _id: instanceId },
      { $inc: { urlSeq: 1 } },
      { returnDocument: "after" },
    );
    if (!doc) throw new AppError("pki.host_not_found");
    await this.reserve(url, doc, doc.urlSeq ?? 1);
    return this.load(doc);
  }

  async removeUrl(instanceId: string, url: string): Promise<Host> {
    const doc = await this.requireHost(instanceId);
    const res = await this.urls.deleteOne({ _id: url, instanceId, gen: doc.gen });
    if (res.deletedCount === 0) throw new AppError("pki.host_url_not_found");
    return this.load(doc);
  }

  async delete(instanceId: string): Promise<Host> {
    const doc = await this.requireHost(instanceId);
    const host = await this.load(doc);
    const res = await this.hosts.deleteOne({ _id: instanceId, gen: doc.gen });
    if (res.deletedCount === 0) throw new AppError("pki.host_not_found");
    // Once the host document is gone its URL documents are stale; removing them
    // here frees the URLs at once, and a crash before it only delays that.
    await this.urls.deleteMany({ instanceId, gen: doc.gen });
    return host;
  }

  async get(instanceId: string): Promise<Host | undefined> {
    const doc = await this.hosts.findOne({ _id: instanceId });
    return doc ? this.load(doc) : undefined;
  }

  async findByUrl(url: string): Promise<Host | undefined> {
    const urlDoc = await this.urls.findOne({ _id: url });
    if (!urlDoc) return undefined;
    const owner = await this.hosts.findOne({ _id: urlDoc.instanceId, gen: urlDoc.gen });
    return owner ? this.load(owner) : undefined;
  }

  async list(): Promise<Host[]> {
    const [docs, urls] = await Promise.all([
      this.hosts.find().sort({ createdAt: 1, _id: 1 }).toArray(),
      this.urls.find().sort(URL_ORDER).toArray(),
    ]);
    const byHost = new Map<string, string[]>();
    for (const u of urls) {
      const key = registrationKey(u.instanceId, u.gen);
      const list = byHost.get(key) ?? [];
      list.push(u._id);
      byHost.set(key, list);
    }
    return docs.map((d) => toHost(d._id, byHost.get(registrationKey(d._id, d.gen)) ?? []));
  }

  private async requireHost(instanceId: string): Promise<HostDoc> {
    const doc = await this.hosts.findOne({ _id: instanceId });
    if (!doc) throw new AppError("pki.host_not_found");
    return doc;
  }

  private async load(doc: HostDoc): Promise<Host> {
    const urls = await this.urls.find({ instanceId: doc._id, gen: doc.gen }).sort(URL_ORDER).toArray();
    return toHost(
      doc._id,
      urls.map((u) => u._id),
    );
  }

  /** Claims `url` for the host registration `doc` through the unique _id of host_urls. */
  private async reserve(url: string, doc: HostDoc, order: number): Promise<void> {
    for (let attempt = 0; attempt < MAX_RESERVE_ATTEMPTS; attempt++) {
      try {
        await this.urls.insertOne({ _id: url, instanceId: doc._id, gen: doc.gen, addedAt: Date.now(), order });
        return;
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
      }
      const existing = await this.urls.findOne({ _id: url });
      if (!existing) continue;
      if (existing.instanceId === doc._id && existing.gen === doc.gen) throw new AppError("pki.host_url_exists");
      const owner = await this.hosts.findOne({ _id: existing.instanceId, gen: existing.gen });
      if (owner) throw new AppError("pki.host_url_reserved");
      // Conditional on the stale registration, so it never removes a fresh claim.
      await this.urls.deleteOne({ _id: url, instanceId: existing.instanceId, gen: existing.gen });
    }
    throw new AppError("rpc.internal", { internal: `could not claim host URL after ${MAX_RESERVE_ATTEMPTS} attempts` });
  }
}

function registrationKey(instanceId: string, gen: string): string {
  return `${instanceId}\n${gen}`;
}

function toHost(instanceId: string, addresses: string[]): Host {
  return { instanceId, hostPubKey: instanceId, addresses };
}
