import { AppError } from "@pkiserver/kit";
import type { Host } from "../domain/entities";
import type { HostStore } from "../domain/ports";

/** In-process hosts. Every method runs without awaiting, so each is atomic. */
export class MemoryHostStore implements HostStore {
  private readonly hosts = new Map<string, string[]>();
  /** URL → owning instanceId: the uniqueness the Mongo adapter gets from host_urls' _id. */
  private readonly urlOwner = new Map<string, string>();

  async create(hostPubKey: string, url: string): Promise<Host> {
    if (this.hosts.has(hostPubKey)) throw new AppError("pki.host_already_exists");
    if (this.urlOwner.has(url)) throw new AppError("pki.host_url_reserved");
    this.hosts.set(hostPubKey, [url]);
    this.urlOwner.set(url, hostPubKey);
    return snapshot(hostPubKey, [url]);
  }

  async addUrl(instanceId: string, url: string): Promise<Host> {
    const addresses = this.hosts.get(instanceId);
    if (!addresses) throw new AppError("pki.host_not_found");
    const owner = this.urlOwner.get(url);
    if (owner === instanceId) throw new AppError("pki.host_url_exists");
    if (owner !== undefined) throw new AppError("pki.host_url_reserved");
    addresses.push(url);
    this.urlOwner.set(url, instanceId);
    return snapshot(instanceId, addresses);
  }

  async removeUrl(instanceId: string, url: string): Promise<Host> {
    const addresses = this.hosts.get(instanceId);
    if (!addresses) throw new AppError("pki.host_not_found");
    const i = addresses.indexOf(url);
    if (i < 0) throw new AppError("pki.host_url_not_found");
    addresses.splice(i, 1);
    this.urlOwner.delete(url);
    return snapshot(instanceId, addresses);
  }

  async delete(instanceId: string): Promise<Host> {
    const addresses = this.hosts.get(instanceId);
    if (!addresses) throw new AppError("pki.host_not_found");
    this.hosts.delete(instanceId);
    for (const url of addresses) this.urlOwner.delete(url);
    return snapshot(instanceId, addresses);
  }

  async get(instanceId: string): Promise<Host | undefined> {
    const addresses = this.hosts.get(instanceId);
    return addresses ? snapshot(instanceId, addresses) : undefined;
  }

  async findByUrl(url: string): Promise<Host | undefined> {
    const owner = this.urlOwner.get(url);
    return owner === undefined ? undefined : this.get(owner);
  }

  async list(): Promise<Host[]> {
    return [...this.hosts].map(([id, addresses]) => snapshot(id, addresses));
  }
}

function snapshot(instanceId: string, addresses: readonly string[]): Host {
  return { instanceId, hostPubKey: instanceId, addresses: [...addresses] };
}
