import type { PkiDeps } from "./ports";
import { checkHostUrl, checkPubKey } from "./validation";

/** True iff the host exists and has the URL. */
export async function verifyHostById(deps: PkiDeps, input: { instanceId: string; hostUrl: string }): Promise<boolean> {
  const instanceId = checkPubKey("instanceId", input.instanceId);
  const hostUrl = checkHostUrl(input.hostUrl);
  const host = await deps.hosts.get(instanceId);
  return host?.addresses.includes(hostUrl) ?? false;
}
