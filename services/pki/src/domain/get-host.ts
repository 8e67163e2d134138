import { AppError, invalidParams } from "@pkiserver/kit/core";
import type { Host } from "./entities";
import type { PkiDeps } from "./ports";
import { checkHostUrl, checkPubKey } from "./validation";

/** Finds a host by instanceId, by URL, or by both (both must then match). */
export async function getHost(deps: PkiDeps, input: { instanceId?: string; hostUrl?: string }): Promise<Host> {
  if (input.instanceId === undefined && input.hostUrl === undefined) {
    throw invalidParams("Expected at least one of 'instanceId', 'hostUrl'");
  }
  const instanceId = input.instanceId === undefined ? undefined : checkPubKey("instanceId", input.instanceId);
  const hostUrl = input.hostUrl === undefined ? undefined : checkHostUrl(input.hostUrl);
  const host = instanceId !== undefined ? await deps.hosts.get(instanceId) : await deps.hosts.findByUrl(hostUrl ?? "");
  if (!host || (hostUrl !== undefined && !host.addresses.includes(hostUrl))) {
    throw new AppError("pki.host_not_found_by_filter");
  }
  return host;
}
