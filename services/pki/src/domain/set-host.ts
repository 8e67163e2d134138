import type { PkiDeps } from "./ports";
import { checkHostUrl, checkPubKey } from "./validation";

/** Registers a host with its first URL; returns its instanceId (the key itself). */
export async function setHost(deps: PkiDeps, input: { hostPubKey: string; hostUrl: string }): Promise<string> {
  const hostPubKey = checkPubKey("hostPubKey", input.hostPubKey);
  const hostUrl = checkHostUrl(input.hostUrl);
  const host = await deps.hosts.create(hostPubKey, hostUrl);
  await deps.events.hostRegistered(host, deps.clock.now());
  return host.instanceId;
}
