import type { Host } from "./entities";
import type { PkiDeps } from "./ports";
import { checkHostUrl, checkPubKey } from "./validation";

export async function removeHostUrl(deps: PkiDeps, input: { instanceId: string; hostUrl: string }): Promise<Host> {
  const instanceId = checkPubKey("instanceId", input.instanceId);
  const hostUrl = checkHostUrl(input.hostUrl);
  const host = await deps.hosts.removeUrl(instanceId, hostUrl);
  await deps.events.hostChanged(host, deps.clock.now(), { kind: "url_removed", url: hostUrl });
  return host;
}
