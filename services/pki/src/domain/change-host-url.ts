import type { Host } from "./entities";
import type { PkiDeps } from "./ports";
import { checkHostUrl, checkPubKey } from "./validation";

/** pkiAdmin/addHostUrl and pkiAdmin/removeHostUrl: one URL of a host added or removed, and announced. */
export async function changeHostUrl(
  deps: PkiDeps,
  input: { instanceId: string; hostUrl: string },
  kind: "url_added" | "url_removed",
): Promise<Host> {
  const instanceId = checkPubKey("instanceId", input.instanceId);
  const hostUrl = checkHostUrl(input.hostUrl);
  const host =
    kind === "url_added"
      ? await deps.hosts.addUrl(instanceId, hostUrl)
      : await deps.hosts.removeUrl(instanceId, hostUrl);
  await deps.events.hostChanged(host, deps.clock.now(), { kind, url: hostUrl });
  return host;
}
